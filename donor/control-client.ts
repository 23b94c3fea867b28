// The donor's local control channel (client side): one request to the donor running over a data
// directory, through its `control.sock` (control-socket.ts has the protocol), and its answer.
import { createConnection } from 'node:net';
import * as v from 'valibot';
import { DonorStatusSchema } from '../shared/donor.js';
import { type ControlRequest, type ControlResponse, controlSocketPath } from './control-socket.js';

/** No donor runs over this data directory (no socket, or nobody answers on it). */
export class DonorNotRunningError extends Error {
  readonly dataDir: string;

  constructor(dataDir: string, why: string) {
    super(`no donor is running with the data directory ${dataDir} (${why})`);
    this.name = 'DonorNotRunningError';
    this.dataDir = dataDir;
  }
}

const ResponseSchema = v.variant('ok', [
  v.object({ ok: v.literal(true), status: DonorStatusSchema }),
  v.object({ ok: v.literal(false), error: v.string() }),
]);

/**
 * Sends `request` to the donor over `dataDir` and resolves with its answer. Rejects with
 * DonorNotRunningError when no donor listens there, and with an Error when the answer does not
 * come within `timeoutMs` (null: wait as long as it takes, for `finish` with `wait`) or is not one.
 */
export function controlRequest(
  dataDir: string,
  request: ControlRequest,
  { timeoutMs = 10_000 }: { timeoutMs?: number | null } = {},
): Promise<ControlResponse> {
  const path = controlSocketPath(dataDir);
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buffered = '';
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      socket.destroy();
      fn();
    };
    const timer =
      timeoutMs === null
        ? null
        : setTimeout(
            () =>
              settle(() => reject(new Error(`the donor at ${path} did not answer within ${timeoutMs} ms`))),
            timeoutMs,
          );
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      settle(() => {
        try {
          const parsed = v.safeParse(ResponseSchema, JSON.parse(buffered.slice(0, newline)));
          if (parsed.success) resolve(parsed.output);
          else reject(new Error(`the donor at ${path} gave an answer this version does not understand`));
        } catch {
          reject(new Error(`the donor at ${path} answered with something that is not JSON`));
        }
      });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      settle(() => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
          reject(
            new DonorNotRunningError(dataDir, err.code === 'ENOENT' ? 'no control socket' : 'nobody answers'),
          );
        } else {
          reject(new Error(`cannot reach the donor at ${path}: ${err.message}`));
        }
      });
    });
    socket.on('close', () =>
      settle(() => reject(new Error(`the donor at ${path} closed without answering`))),
    );
  });
}
