import { defineConfig } from 'vitest/config';

// Two projects. `unit`: every test beside the code that needs no Docker engine (logic on plain
// data, real sockets on loopback at most) — `npm run test:unit`, seconds. `docker`: tests that
// drive a real engine (`*.docker.test.ts` beside the code) and the end-to-end suites in `test/`.
// `npm test` runs both.
const unit = [
  'shared/**/*.test.ts',
  'gateway/**/*.test.ts',
  'runner/**/*.test.ts',
  'donor/**/*.test.ts',
  'desktop/**/*.test.ts',
  'cli/**/*.test.ts',
  'bench/**/*.test.ts',
  'scripts/**/*.test.ts',
  'playground/**/*.test.ts',
  'admin/**/*.test.ts',
  'docs/**/*.test.ts',
];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: unit,
          exclude: ['**/*.docker.test.ts', '**/*.browser.test.ts', '**/node_modules/**'],
          testTimeout: 20_000,
          // Worker threads, and modules shared between the files of a worker: the code keeps no
          // module-level state (state lives on instances), so nothing leaks between files, and the
          // run takes ~11 s instead of ~33 s on the 2-core machine.
          pool: 'threads',
          isolate: false,
        },
      },
      {
        test: {
          name: 'docker',
          include: ['**/*.docker.test.ts', 'test/**/*.test.ts', '**/*.browser.test.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // End-to-end files share one Docker engine on a 2-core machine: run files one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
