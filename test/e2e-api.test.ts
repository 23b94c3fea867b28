// End to end: the REST API of jobs, every answer checked against the served OpenAPI document.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../gateway/gateway.js';
import type { Runner } from '../runner/runner.js';
import { wsProtocols } from '../shared/index.js';
import { startGateway, startRunner, untilJob } from './helpers.js';
import { OpenApiChecker } from './openapi-check.js';
import { TestSocket } from './ws-client.js';

let url: string;
let gateway: Gateway;
let runner: Runner;
let api: OpenApiChecker;

beforeAll(async () => {
  const gw = await startGateway({ queueTimeoutMs: 20_000 });
  url = gw.url;
  gateway = gw.gateway;
  runner = await startRunner({ gatewayUrl: url, token: gw.token, slots: 2, labels: ['gpu-less'] });
  await runner.connected();
  api = await OpenApiChecker.load(url);
});

/** Calls the gateway (by default the keyless one) and checks the answer against the document. */
async function call(
  method: string,
  template: string,
  path: string,
  body?: unknown,
  raw?: string,
  { base = url, headers = {} }: { base?: string; headers?: Record<string, string> } = {},
) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(body === undefined && raw === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const streamed = response.headers.get('content-type')?.startsWith('text/event-stream') === true;
  // biome-ignore lint/suspicious/noExplicitAny: the body is checked against the schema just below
  const json = (streamed ? await response.text() : await response.json()) as any;
  api.check(method, template, response.status, json);
  return { status: response.status, body: json, headers: response.headers };
}

/** The result as a polling client sees it: 202 with Retry-After while it runs, then 200. */
const pollResult = async (id: string) => {
  const early = await call('GET', '/execute/{id}/result', `/execute/${id}/result`);
  if (early.status === 200) return early;
  expect(early.status).toBe(202);
  expect(early.headers.get('retry-after')).toBe('1');
  await untilJob(gateway, id, 'ended');
  return call('GET', '/execute/{id}/result', `/execute/${id}/result`);
};

describe('the REST API', () => {
  it('POST /execute/code keeps the seed contract', async () => {
    const res = await call('POST', '/execute/code', '/execute/code', { lang: 'python', code: 'print(6*7)' });
    expect(res.body).toMatchObject({ output: '42\n', exit_code: 0, status: 'done' });
  });

  it('POST /execute/sync answers the whole job record', async () => {
    const res = await call('POST', '/execute/sync', '/execute/sync', {
      lang: 'js',
      code: 'console.log(process.argv.slice(2).join("|"))',
      args: ['a', 'b c'],
      task_id: 'task-sync',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'done',
      lang: 'javascript',
      task_id: 'task-sync',
      stdout: 'a|b c\n',
      attempt: 1,
      runner_id: runner.name,
    });
  });

  it('async → status → result, with a 202 while it runs', async () => {
    const accepted = await call('POST', '/execute/async', '/execute/async', {
      lang: 'python',
      code: 'import time\ntime.sleep(1)\nprint("late")',
      task_id: 'task-async',
    });
    expect(accepted.status).toBe(202);
    expect(accepted.headers.get('location')).toBe(`/execute/${accepted.body.id}/result`);
    const early = await call('GET', '/execute/{id}/result', `/execute/${accepted.body.id}/result`);
    expect(early.status).toBe(202);
    expect(['queued', 'running']).toContain(early.body.status);
    const status = await call('GET', '/execute/{id}/status', `/execute/${accepted.body.id}/status`);
    expect(status.body.id).toBe(accepted.body.id);
    const result = await pollResult(accepted.body.id);
    expect(result.body).toMatchObject({ status: 'done', stdout: 'late\n', exit_code: 0 });
    expect(result.body.timings.run_ms).toBeGreaterThanOrEqual(1000);
  });

  it('GET /execute/{id}/output: the output as server-sent events, then the result; 400 and 404', async () => {
    const ran = await call('POST', '/execute/sync', '/execute/sync', { lang: 'python', code: 'print("hi")' });
    const id = ran.body.id as string;
    const all = await call('GET', '/execute/{id}/output', `/execute/${id}/output`);
    expect(all.status).toBe(200);
    expect(all.headers.get('content-type')).toMatch(/^text\/event-stream/);
    // Python writes unbuffered here: "hi" and its newline may come as two chunks.
    const chunks = [...(all.body as string).matchAll(/event: stdout\nid: (\d+)\ndata: (.*)\n\n/g)];
    expect(chunks.map((m) => Number(m[1]))).toEqual(chunks.map((_m, i) => i));
    expect(chunks.map((m) => (JSON.parse(m[2]!) as { data: string }).data).join('')).toBe('hi\n');
    expect(all.body).toMatch(/event: exit\ndata: \{.*"stdout":"hi\\n".*\}\n\n$/);
    const last = chunks.length - 1;
    const after = await call('GET', '/execute/{id}/output', `/execute/${id}/output?after_seq=${last}`);
    expect(after.body).not.toContain('event: stdout');
    expect(after.body).toContain('event: exit');
    const bad = await call('GET', '/execute/{id}/output', `/execute/${id}/output?after_seq=soon`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
    const missing = await call('GET', '/execute/{id}/output', '/execute/no-such-job/output');
    expect(missing.status).toBe(404);
  });

  it('DELETE cancels a running job, then refuses to cancel it again', async () => {
    const accepted = await call('POST', '/execute/async', '/execute/async', {
      lang: 'python',
      code: 'import time\nprint("started", flush=True)\ntime.sleep(30)',
    });
    // Wait until it runs, so the cancel has to reach the runner and kill the sandbox.
    await untilJob(gateway, accepted.body.id, 'running');
    const status = await call('GET', '/execute/{id}/status', `/execute/${accepted.body.id}/status`);
    expect(status.body.status).toBe('running');
    const started = Date.now();
    const cancelled = await call('DELETE', '/execute/{id}', `/execute/${accepted.body.id}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect(Date.now() - started).toBeLessThan(5_000);
    const result = await call('GET', '/execute/{id}/result', `/execute/${accepted.body.id}/result`);
    expect(result.body).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
    const again = await call('DELETE', '/execute/{id}', `/execute/${accepted.body.id}`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('job_finished');
  });

  it('a job requiring a label no runner has is refused at once, unless it asks to wait', async () => {
    const refused = await call('POST', '/execute/async', '/execute/async', {
      lang: 'python',
      code: 'print(1)',
      labels: ['has-a-gpu'],
    });
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatchObject({
      code: 'no_runner',
      message: expect.stringMatching(/has-a-gpu/),
    });
  });

  it('a job requiring a label no runner has waits when asked to, and is cancelled while queued', async () => {
    const accepted = await call('POST', '/execute/async', '/execute/async', {
      lang: 'python',
      code: 'print(1)',
      labels: ['has-a-gpu'],
      queue_timeout_ms: 60_000,
    });
    const status = await call('GET', '/execute/{id}/status', `/execute/${accepted.body.id}/status`);
    expect(status.body.status).toBe('queued');
    const cancelled = await call('DELETE', '/execute/{id}', `/execute/${accepted.body.id}`);
    expect(cancelled.body.status).toBe('cancelled');
  });

  it('a job requiring a label the runner has runs', async () => {
    const res = await call('POST', '/execute/sync', '/execute/sync', {
      lang: 'python',
      code: 'print(1)',
      labels: ['gpu-less'],
    });
    expect(res.body.status).toBe('done');
  });

  it('GET /execute lists a task, newest first, in pages', async () => {
    for (let i = 0; i < 3; i++) {
      await call('POST', '/execute/async', '/execute/async', {
        lang: 'python',
        code: `print(${i})`,
        task_id: 'paged',
      });
    }
    const first = await call('GET', '/execute', '/execute?task_id=paged&limit=2');
    expect(first.body.jobs).toHaveLength(2);
    expect(first.body.jobs.every((j: { task_id: string }) => j.task_id === 'paged')).toBe(true);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await call(
      'GET',
      '/execute',
      `/execute?task_id=paged&limit=2&cursor=${first.body.next_cursor}`,
    );
    expect(second.body.jobs).toHaveLength(1);
    expect(second.body.next_cursor).toBeNull();
    const ids = [...first.body.jobs, ...second.body.jobs].map((j: { id: string }) => j.id);
    expect(new Set(ids).size).toBe(3);
    const bad = await call('GET', '/execute', '/execute?limit=0');
    expect(bad.status).toBe(400);
  });

  it('GET /languages lists what the runner offers, with versions', async () => {
    const res = await call('GET', '/languages', '/languages');
    const python = res.body.languages.find((l: { name: string }) => l.name === 'python');
    expect(python).toMatchObject({ aliases: expect.arrayContaining(['py']), runners: 1, building: 0 });
    expect(python.versions[0]).toMatch(/^3\.\d+/);
  });

  it.each([
    ['GET', '/execute/{id}/status', '/execute/nope/status'],
    ['GET', '/execute/{id}/result', '/execute/nope/result'],
    ['DELETE', '/execute/{id}', '/execute/nope'],
  ])('%s %s on an unknown id → 404', async (method, template, path) => {
    const res = await call(method, template, path);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });

  it.each([
    ['/execute/code', '{bad json'],
    ['/execute/sync', '{"lang":"python"}'],
    ['/execute/async', '{"lang":"cobol","code":""}'],
  ])('POST %s with a bad body → 400', async (path, raw) => {
    const res = await call('POST', path, path, undefined, raw);
    expect(res.status).toBe(400);
  });

  it.each(['/execute/code', '/execute/sync', '/execute/async'])('POST %s over 1 MiB → 413', async (path) => {
    const res = await call('POST', path, path, { lang: 'python', code: 'x'.repeat(1.5 * 1024 * 1024) });
    expect(res.status).toBe(413);
  });

  it.each(['/execute/code', '/execute/sync', '/execute/async'])('POST %s as a form → 415', async (path) => {
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'print(1)',
    });
    api.check('POST', path, response.status, await response.json());
    expect(response.status).toBe(415);
  });

  it('health', async () => {
    const res = await call('GET', '/execute/health', '/execute/health');
    expect(res.body).toEqual({ status: 'ok' });
  });
});

describe('clients: API keys, the per-key cap and the queue bound', () => {
  // A second gateway, with three keys, one unfinished job per key and a queue of two. It has no
  // runner, so what it accepts (asking to wait for one) stays queued until the test cancels it.
  const keys = { a: 'key-a-0123456789', b: 'key-b-0123456789', c: 'key-c-0123456789' };
  let base: string;
  const as = (key: string) => ({ base, headers: { authorization: `Bearer ${key}` } });
  const job = { lang: 'python', code: 'print(1)', queue_timeout_ms: 60_000 };

  beforeAll(async () => {
    const gw = await startGateway({
      apiKeys: Object.values(keys),
      maxJobsPerClient: 1,
      maxQueue: 2,
      queueTimeoutMs: 60_000,
    });
    base = gw.url;
  });

  const authenticated = [
    ['POST', '/execute/code', '/execute/code', job],
    ['POST', '/execute/sync', '/execute/sync', job],
    ['POST', '/execute/async', '/execute/async', job],
    ['GET', '/execute/{id}/status', '/execute/some-id/status', undefined],
    ['GET', '/execute/{id}/result', '/execute/some-id/result', undefined],
    ['GET', '/execute/{id}/output', '/execute/some-id/output', undefined],
    ['DELETE', '/execute/{id}', '/execute/some-id', undefined],
    ['GET', '/execute', '/execute', undefined],
    ['GET', '/languages', '/languages', undefined],
  ] as const;

  it.each(authenticated)(
    '%s %s without a key → 401, naming the scheme',
    async (method, template, path, body) => {
      const res = await call(method, template, path, body, undefined, { base });
      expect(res.status).toBe(401);
      expect(res.body.error).toMatchObject({
        code: 'unauthorized',
        message: expect.stringMatching(/Bearer/),
      });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    },
  );

  it.each(authenticated)('%s %s with a wrong key → 401', async (method, template, path, body) => {
    const res = await call(method, template, path, body, undefined, as('key-x-0123456789'));
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/not valid/);
  });

  it('health and the OpenAPI document stay open', async () => {
    expect(
      (await call('GET', '/execute/health', '/execute/health', undefined, undefined, { base })).status,
    ).toBe(200);
    expect((await fetch(`${base}/openapi.json`)).status).toBe(200);
  });

  it.each(['uws', 'ws'] as const)(
    'a browser sends its key in Sec-WebSocket-Protocol (%s transport); it is never echoed back',
    async (transport) => {
      const gw = transport === 'uws' ? { url: base } : await startGateway({ apiKeys: [keys.a], transport });
      const socket = await TestSocket.open(`${gw.url}/execute/ws`, {}, wsProtocols(keys.a));
      expect(socket.ws.protocol).toBe('codeexec');
      socket.send({ type: 'execute', id: 'ws-auth', lang: 'cobol', code: '' });
      // Past authentication: the answer is about the job (no runner offers cobol), not the key.
      expect(await socket.next((f) => f.type === 'error')).toMatchObject({ code: 'unknown_language' });
      socket.ws.close();
      const wrong = await TestSocket.open(`${gw.url}/execute/ws`, {}, wsProtocols('key-x-0123456789'));
      expect(await wrong.closed).toMatchObject({ code: 4401, reason: expect.stringMatching(/not valid/) });
    },
  );

  it('caps unfinished jobs per key (429), bounds the queue (503), and keeps keys apart', async () => {
    const first = await call('POST', '/execute/async', '/execute/async', job, undefined, as(keys.a));
    expect(first.status).toBe(202);
    for (const path of ['/execute/code', '/execute/sync', '/execute/async']) {
      const over = await call('POST', path, path, job, undefined, as(keys.a));
      expect(over.status).toBe(429);
      expect(over.body.error).toMatchObject({ code: 'too_many_jobs', details: { max: 1 } });
      expect(over.headers.get('retry-after')).toBe('1');
    }
    const second = await call('POST', '/execute/async', '/execute/async', job, undefined, as(keys.b));
    expect(second.status).toBe(202);
    // Key c has nothing unfinished, but the queue is full.
    for (const path of ['/execute/code', '/execute/sync', '/execute/async']) {
      const full = await call('POST', path, path, job, undefined, as(keys.c));
      expect(full.status).toBe(503);
      expect(full.body.error).toMatchObject({ code: 'queue_full', details: { max: 2 } });
      expect(full.headers.get('retry-after')).toEqual(expect.any(String));
    }
    // A key sees its own jobs only: another key's id is as good as absent.
    const foreign = await call(
      'GET',
      '/execute/{id}/status',
      `/execute/${first.body.id}/status`,
      undefined,
      undefined,
      as(keys.b),
    );
    expect(foreign.status).toBe(404);
    const listed = await call('GET', '/execute', '/execute', undefined, undefined, as(keys.a));
    expect(listed.body.jobs.map((j: { id: string }) => j.id)).toEqual([first.body.id]);
    // Cancelling frees the key's slot and the queue's.
    for (const [key, id] of [
      [keys.a, first.body.id],
      [keys.b, second.body.id],
    ]) {
      const cancelled = await call(
        'DELETE',
        '/execute/{id}',
        `/execute/${id}`,
        undefined,
        undefined,
        as(key),
      );
      expect(cancelled.body.status).toBe('cancelled');
    }
    const again = await call('POST', '/execute/async', '/execute/async', job, undefined, as(keys.a));
    expect(again.status).toBe(202);
    await call('DELETE', '/execute/{id}', `/execute/${again.body.id}`, undefined, undefined, as(keys.a));
  });
});

describe('operator routes', () => {
  it('GET /runners lists the runner; quarantine and release it by name; an unknown one is 404', async () => {
    const listed = await call('GET', '/runners', '/runners');
    expect(listed.status).toBe(200);
    // A gateway on its files is a fleet of one: itself, with its lease.
    expect(listed.body.gateways).toEqual([
      { id: expect.stringMatching(/^gw-/), url, runners: 1, expires_at: expect.any(String), self: true },
    ]);
    expect(listed.body.partial).toBe(false);
    expect(listed.body.runners).toEqual([
      expect.objectContaining({
        name: runner.name,
        gateway: listed.body.gateways[0].id,
        identity: runner.name,
        tier: 'trusted',
        state: 'ready',
      }),
    ]);
    const path = `/runners/${runner.name}/quarantine`;
    const on = await call('POST', '/runners/{id}/quarantine', path);
    expect(on.body).toMatchObject({ identity: runner.name, reliability: { quarantined: true } });
    expect((await call('GET', '/runners', '/runners')).body.runners[0].state).toBe('quarantined');
    const off = await call('DELETE', '/runners/{id}/quarantine', path);
    expect(off.body.reliability.quarantined).toBe(false);
    for (const method of ['POST', 'DELETE']) {
      const missing = await call(method, '/runners/{id}/quarantine', '/runners/nobody/quarantine');
      expect(missing.status).toBe(404);
    }
  });

  it('with CODEEXEC_ADMIN_KEYS, the operator routes answer 401 without one', async () => {
    const { url: keyed } = await startGateway({ adminKeys: ['admin-key'] });
    const base = { base: keyed };
    expect((await call('GET', '/runners', '/runners', undefined, undefined, base)).status).toBe(401);
    for (const method of ['POST', 'DELETE']) {
      const res = await call(
        method,
        '/runners/{id}/quarantine',
        '/runners/x/quarantine',
        undefined,
        undefined,
        base,
      );
      expect(res.status).toBe(401);
    }
    const ok = await call('GET', '/runners', '/runners', undefined, undefined, {
      base: keyed,
      headers: { authorization: 'Bearer admin-key' },
    });
    expect(ok.body).toMatchObject({ runners: [], gateways: [{ runners: 0, self: true }], partial: false });
  });
});

// The last test of the file (they run in order): every documented answer was produced and checked,
// except the ones only a failure of the infrastructure produces (the fault tests cover those). A
// test, not an afterAll: a failing hook would skip the cleanups (runners, their containers).
describe('the OpenAPI document', () => {
  it('every documented answer was produced and checked against it', () => {
    const infrastructureOnly = [
      'POST /execute/code 500',
      'POST /execute/code 502',
      'POST /execute/sync 500',
      'POST /execute/sync 502',
      'DELETE /execute/{id} 202',
    ];
    const missing = api.documented().filter((key) => !api.seen.has(key) && !infrastructureOnly.includes(key));
    expect(missing).toEqual([]);
  });
});
