// Callbacks against a real loopback HTTP server, with an in-memory store: statuses, retries, signature.
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type JobRecord, silentLogger } from '../../shared/index.js';
import { CallbackSink } from '../../test/helpers.js';
import { newJob } from '../jobs/new-job.js';
import { MemoryJobStore } from '../store/memory-job-store.js';
import { CallbackSender } from './callback-sender.js';

async function setUp(url: string, options: { attempts?: number; previousAttempts?: number } = {}) {
  const store = new MemoryJobStore();
  await store.open();
  const job: JobRecord = {
    ...newJob(
      { lang: 'python', code: 'print(1)', callback_url: url },
      { lang: 'python', interactive: false, client: null },
    ),
    status: 'done',
    stdout: '1\n',
    finished_at: new Date().toISOString(),
  };
  if (options.previousAttempts)
    job.callback = {
      state: 'pending',
      attempts: options.previousAttempts,
      last_error: 'HTTP 500',
      delivered_at: null,
    };
  await store.insert(job);
  const sender = new CallbackSender({
    store,
    log: silentLogger,
    attempts: options.attempts ?? 4,
    firstDelayMs: 20,
    maxDelayMs: 50,
    timeoutMs: 2_000,
    secret: 'shh',
    userAgent: 'codeexec/test',
  });
  return { store, job, sender };
}

describe('CallbackSender', () => {
  it.each([
    { name: 'delivers at once on 200', answers: [], state: 'delivered', attempts: 1, error: null },
    { name: 'retries a 500, then delivers', answers: [500], state: 'delivered', attempts: 2, error: null },
    {
      name: 'retries 503, 429 and 408',
      answers: [503, 429, 408],
      state: 'delivered',
      attempts: 4,
      error: null,
    },
    {
      name: 'gives up after the last attempt',
      answers: [500, 502, 500, 500],
      state: 'failed',
      attempts: 4,
      error: 'HTTP 500',
    },
    { name: 'stops at a 4xx refusal', answers: [410], state: 'failed', attempts: 1, error: 'HTTP 410' },
    {
      name: 'does not follow a redirect',
      answers: [302],
      state: 'failed',
      attempts: 1,
      error: /redirects are not followed/,
    },
  ])('$name', async ({ answers, state, attempts, error }) => {
    const sink = await CallbackSink.start(answers);
    const { store, job, sender } = await setUp(sink.url);
    sender.deliver(job);
    sender.deliver(job); // a second call while one is under way changes nothing
    await sender.idle();
    expect((await store.get(job.id))?.callback).toMatchObject({ state, attempts });
    if (error === null) expect((await store.get(job.id))?.callback?.last_error).toBeNull();
    else expect((await store.get(job.id))?.callback?.last_error).toMatch(error);
    expect(sink.received.map((d) => d.headers['x-codeexec-attempt'])).toEqual(
      Array.from({ length: attempts }, (_, i) => String(i + 1)),
    );
    const last = sink.received.at(-1)!;
    expect(last.body).toMatchObject({ id: job.id, status: 'done', stdout: '1\n' });
    expect(last.headers['x-codeexec-job']).toBe(job.id);
    expect(last.headers['content-type']).toBe('application/json');
    const hmac = createHmac('sha256', 'shh').update(last.raw).digest('hex');
    expect(last.headers['x-codeexec-signature']).toBe(`sha256=${hmac}`);
  });

  it('retries when nothing listens, and records why', async () => {
    // A port that was free a moment ago: connections to it are refused.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise((resolve) => server.close(resolve));
    const { store, job, sender } = await setUp(`http://127.0.0.1:${port}/hook`, { attempts: 2 });
    sender.deliver(job);
    await sender.idle();
    expect((await store.get(job.id))?.callback).toMatchObject({ state: 'failed', attempts: 2 });
    expect((await store.get(job.id))?.callback?.last_error).toMatch(/ECONNREFUSED/);
  });

  it('resumes a pending delivery where the previous process left it (attempts count across restarts)', async () => {
    const sink = await CallbackSink.start([500]);
    const { store, job, sender } = await setUp(sink.url, { attempts: 3, previousAttempts: 2 });
    sender.deliver(job);
    await sender.idle();
    expect(sink.received.map((d) => d.headers['x-codeexec-attempt'])).toEqual(['3']);
    expect((await store.get(job.id))?.callback).toMatchObject({
      state: 'failed',
      attempts: 3,
      last_error: 'HTTP 500',
    });
  });

  it('close() stops between attempts and leaves the delivery pending for the next start', async () => {
    const sink = await CallbackSink.start([500, 500, 500]);
    const { store, job, sender } = await setUp(sink.url);
    const recorded = once(sender, 'attempt');
    sender.deliver(job);
    await recorded;
    await sender.close();
    expect((await store.get(job.id))?.callback).toMatchObject({ state: 'pending', attempts: 1 });
    sender.deliver(job); // a closed sender starts nothing
    await sender.idle();
    expect(sink.received).toHaveLength(1);
  });
});
