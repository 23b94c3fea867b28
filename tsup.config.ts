import { cp } from 'node:fs/promises';
import { defineConfig, type Options } from 'tsup';

const server: Options = {
  entry: {
    cli: 'cli/main.ts',
    'bench/e2e': 'bench/e2e.ts',
    'bench/gateway': 'bench/gateway.ts',
    'bench/gateways': 'bench/gateways.ts',
    'bench/pool': 'bench/pool.ts',
    'bench/store': 'bench/store.ts',
  },
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  outDir: 'dist',
  sourcemap: true,
  clean: true,
  // Native and CommonJS packages stay external: node_modules is present wherever this runs.
  external: [
    'uWebSockets.js',
    'dockerode',
    'ws',
    'lowdb',
    'valibot',
    'tar-stream',
    'prom-client',
    'pino',
    'pino-pretty',
    'pg',
    'node-pg-migrate',
  ],
  // The PostgreSQL store's migrations are SQL files that node-pg-migrate reads at run time:
  // gateway/store/postgres/migrate.ts finds them in dist/postgres-migrations.
  onSuccess: async () => {
    await cp('gateway/store/postgres/migrations', 'dist/postgres-migrations', { recursive: true });
  },
};

// The desktop app (docs/desktop.md) builds into dist-desktop/, one directory per part, each
// cleaned by its own build: tsup runs the configs at once, and a clean of dist/ must not race them.
const desktopTarget = 'chrome120'; // Electron 34's Chromium is 132

// The windows: classic scripts (no inline code: the pages' CSP allows 'self' only), the HTML
// and the stylesheet copied beside them. Exported: the pages' browser test builds with it.
export const desktopPages: Options = {
  name: 'desktop-pages',
  entry: {
    'status-page': 'desktop/pages/status-page.ts',
    'settings-page': 'desktop/pages/settings-page.ts',
    status: 'desktop/pages/status.html',
    settings: 'desktop/pages/settings.html',
    desktop: 'desktop/pages/desktop.css',
  },
  outDir: 'dist-desktop/pages',
  format: ['iife'],
  outExtension: () => ({ js: '.js' }),
  platform: 'browser',
  target: desktopTarget,
  loader: { '.html': 'copy' },
  noExternal: ['valibot'],
  clean: true,
};

const desktop: Options[] = [
  {
    name: 'desktop-main',
    entry: { main: 'desktop/main.ts' },
    outDir: 'dist-desktop/main',
    format: ['esm'],
    platform: 'node',
    target: 'node20', // Electron 34 runs Node 20
    sourcemap: true,
    clean: true,
    external: [
      'electron',
      'uWebSockets.js',
      'dockerode',
      'ws',
      'lowdb',
      'valibot',
      'tar-stream',
      'pino',
      'pino-pretty',
    ],
  },
  {
    // A sandboxed preload is a CommonJS script that may require('electron') and nothing else.
    name: 'desktop-preload',
    entry: { preload: 'desktop/preload.ts' },
    outDir: 'dist-desktop/preload',
    format: ['cjs'],
    platform: 'node',
    target: desktopTarget,
    clean: true,
    external: ['electron'],
  },
  desktopPages,
];

// The gateway's web pages (gateway/http/web-pages.ts serves dist-web/<page>/): a classic script
// with every library bundled in (nothing from a CDN), the HTML copied, one stylesheet. Exported:
// the pages' browser tests build with them.
const webPage = (name: 'playground' | 'admin'): Options => ({
  name: `web-${name}`,
  entry: {
    main: `${name}/src/main.ts`,
    index: `${name}/index.html`,
    [name]: `${name}/${name}.css`,
  },
  outDir: `dist-web/${name}`,
  format: ['iife'],
  outExtension: () => ({ js: '.js' }),
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  loader: { '.html': 'copy' },
  noExternal: [/.*/],
  clean: true,
});
export const webPages: Options[] = [webPage('playground'), webPage('admin')];

export default defineConfig([server, ...desktop, ...webPages]);
