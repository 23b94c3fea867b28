// The gateway's web pages: the playground at `/` and the operator's dashboard at `/admin`, each a
// folder built by tsup into dist-web/ (tsup.config.ts: HTML, one bundled script, one stylesheet;
// nothing from a CDN). The pages are open: what they do, they do through the API, with the key the
// user gives them. Files are read once and kept; a page that was never built answers 404 saying so.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { CodeexecError } from '../../shared/index.js';
import type { HttpRequest, HttpResponse } from '../transport/transport.js';
import type { Route } from './router.js';

const gzipped = promisify(gzip);

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

/** A page's file, read once: its bytes, gzipped once, and a tag for revalidation. */
interface StaticFile {
  headers: Record<string, string>;
  body: Buffer;
  gzipped: Buffer;
  etag: string;
}

export function webPageRoutes(root: string): Route[] {
  const cache = new Map<string, Promise<StaticFile>>();
  const serve = async (page: Page, file: string, req: HttpRequest): Promise<HttpResponse> => {
    const key = `${page.name}/${file}`;
    let loading = cache.get(key);
    if (loading === undefined) {
      loading = load(root, page, file);
      cache.set(key, loading);
      // Only what loaded stays: a page built after the gateway started is served once it exists.
      loading.catch(() => cache.delete(key));
    }
    return respond(await loading, req);
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
            : serve(page, 'index.html', req),
      },
      {
        method: 'GET',
        path: `${assets}/:file`,
        open: true,
        handle: ({ params, req }) => serve(page, params.file ?? '', req),
      },
    ] satisfies Route[];
  });
}

/** 304 when the browser has it; gzipped when it takes gzip (the playground's bundle: 860 → ~300 KB). */
function respond(file: StaticFile, req: HttpRequest): HttpResponse {
  const headers = { ...file.headers, etag: file.etag, vary: 'accept-encoding' };
  const known = req.headers['if-none-match'];
  if (known?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === file.etag)) {
    return { status: 304, headers, body: '' };
  }
  if (/\bgzip\b/i.test(req.headers['accept-encoding'] ?? '')) {
    return { status: 200, headers: { ...headers, 'content-encoding': 'gzip' }, body: file.gzipped };
  }
  return { status: 200, headers, body: file.body };
}

async function load(root: string, page: Page, file: string): Promise<StaticFile> {
  const type = TYPES[file.slice(file.lastIndexOf('.'))];
  // One path segment from the router; still, only plain names of known types are files here.
  if (type === undefined || !/^[\w.-]+$/.test(file) || file.startsWith('.')) {
    throw new CodeexecError('not_found', `No file ${file} in the ${page.name} page`);
  }
  let body: Buffer;
  try {
    body = await readFile(join(root, page.name, file));
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
    // Pages and bundles change with each build: revalidate (a 304 when unchanged) rather than go stale.
    'cache-control': 'no-cache',
  };
  if (file === 'index.html') headers['content-security-policy'] = CSP;
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  return { headers, body, gzipped: await gzipped(body), etag };
}
