// The gateway's web pages: the playground at `/` and the operator's dashboard at `/admin`, each a
// folder built by tsup into dist-web/ (tsup.config.ts: HTML, one bundled script, one stylesheet;
// nothing from a CDN). The pages are open: what they do, they do through the API, with the key the
// user gives them. Files are read once and kept; a page that was never built answers 404 saying so.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CodeexecError } from '../../shared/index.js';
import type { HttpResponse } from '../transport/transport.js';
import type { Route } from './router.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
  '.json': 'application/json',
};

/**
 * Scripts and styles from the gateway only; sockets back to it. CodeMirror writes its theme into
 * <style> elements, hence 'unsafe-inline' for styles (never for scripts).
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Where `npm run build` puts the pages: dist-web/ at the package's root. */
export function defaultWebRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'dist-web');
}

/** One page: its index at `path`, its other files at `path/<file>`. */
interface Page {
  name: 'playground' | 'admin';
  path: string;
}

const PAGES: readonly Page[] = [
  { name: 'playground', path: '/' },
  { name: 'admin', path: '/admin' },
];

export function webPageRoutes(root: string): Route[] {
  const cache = new Map<string, Promise<HttpResponse>>();
  const serve = (page: Page, file: string): Promise<HttpResponse> => {
    const key = `${page.name}/${file}`;
    let response = cache.get(key);
    if (response === undefined) {
      response = load(root, page, file);
      cache.set(key, response);
      // Only what loaded stays: a page built after the gateway started is served once it exists.
      response.catch(() => cache.delete(key));
    }
    return response;
  };
  return PAGES.flatMap((page) => {
    const assets = page.path === '/' ? `/${page.name}` : page.path;
    return [
      {
        method: 'GET',
        path: page.path,
        open: true,
        // The pages link their files relatively (a proxy may mount the gateway under a prefix), so
        // `/admin/` would load `/admin/admin/…`: send it to `/admin`, relatively too.
        handle: async ({ req }) =>
          req.path.endsWith('/') && page.path !== '/'
            ? { status: 308, headers: { location: `../${page.name}` }, body: '' }
            : serve(page, 'index.html'),
      },
      {
        method: 'GET',
        path: `${assets}/:file`,
        open: true,
        handle: ({ params }) => serve(page, params.file ?? ''),
      },
    ] satisfies Route[];
  });
}

async function load(root: string, page: Page, file: string): Promise<HttpResponse> {
  const type = TYPES[file.slice(file.lastIndexOf('.'))];
  // One path segment from the router; still, only plain names of known types are files here.
  if (type === undefined || !/^[\w.-]+$/.test(file) || file.startsWith('.')) {
    throw new CodeexecError('not_found', `No file ${file} in the ${page.name} page`);
  }
  let body: string;
  try {
    body = await readFile(join(root, page.name, file), 'utf8');
  } catch {
    if (file !== 'index.html')
      throw new CodeexecError('not_found', `No file ${file} in the ${page.name} page`);
    throw new CodeexecError(
      'not_found',
      `The ${page.name} page is not built (no ${join(root, page.name, file)}): run \`npm run build\``,
    );
  }
  const headers: Record<string, string> = {
    'content-type': type,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    // Pages and bundles change with each build and are small: revalidate rather than go stale.
    'cache-control': 'no-cache',
  };
  if (file === 'index.html') headers['content-security-policy'] = CSP;
  return { status: 200, headers, body };
}
