// End to end: rate limits per API key (CODEEXEC_RATE_LIMIT 3 a minute, bursts of 3) over REST,
// the client socket and Piston's routes, and Piston's `?key=`. No runner: what is accepted waits
// in the queue (queue_timeout_ms), and the limit is met before any runner would be asked.
import { beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from './helpers.js';
import { OpenApiChecker } from './openapi-check.js';
import { TestSocket } from './ws-client.js';

const keys = {
  rest: 'rate-key-rest-0123456789',
  other: 'rate-key-other-0123456789',
  socket: 'rate-key-socket-0123456789',
  piston: 'rate-key-piston-0123456789',
  pistonSocket: 'rate-key-piston-ws-0123456789',
};
const job = { lang: 'python', code: 'print(1)', queue_timeout_ms: 60_000 };
let url: string;
let api: OpenApiChecker;

beforeAll(async () => {
  const gw = await startGateway({
    apiKeys: Object.values(keys),
    rateLimit: { perMinute: 3, burst: 3 },
    queueTimeoutMs: 60_000,
  });
  url = gw.url;
  api = await OpenApiChecker.load(url);
});

async function submit(key: string) {
  const response = await fetch(`${url}/execute/async`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(job),
  });
  // biome-ignore lint/suspicious/noExplicitAny: checked against the OpenAPI document just below
  const body = (await response.json()) as any;
  api.check('POST', '/execute/async', response.status, body);
  return { status: response.status, body, headers: response.headers };
}

describe('rate limits per API key', () => {
  it('counts down in RateLimit fields; the 4th submission in a minute is 429 rate_limited', async () => {
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await submit(keys.rest));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 429]);
    expect(answers.map((a) => a.headers.get('ratelimit-remaining'))).toEqual(['2', '1', '0', '0']);
    for (const answer of answers) {
      expect(answer.headers.get('ratelimit-limit')).toBe('3');
      expect(answer.headers.get('ratelimit-policy')).toBe('3;w=60');
      expect(Number(answer.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
    }
    const refused = answers[3]!;
    expect(refused.body.error).toMatchObject({
      code: 'rate_limited',
      details: { scope: 'submissions', limit: 3, per_minute: 3 },
    });
    // One token comes back every 20 s.
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(19);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(20);
    // The operator sees refusals in the metrics (loopback reads /metrics without an admin key).
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const counted = /^codeexec_rate_limited_total\{scope="submissions"\} (\d+)$/m.exec(metrics);
    expect(Number(counted?.[1])).toBeGreaterThanOrEqual(1);
    // Reading is not submitting.
    const list = await fetch(`${url}/execute`, { headers: { authorization: `Bearer ${keys.rest}` } });
    expect(list.status).toBe(200);
  });

  it('leaves another key its own budget', async () => {
    const other = await submit(keys.other);
    expect(other.status).toBe(202);
    expect(other.headers.get('ratelimit-remaining')).toBe('2');
  });

  it('limits the client socket: execute and session_open answer an error frame past the limit', async () => {
    const socket = await TestSocket.open(`${url}/execute/ws`, { authorization: `Bearer ${keys.socket}` });
    for (const id of ['a', 'b', 'c']) {
      socket.send({ type: 'execute', id, ...job });
      expect(await socket.next((f) => f.id === id)).toMatchObject({ type: 'accepted', id });
    }
    socket.send({ type: 'execute', id: 'd', ...job });
    const refused = await socket.next((f) => f.id === 'd');
    expect(refused).toMatchObject({
      type: 'error',
      code: 'rate_limited',
      details: { scope: 'submissions', retry_after_ms: expect.any(Number) },
    });
    expect(refused.details.retry_after_ms).toBeGreaterThan(19_000);
    socket.send({ type: 'session_open', id: 's', lang: 'python' });
    expect(await socket.next((f) => f.id === 's')).toMatchObject({ type: 'error', code: 'rate_limited' });
    socket.ws.close();
  });
});

describe("Piston's routes take ?key=", () => {
  it('GET /api/v2/runtimes with ?key= is let in; a wrong ?key= is 401 in Piston words', async () => {
    const ok = await fetch(`${url}/api/v2/runtimes?key=${keys.piston}`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual([]);
    const wrong = await fetch(`${url}/api/v2/runtimes?key=not-a-key`);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await wrong.json()).toEqual({ message: 'The API key is not valid' });
    // Our own routes do not take it: only Piston's clients cannot set a header.
    expect((await fetch(`${url}/languages?key=${keys.piston}`)).status).toBe(401);
  });

  it('POST /api/v2/execute with ?key= counts against that key, and is 429 past it', async () => {
    const execute = () =>
      fetch(`${url}/api/v2/execute?key=${keys.piston}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ language: 'python', version: '*', files: [{ content: 'print(1)' }] }),
      });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await execute());
    // Past authentication and counted; no runner offers python here, hence Piston's 400.
    expect(answers.map((a) => a.status)).toEqual([400, 400, 400, 429]);
    expect(answers.map((a) => a.headers.get('ratelimit-remaining'))).toEqual(['2', '1', '0', '0']);
    expect(await answers[0]!.json()).toEqual({ message: 'python-* runtime is unknown' });
    expect(await answers[3]!.json()).toEqual({ message: expect.stringMatching(/Too many job submissions/) });
    expect(answers[3]!.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('WS /api/v2/connect takes ?key=; each init counts; a wrong key is refused', async () => {
    const init = { type: 'init', language: 'python', version: '*', files: [{ content: 'print(1)' }] };
    const messages: string[] = [];
    for (let i = 0; i < 4; i++) {
      const socket = await TestSocket.open(`${url}/api/v2/connect?key=${keys.pistonSocket}`);
      socket.send(init);
      const error = await socket.next((f) => f.type === 'error');
      messages.push(error.message);
      expect(await socket.closed).toMatchObject({ code: 4002 });
    }
    expect(messages.slice(0, 3)).toEqual(Array(3).fill('python-* runtime is unknown'));
    expect(messages[3]).toMatch(/Too many job submissions/);
    const wrong = await TestSocket.open(`${url}/api/v2/connect?key=not-a-key`);
    expect(await wrong.next((f) => f.type === 'error')).toMatchObject({
      message: 'The API key is not valid',
    });
    expect(await wrong.closed).toMatchObject({ code: 4002 });
  });
});
