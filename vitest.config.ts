import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['shared/**/*.test.ts', 'gateway/**/*.test.ts', 'runner/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // End-to-end files share one Docker engine on a 2-core machine: run files one at a time.
    fileParallelism: false,
  },
});
