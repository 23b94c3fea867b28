import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    cli: 'cli/main.ts',
    'bench/e2e': 'bench/e2e.ts',
    'bench/gateway': 'bench/gateway.ts',
    'bench/pool': 'bench/pool.ts',
    'bench/store': 'bench/store.ts',
  },
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  clean: true,
  // Native and CommonJS packages stay external: node_modules is present wherever this runs.
  external: ['uWebSockets.js', 'dockerode', 'ws', 'lowdb', 'valibot', 'tar-stream'],
});
