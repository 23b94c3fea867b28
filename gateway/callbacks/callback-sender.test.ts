// Callbacks against a real loopback HTTP server, with an in-memory store: statuses, retries,
// signature, and refusals of internal addresses before any connection (an injected resolver).
import { createHmac } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { type JobRecord, silentLogger } from '../../shared/index.js';
import { CallbackSink } from '../../test/helpers.js';
import { newJob } from '../jobs/new-job.js';
import { MemoryJobStore } from '../store/memory-job-store.js';
import { CallbackAllowlist } from './address-policy.js';
import { CallbackGuard, type Resolver } from './callback-guard.js';
import { CallbackSender } from './callback-sender.js';

/** The test targets listen on 127.0.0.1, which only the allowlist admits. */
const LOOPBACK_ALLOWED = new CallbackGuard({ allow: CallbackAllowlist.parse(['127.0.0.1/32']) });

async function setUp(
  url: string,
  options: { attempts?: number; previousAttempts?: number; guard?: CallbackGuard } = {},
) {
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
    guard: options.guard ?? LOOPBACK_ALLOWED,
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

/**
 * Every TCP connection attempt this process starts while the test runs (the `connectionAttempt`
 * of each client socket, seen through node:net's diagnostics channel): what a refusal must leave empty.
 */
function connectionAttempts(): string[] {
  const attempts: string[] = [];
  const onSocket = (message: unknown) => {
    const { socket } = message as { socket: Socket };
    socket.on('connectionAttempt', (ip: string, port: number) => attempts.push(`${ip}:${port}`));
  };
  subscribe('net.client.socket', onSocket);
  onTestFinished(() => {
    unsubscribe('net.client.socket', onSocket);
  });
  return attempts;
}

/** A TCP server on loopback that counts the connections it accepts (and answers none). */
async function countingServer(): Promise<{ port: number; connections: () => number }> {
  let count = 0;
  const server = createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, connections: () => count };
}

/** A resolver with one answer per call, in turn (the last one repeats), recording the names asked. */
function resolverAnswering(...answers: string[][]): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (hostname: string) => {
    const answer = answers[Math.min(asked.length, answers.length - 1)] ?? [];
    asked.push(hostname);
    return answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { asked });
}

describe('CallbackSender and internal addresses', () => {
  it('refuses a forbidden IP literal at once, never connecting, and gives up', async () => {
    const attempts = connectionAttempts();
    const target = await countingServer();
    const { store, job, sender } = await setUp(`http://127.0.0.1:${target.port}/hook`, {
      guard: new CallbackGuard(),
    });
    sender.deliver(job);
    await sender.idle();
    const callback = (await store.get(job.id))?.callback;
    expect(callback).toMatchObject({ state: 'failed', attempts: 1, delivered_at: null });
    expect(callback?.last_error).toBe(
      "refused before connecting: callback_url's host 127.0.0.1 is a loopback address; " +
        'the operator may allow it with CODEEXEC_CALLBACK_ALLOW',
    );
    expect(target.connections()).toBe(0);
    expect(attempts).toEqual([]);
  });

  it('checks the addresses a name resolves to at delivery (DNS rebinding), before connecting', async () => {
    const attempts = connectionAttempts();
    const target = await countingServer();
    // The name looked public when the job was submitted; it resolves to loopback now.
    const resolve = resolverAnswering(['127.0.0.1']);
    const { store, job, sender } = await setUp(`http://rebound.test:${target.port}/hook`, {
      guard: new CallbackGuard({ resolve }),
    });
    sender.deliver(job);
    await sender.idle();
    expect((await store.get(job.id))?.callback).toMatchObject({
      state: 'failed',
      attempts: 1,
      last_error:
        "refused before connecting: callback_url's host rebound.test resolves to 127.0.0.1, a loopback " +
        'address; the operator may allow it with CODEEXEC_CALLBACK_ALLOW',
    });
    expect(resolve.asked).toEqual(['rebound.test']);
    expect(target.connections()).toBe(0);
    expect(attempts).toEqual([]);
  });

  // No packet may leave this machine: these addresses are refused in the lookup, before a SYN.
  it.each([
    ['the metadata service', ['169.254.169.254'], /169\.254\.169\.254, a link-local address/],
    ['a public and a private address', ['93.184.216.34', '10.0.0.1'], /10\.0\.0\.1, a private address/],
    ['an IPv6 unique local address', ['fd00:ec2::254'], /fd00:ec2::254, a private address/],
    ['a NAT64 form of a private address', ['64:ff9b::c0a8:1'], /a private address/],
  ])('refuses a name resolving to %s without a connection attempt', async (_name, addresses, message) => {
    const attempts = connectionAttempts();
    const resolve = resolverAnswering(addresses);
    const { store, job, sender } = await setUp('http://hooks.test/hook', {
      guard: new CallbackGuard({ resolve }),
    });
    sender.deliver(job);
    await sender.idle();
    const callback = (await store.get(job.id))?.callback;
    expect(callback).toMatchObject({ state: 'failed', attempts: 1 });
    expect(callback?.last_error).toMatch(message);
    expect(resolve.asked).toEqual(['hooks.test']);
    expect(attempts).toEqual([]);
  });

  it('connects to the address its lookup checked (a name only the injected resolver knows)', async () => {
    const attempts = connectionAttempts();
    const sink = await CallbackSink.start();
    const port = new URL(sink.url).port;
    const resolve = resolverAnswering(['127.0.0.1']);
    const guard = new CallbackGuard({ resolve, allow: CallbackAllowlist.parse(['127.0.0.1/32']) });
    const { store, job, sender } = await setUp(`http://hooks.test:${port}/hook`, { guard });
    sender.deliver(job);
    await sender.idle();
    expect((await store.get(job.id))?.callback).toMatchObject({ state: 'delivered', attempts: 1 });
    expect(sink.received).toHaveLength(1);
    expect(sink.received[0]?.headers.host).toBe(`hooks.test:${port}`);
    expect(resolve.asked).toEqual(['hooks.test']);
    expect(attempts).toEqual([`127.0.0.1:${port}`]); // the spy sees connections when there are some
  });

  it('retries a name that does not resolve (DNS may come back)', async () => {
    const resolve: Resolver = async (hostname) => {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    };
    const { store, job, sender } = await setUp('http://gone.test/hook', {
      attempts: 2,
      guard: new CallbackGuard({ resolve }),
    });
    sender.deliver(job);
    await sender.idle();
    expect((await store.get(job.id))?.callback).toMatchObject({
      state: 'failed',
      attempts: 2,
      last_error: 'getaddrinfo ENOTFOUND gone.test',
    });
  });
});
