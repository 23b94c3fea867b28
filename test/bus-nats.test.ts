// The NATS bus on a real, private nats-server: the Bus conformance suite with each `join` another
// gateway's connection, then what only a bus between processes has to survive: bytes from the
// wire that are not a message, messages larger than the server takes in one, control for a job
// whose gateway left, and a server that goes away mid-stream and comes back on the same port.
import { beforeAll, describe, expect, it } from 'vitest';
import { collect, describeBus, output } from '../gateway/bus/bus-conformance.js';
import { NatsBus, type NatsBusOptions, type NatsBusState } from '../gateway/bus/nats/nats-bus.js';
import { jobSubject } from '../gateway/bus/nats/nats-subjects.js';
import { newJob } from '../gateway/jobs/new-job.js';
import { CodeexecError, createLogger, type Logger, silentLogger } from '../shared/index.js';
import { teardown } from './helpers.js';
import { type NatsServer, rawPublish, startNatsServer } from './nats-server.js';

/** Short, so that the "nobody took it" cases cost little. */
const CONTROL_TIMEOUT_MS = 300;

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});

/** Another gateway's bus on the file's server, closed in teardown. */
async function gatewayBus(options: Partial<NatsBusOptions> = {}): Promise<NatsBus> {
  const bus = await NatsBus.connect({
    servers: [server.url],
    log: silentLogger,
    controlTimeoutMs: CONTROL_TIMEOUT_MS,
    reconnectTimeWaitMs: 100,
    ...options,
  });
  teardown(() => bus.close());
  return bus;
}

/** A logger whose lines the test reads back. */
function recordingLogger(): { log: Logger; messages: () => string[] } {
  const lines: { msg: string }[] = [];
  const log = createLogger({
    level: 'debug',
    destination: { write: (line) => lines.push(JSON.parse(line)) },
  });
  return { log, messages: () => lines.map((line) => line.msg) };
}

function untilState(bus: NatsBus, state: NatsBusState): Promise<void> {
  if (bus.state === state) return Promise.resolve();
  return new Promise((resolve) => {
    const stop = bus.onState((now) => {
      if (now !== state) return;
      stop();
      resolve();
    });
  });
}

describeBus('NatsBus', async () => {
  const buses: NatsBus[] = [];
  return {
    join: async () => {
      const bus = await NatsBus.connect({
        servers: [server.url],
        log: silentLogger,
        controlTimeoutMs: CONTROL_TIMEOUT_MS,
      });
      buses.push(bus);
      return bus;
    },
    settle: async () => {
      await Promise.all(buses.filter((bus) => bus.state === 'connected').map((bus) => bus.flush()));
    },
    cleanup: async () => {
      await Promise.all(buses.map((bus) => bus.close()));
    },
  };
});

describe('NatsBus between gateways', () => {
  it('logs and drops what comes off the wire that is not a message, and goes on', async () => {
    const { log, messages } = recordingLogger();
    const a = await gatewayBus();
    const b = await gatewayBus({ log });
    const seen = collect(b, 'job-1');
    await b.flush();
    await rawPublish(server.port, jobSubject('job-1'), 'not json at all');
    await rawPublish(server.port, jobSubject('job-1'), '{"type":"output","event":{"stream":"stdout"}}');
    await rawPublish(server.port, jobSubject('job-1'), '#forged:1 1/2\nhalf a message');
    // Requests nobody can read: no answer, no crash; the bus answers real ones afterwards.
    await rawPublish(server.port, 'codeexec.control.job-1', '{"job_id":"job-1"}');
    await rawPublish(server.port, 'codeexec.control.job-1', '{"job_id":"job-2","message":{"type":"cancel"}}');
    a.publish('job-1', output(1));
    await seen.until(1);
    expect(seen.seen).toEqual([output(1)]);
    expect(messages().filter((msg) => msg === 'malformed bus message dropped')).toHaveLength(3);
    expect(messages().filter((msg) => msg === 'malformed bus control request dropped')).toHaveLength(2);
    b.onControl((jobId) => jobId === 'job-1');
    await b.flush();
    await expect(a.control('job-1', { type: 'cancel' })).resolves.toBe(true);
  });

  it('carries a message larger than the server takes in one (a long job’s end)', async () => {
    const a = await gatewayBus();
    const b = await gatewayBus();
    const seen = collect(b, 'job-1');
    await b.flush();
    const job = newJob(
      { lang: 'python', code: 'print(1)' },
      { lang: 'python', interactive: false, client: null },
    );
    const big = 'x'.repeat(1024 * 1024);
    const end = { type: 'end' as const, job: { ...job, status: 'done' as const, stdout: big, output: big } };
    a.publish('job-1', output(1));
    a.publish('job-1', end);
    a.publish('job-1', output(2));
    await seen.until(3);
    expect(seen.seen).toEqual([output(1), end, output(2)]);
  });

  it('answers false for a job whose gateway left', async () => {
    const a = await gatewayBus();
    const b = await gatewayBus();
    b.onControl((jobId) => jobId === 'job-1');
    await b.flush();
    await expect(a.control('job-1', { type: 'cancel' })).resolves.toBe(true);
    await b.close();
    const started = Date.now();
    await expect(a.control('job-1', { type: 'cancel' })).resolves.toBe(false);
    // Nobody else listens for control: the server says "no responders" at once, no timeout.
    expect(Date.now() - started).toBeLessThan(CONTROL_TIMEOUT_MS);
  });

  it('survives the server going away mid-stream: nothing throws, this gateway goes on, later messages flow', async () => {
    const { log, messages } = recordingLogger();
    const a = await gatewayBus({ log });
    const b = await gatewayBus();
    const there = collect(b, 'job-1');
    const here = collect(a, 'job-1');
    a.onControl((jobId) => jobId === 'held-by-a');
    await b.flush();
    a.publish('job-1', output(1));
    await there.until(1);

    const down = Promise.all([untilState(a, 'reconnecting'), untilState(b, 'reconnecting')]);
    await server.stop();
    await down;
    // The gateway keeps serving what it holds: its own watchers, its own input, its own wakes.
    for (let seq = 2; seq <= 50; seq++) a.publish('job-1', output(seq));
    expect(here.seen).toHaveLength(50);
    await expect(a.control('held-by-a', { type: 'stdin_eof' })).resolves.toBe(true);
    await expect(a.control('held-elsewhere', { type: 'stdin_eof' })).resolves.toBe(false);
    const woken = new Promise<void>((resolve) => a.onWake(resolve));
    a.wake();
    await woken;
    // The wake message too was dropped, not thrown.

    const up = Promise.all([untilState(a, 'connected'), untilState(b, 'connected')]);
    await server.start();
    await up;
    // nats.js sent b's subscription again on reconnecting; the flush makes sure the server has it.
    await b.flush();
    a.publish('job-1', output(51));
    await there.until(2);
    // What was published while the server was down is lost (core NATS): the rest flows in order.
    expect(there.seen).toEqual([output(1), output(51)]);
    expect(messages()).toEqual(
      expect.arrayContaining(['bus connection lost; reconnecting', 'bus connection back']),
    );
    // And control across gateways works again.
    b.onControl((jobId) => jobId === 'held-by-b');
    await b.flush();
    await expect(a.control('held-by-b', { type: 'stdin_eof' })).resolves.toBe(true);
  });

  it('rejects control with a CodeexecError, not a NATS one, when the input cannot be sent', async () => {
    const a = await gatewayBus();
    const b = await gatewayBus();
    b.onControl((jobId) => jobId === 'job-1');
    await b.flush();
    // Past the server's max_payload (1 MiB): the request cannot go out at all.
    const control = a.control('job-1', { type: 'stdin', data: 'x'.repeat(2 * 1024 * 1024) });
    await expect(control).rejects.toBeInstanceOf(CodeexecError);
    await expect(control).rejects.toMatchObject({ code: 'invalid_frame' });
  });
});
