import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/index.js';
import type { HttpHandler } from '../transport/transport.js';
import { ClientAuth } from './client-auth.js';
import { createRouter } from './router.js';
import { webPageRoutes } from './web-pages.js';

let root: string;
let http: HttpHandler;
const get = async (path: string, headers: Record<string, string> = {}) => {
  const response = await http(
    {
      method: 'GET',
      path,
      query: new URLSearchParams(),
      headers,
      body: Buffer.alloc(0),
      remoteAddress: '10.1.2.3',
    },
    new AbortController().signal,
  );
  return { ...response, body: Buffer.from(response.body) };
};
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'codeexec-web-'));
  await mkdir(join(root, 'playground'));
  await writeFile(join(root, 'playground', 'index.html'), '<!doctype html><title>play</title>');
  await writeFile(join(root, 'playground', 'main.js'), 'console.log(1)');
  await writeFile(join(root, 'playground', 'secret.txt'), 'not served');
  // With API keys, the pages still load: they ask for the key and use it against the API.
  http = createRouter(webPageRoutes(root), silentLogger, new ClientAuth(['some-key']));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('web pages', () => {
  it('serves the playground at / with a CSP, and its script beside it', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.body.toString()).toContain('<title>play</title>');
    expect(page.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': expect.stringContaining("script-src 'self'"),
      'x-content-type-options': 'nosniff',
    });
    const script = await get('/playground/main.js');
    expect(script.status).toBe(200);
    expect(script.headers?.['content-type']).toMatch(/^text\/javascript/);
  });

  it.each([
    ['/playground/secret.txt'],
    ['/playground/.hidden.js'],
    ['/playground/..%2Fplayground%2Fmain.js'],
  ])('answers 404 for %s (only plain names of known types)', async (path) => {
    expect((await get(path)).status).toBe(404);
  });

  it('says a page that was not built must be built, and serves it once it is', async () => {
    const missing = await get('/admin');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body.toString()).error.message).toMatch(
      /admin page is not built.*npm run build/,
    );
    await mkdir(join(root, 'admin'));
    await writeFile(join(root, 'admin', 'index.html'), '<title>admin</title>');
    expect((await get('/admin')).body.toString()).toContain('admin');
  });

  it('sends /admin/ to /admin, relatively, so its relative links resolve', async () => {
    expect(await get('/admin/')).toMatchObject({ status: 308, headers: { location: '../admin' } });
  });

  it('gzips for a browser that takes it, and answers 304 for the copy it has', async () => {
    const plain = await get('/playground/main.js');
    const zipped = await get('/playground/main.js', { 'accept-encoding': 'gzip, deflate, br' });
    expect(zipped.headers).toMatchObject({ 'content-encoding': 'gzip', vary: 'accept-encoding' });
    expect(gunzipSync(zipped.body).toString()).toBe('console.log(1)');
    expect(plain.headers?.['content-encoding']).toBeUndefined();
    const etag = plain.headers?.etag ?? '';
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await get('/playground/main.js', { 'if-none-match': `W/${etag}` });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect((await get('/playground/main.js', { 'if-none-match': '"stale"' })).status).toBe(200);
  });
});
