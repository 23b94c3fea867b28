import { describe, expect, it } from 'vitest';
import { CodeexecError, type Logger, silentLogger } from '../../shared/index.js';
import { FakeClock } from '../scheduling/clock.js';
import type { HttpHandler } from '../transport/transport.js';
import { ClientAuth } from './client-auth.js';
import { RateLimits } from './rate-limits.js';
import { createRouter, json, type Route } from './router.js';

const routes: Route[] = [
  { method: 'GET', path: '/execute/:id/status', handle: async ({ params }) => json(200, params) },
  { method: 'POST', path: '/submit', submits: true, handle: async ({ client }) => json(200, { client }) },
  {
    method: 'POST',
    path: '/api/v2/execute',
    queryKey: true,
    errorBody: (err) => ({ message: err.message }),
    handle: async ({ client }) => json(200, { client }),
  },
  {
    method: 'GET',
    path: '/broken',
    handle: async () => {
      throw new Error('a bug');
    },
  },
];

function request(
  http: HttpHandler,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  remoteAddress = '127.0.0.1',
) {
  const url = new URL(target, 'http://gateway');
  return http(
    { method, path: url.pathname, query: url.searchParams, headers, body: Buffer.alloc(0), remoteAddress },
    new AbortController().signal,
  ).then((res) => ({ ...res, json: JSON.parse(String(res.body)) }));
}

describe('router: paths', () => {
  const http = createRouter(routes, silentLogger, new ClientAuth([]));

  it('decodes a percent-encoded parameter', async () => {
    expect((await request(http, 'GET', '/execute/a%20b/status')).json).toEqual({ id: 'a b' });
  });

  it.each([['/execute/%/status'], ['/execute/%E0%A4%A/status'], ['/execute/%ZZ/status']])(
    'answers %s, not valid percent-encoding, with 404 (not a 500)',
    async (path) => {
      const res = await request(http, 'GET', path);
      expect(res.status).toBe(404);
      expect(res.json.error.code).toBe('not_found');
    },
  );
});

describe('router: keys in the query', () => {
  const lines: string[] = [];
  const capture: Logger = {
    ...silentLogger,
    error: (...args: unknown[]) => {
      lines.push(JSON.stringify(args));
    },
  };
  const http = createRouter(routes, capture, new ClientAuth(['piston-key']));

  it('takes ?key= on a route that allows it, answering errors in its own shape', async () => {
    const ok = await request(http, 'POST', '/api/v2/execute?key=piston-key');
    expect(ok.json.client).toMatch(/^key:/);
    const wrong = await request(http, 'POST', '/api/v2/execute?key=nope');
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual({ message: 'The API key is not valid' });
  });

  it('ignores ?key= elsewhere', async () => {
    expect((await request(http, 'POST', '/submit?key=piston-key')).status).toBe(401);
  });

  it('never logs the query, where a key may be', async () => {
    const res = await request(http, 'GET', '/broken?key=piston-key', { authorization: 'Bearer piston-key' });
    expect(res.status).toBe(500);
    expect(lines.join('\n')).toContain('request failed');
    expect(lines.join('\n')).not.toContain('piston-key');
  });
});

describe('router: rate limits', () => {
  it('counts submissions per client, says what is left, and refuses past the burst with Retry-After', async () => {
    const clock = new FakeClock();
    const http = createRouter(
      routes,
      silentLogger,
      new ClientAuth([]),
      new RateLimits({ perMinute: 60, burst: 2 }, clock),
    );
    const first = await request(http, 'POST', '/submit', {}, '203.0.113.7');
    expect(first.headers).toMatchObject({ 'ratelimit-limit': '2', 'ratelimit-remaining': '1' });
    await request(http, 'POST', '/submit', {}, '203.0.113.7');
    const refused = await request(http, 'POST', '/submit', {}, '203.0.113.7');
    expect(refused.status).toBe(429);
    expect(refused.json.error.code).toBe('rate_limited');
    expect(refused.headers?.['retry-after']).toBe('1');
    // Another client has its own bucket; time refills this one.
    expect((await request(http, 'POST', '/submit', {}, '198.51.100.9')).status).toBe(200);
    clock.advance(1_000);
    expect((await request(http, 'POST', '/submit', {}, '203.0.113.7')).status).toBe(200);
  });

  it('is off without limits', async () => {
    const http = createRouter(routes, silentLogger, new ClientAuth([]));
    for (let i = 0; i < 5; i++) expect((await request(http, 'POST', '/submit')).status).toBe(200);
  });

  it('keeps CodeexecError answers intact', () => {
    expect(new CodeexecError('rate_limited').status).toBe(429);
  });
});
