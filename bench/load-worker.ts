// The load process of the gateway benchmark: the synthetic runner and the client sockets, driven
// by the benchmark's main process over the IPC channel, one command at a time.
import type { WebSocket } from 'ws';
import { closeSockets, openSockets } from './client-sockets.js';
import { type RelayParams, type RelayResult, relay } from './relay-load.js';
import { type TinyJobsParams, type TinyJobsResult, tinyJobs } from './tiny-jobs.js';

/** What the main process asks, and what each command answers. */
export type LoadCommand =
  | { type: 'relay'; params: RelayParams }
  | { type: 'tiny'; params: TinyJobsParams }
  | { type: 'idle-open'; url: string; count: number }
  | { type: 'idle-close' };

export interface LoadAnswers {
  relay: RelayResult;
  tiny: TinyJobsResult;
  'idle-open': { opened: number };
  'idle-close': { closed: number };
}

export type LoadRequest = { id: number; command: LoadCommand };
export type LoadReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export function runLoadWorker(): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error('the load worker must be started with an IPC channel');
  let idle: WebSocket[] = [];

  const handle = async (command: LoadCommand): Promise<unknown> => {
    switch (command.type) {
      case 'relay':
        return relay(command.params);
      case 'tiny':
        return tinyJobs(command.params);
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
