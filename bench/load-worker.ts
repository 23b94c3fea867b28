// The load process of the gateway benchmarks: synthetic runners and client sockets, driven by the
// benchmark's main process over the IPC channel (one command at a time from bench/gateway.ts;
// bench/gateways.ts runs several such processes at once). Both sides are here: `runLoadWorker` in
// the load process, `LoadWorker` in the main one.
import type { WebSocket } from 'ws';
import { closeSockets, openSockets } from './client-sockets.js';
import type { Child } from './processes.js';
import { type RelayParams, type RelayResult, relay } from './relay-load.js';
import {
  type TimedJobsParams,
  type TimedJobsResult,
  type TinyJobsParams,
  type TinyJobsResult,
  timedJobs,
  tinyJobs,
} from './tiny-jobs.js';

/** What the main process asks, and what each command answers. */
export type LoadCommand =
  | { type: 'relay'; params: RelayParams }
  | { type: 'tiny'; params: TinyJobsParams }
  /** Answers once this process's jobs ended; its runners stay connected until `timed-close`. */
  | { type: 'timed'; params: TimedJobsParams }
  | { type: 'timed-close' }
  | { type: 'idle-open'; url: string; count: number }
  | { type: 'idle-close' };

export interface LoadAnswers {
  relay: RelayResult;
  tiny: TinyJobsResult;
  timed: TimedJobsResult;
  'timed-close': null;
  'idle-open': { opened: number };
  'idle-close': { closed: number };
}

export type LoadRequest = { id: number; command: LoadCommand };
export type LoadReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export function runLoadWorker(): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error('the load worker must be started with an IPC channel');
  let idle: WebSocket[] = [];
  let closeTimed: (() => Promise<void>) | undefined;

  const handle = async (command: LoadCommand): Promise<unknown> => {
    switch (command.type) {
      case 'relay':
        return relay(command.params);
      case 'tiny':
        return tinyJobs(command.params);
      case 'timed': {
        await closeTimed?.();
        const { result, close } = await timedJobs(command.params);
        closeTimed = close;
        return result;
      }
      case 'timed-close':
        await closeTimed?.();
        closeTimed = undefined;
        return null;
      case 'idle-open':
        idle = await openSockets(command.url, command.count);
        return { opened: idle.length };
      case 'idle-close': {
        const closed = idle.length;
        await closeSockets(idle);
        idle = [];
        return { closed };
      }
      default: {
        const never: never = command;
        throw new Error(`unknown command ${JSON.stringify(never)}`);
      }
    }
  };

  process.on('message', (message: LoadRequest) => {
    handle(message.command).then(
      (result) => send({ id: message.id, ok: true, result } satisfies LoadReply),
      (err: unknown) =>
        send({ id: message.id, ok: false, error: String((err as Error).stack ?? err) } satisfies LoadReply),
    );
  });
  // The main process is gone (it ended, or was killed): so is the reason to exist.
  process.on('disconnect', () => process.exit(0));
}

/** The main process's side of a load process: one promise per command. */
export class LoadWorker {
  readonly child: Child;
  #next = 1;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();

  /** `child`: a load process, spawned with an IPC channel. */
  constructor(child: Child) {
    this.child = child;
    child.process.on('message', (reply: LoadReply) => {
      const pending = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (reply.ok) pending?.resolve(reply.result);
      else pending?.reject(new Error(`${child.name}: ${reply.error}`));
    });
    void child.exited.then((how) => {
      for (const pending of this.#pending.values()) {
        pending.reject(new Error(`${child.name} exited (${how})\n${child.stderrTail}`));
      }
      this.#pending.clear();
    });
  }

  request<C extends LoadCommand>(command: C): Promise<LoadAnswers[C['type']]> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.process.send({ id, command } satisfies LoadRequest);
    });
  }
}
