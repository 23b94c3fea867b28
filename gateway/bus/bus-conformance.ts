// The conformance suite of the Bus contract (bus.ts), written once: every implementation's test
// file calls describeBus with a factory of bus systems, and passes the same tests. A system is
// what gateways share: for the in-process bus, the one bus of one process; for NATS, a server,
// where each `join` is another gateway's connection.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CodeexecError } from '../../shared/index.js';
import type { Bus, ControlMessage, JobMessage } from './bus.js';

export interface BusSystem {
  /** A bus of the system, as another gateway would have it (in process: the one bus there is). */
  join(): Promise<Bus>;
  /** Resolves once what every bus sent and subscribed so far has taken effect at the others. */
  settle(): Promise<void>;
  /** Closes every bus still open, and whatever else the system started. */
  cleanup(): Promise<void>;
}

/** One job's messages as a subscriber gets them, and a promise for the nth. */
export interface Collector {
  seen: JobMessage[];
  until(count: number): Promise<void>;
  stop(): void;
}

export function collect(bus: Bus, jobId: string): Collector {
  const seen: JobMessage[] = [];
  const waiting: { count: number; resolve: () => void }[] = [];
  const stop = bus.subscribe(jobId, (message) => {
    seen.push(message);
    for (const waiter of waiting.filter((w) => seen.length >= w.count)) {
      waiting.splice(waiting.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  return {
    seen,
    until: (count) =>
      seen.length >= count ? Promise.resolve() : new Promise((resolve) => waiting.push({ count, resolve })),
    stop,
  };
}

/** An output message numbered `seq`: what most tests send. */
export const output = (seq: number, data = `line ${seq}\n`): JobMessage => ({
  type: 'output',
  event: { stream: 'stdout', seq, data },
});

const seqs = (messages: JobMessage[]) => messages.map((m) => (m.type === 'output' ? m.event.seq : m.type));
const stdin = (data: string): ControlMessage => ({ type: 'stdin', data });

/** A promise for the next call of a handler registered with `register`, and a count of calls. */
function calls(register: (handler: () => void) => unknown): {
  count: () => number;
  next: () => Promise<void>;
} {
  let count = 0;
  let waiting: (() => void)[] = [];
  register(() => {
    count++;
    for (const resolve of waiting) resolve();
    waiting = [];
  });
  return { count: () => count, next: () => new Promise((resolve) => waiting.push(resolve)) };
}

export function describeBus(name: string, makeSystem: () => Promise<BusSystem>): void {
  describe(`Bus conformance: ${name}`, () => {
    let system: BusSystem;
    /** Two gateways' buses (in process: the same one twice). */
    let a: Bus;
    let b: Bus;
    beforeEach(async () => {
      system = await makeSystem();
      a = await system.join();
      b = await system.join();
    });
    afterEach(() => system.cleanup());

    /** Resolves once `message` reached `jobId`'s subscriber on `to`: all sent before it is there. */
    const marker = async (from: Bus, to: Bus) => {
      const seen = collect(to, 'marker');
      await system.settle();
      from.publish('marker', { type: 'stage', stage: 'run' });
      await seen.until(1);
      seen.stop();
    };

    it("delivers one job's messages to its subscribers, here and there, in the order published", async () => {
      const here = collect(a, 'job-1');
      const there = collect(b, 'job-1');
      const other = collect(b, 'job-2');
      await system.settle();
      for (let seq = 0; seq < 200; seq++) a.publish('job-1', output(seq));
      a.publish('job-1', { type: 'stage', stage: 'run' });
      await Promise.all([here.until(201), there.until(201)]);
      const expected = [...Array.from({ length: 200 }, (_, seq) => seq), 'stage'];
      expect(seqs(here.seen)).toEqual(expected);
      expect(seqs(there.seen)).toEqual(expected);
      expect(there.seen[0]).toEqual(output(0));
      await marker(a, b);
      expect(other.seen).toEqual([]);
    });

    it('stops delivering to a handler that unsubscribed, and only to it', async () => {
      const first = collect(b, 'job-1');
      const second = collect(b, 'job-1');
      await system.settle();
      a.publish('job-1', output(1));
      await Promise.all([first.until(1), second.until(1)]);
      first.stop();
      a.publish('job-1', output(2));
      await second.until(2);
      second.stop();
      a.publish('job-1', output(3));
      await marker(a, b);
      expect(seqs(first.seen)).toEqual([1]);
      expect(seqs(second.seen)).toEqual([1, 2]);
    });

    it('gives input to the handler that takes the job, on this bus or the other, in order', async () => {
      const tookA: string[] = [];
      const tookB: string[] = [];
      a.onControl((jobId, message) => {
        if (jobId !== 'held-by-a') return false;
        tookA.push(message.type === 'stdin' ? message.data : message.type);
        return true;
      });
      b.onControl((jobId, message) => {
        if (jobId !== 'held-by-b') return false;
        tookB.push(message.type === 'stdin' ? message.data : message.type);
        return true;
      });
      await system.settle();
      await expect(a.control('held-by-a', stdin('here'))).resolves.toBe(true);
      expect(tookA).toEqual(['here']);
      const sent = Array.from({ length: 20 }, (_, i) => a.control('held-by-b', stdin(`${i}`)));
      sent.push(a.control('held-by-b', { type: 'cancel' }));
      expect(await Promise.all(sent)).toEqual(Array(21).fill(true));
      expect(tookB).toEqual([...Array.from({ length: 20 }, (_, i) => `${i}`), 'cancel']);
    });

    it('answers false when no handler takes the input', async () => {
      a.onControl(() => false);
      b.onControl(() => false);
      await system.settle();
      await expect(a.control('nobody-holds-it', stdin('x'))).resolves.toBe(false);
      await expect(b.control('nobody-holds-it', { type: 'cancel' })).resolves.toBe(false);
    });

    it("rejects with the holder's CodeexecError when it refuses the input", async () => {
      b.onControl((jobId) => {
        if (jobId !== 'held-by-b') return false;
        throw new CodeexecError('invalid_frame', 'too much stdin before the job started');
      });
      await system.settle();
      const refused = a.control('held-by-b', stdin('x'));
      await expect(refused).rejects.toBeInstanceOf(CodeexecError);
      await expect(refused).rejects.toMatchObject({
        code: 'invalid_frame',
        message: 'too much stdin before the job started',
      });
    });

    it("wakes every bus's handlers, once for a burst", async () => {
      const onA = calls((handler) => a.onWake(handler));
      const onB = calls((handler) => b.onWake(handler));
      await system.settle();
      const woken = Promise.all([onA.next(), onB.next()]);
      a.wake();
      a.wake();
      a.wake();
      await woken;
      // Anything more the burst caused would have arrived before this.
      await marker(a, b);
      expect([onA.count(), onB.count()]).toEqual([1, 1]);
      const again = Promise.all([onA.next(), onB.next()]);
      b.wake();
      await again;
      await marker(b, a);
      expect([onA.count(), onB.count()]).toEqual([2, 2]);
    });

    it('nudges the gateway named, wherever it is, and no other', async () => {
      const gwA = calls((handler) => a.onNudge('gw-a', handler));
      const gwB = calls((handler) => b.onNudge('gw-b', handler));
      await system.settle();
      const toB = gwB.next();
      a.nudge('gw-b');
      await toB;
      const toA = gwA.next();
      a.nudge('gw-a');
      await toA;
      await marker(a, b);
      expect([gwA.count(), gwB.count()]).toEqual([1, 1]);
      // Nobody by that name: nothing happens, nothing throws.
      a.nudge('gw-nobody');
      await marker(a, b);
      expect([gwA.count(), gwB.count()]).toEqual([1, 1]);
    });

    it('after close: publishing, waking and control do nothing, and throw nothing', async () => {
      const bus = await system.join();
      const seen = collect(bus, 'job-1');
      const woken = calls((handler) => bus.onWake(handler));
      bus.onControl(() => true);
      await bus.close();
      bus.publish('job-1', output(1));
      bus.wake();
      await expect(bus.control('job-1', stdin('x'))).resolves.toBe(false);
      const unsubscribe = bus.subscribe('job-2', () => {});
      unsubscribe();
      seen.stop();
      await bus.close();
      // A microtask turn for a wake that should not come.
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(seen.seen).toEqual([]);
      expect(woken.count()).toBe(0);
    });
  });
}
