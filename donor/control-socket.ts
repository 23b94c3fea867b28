// The donor's local control channel (server side): `codeexec donor status|pause|resume|finish`
// talk to the running donor over a Unix socket, `<dataDir>/control.sock`. Only its user can open
// it: the data directory is made 0700 and the socket 0600. One JSON request per line, one JSON
// answer per line; a malformed request gets an error answer, never a crash. The data directory's
// lock keeps one donor per directory, so a socket file left there is a dead process's: replaced.
// Windows (named pipes, \\.\pipe\…) is not supported yet: listen() refuses it clearly.
import { chmod, mkdir, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import * as v from 'valibot';
import type { DonorStatus } from '../shared/donor.js';
import { describeIssues, type Logger, silentLogger } from '../shared/index.js';

export const CONTROL_SOCKET_FILE = 'control.sock';
/** A request line longer than this is refused and the connection closed. */
export const MAX_REQUEST_BYTES = 4096;

const epochMs = v.pipe(v.number(), v.integer(), v.minValue(0));

export const ControlRequestSchema = v.variant('cmd', [
  v.strictObject({ cmd: v.literal('status') }),
  /** Pause now, until `until` (epoch ms) or indefinitely (null or absent). */
  v.strictObject({ cmd: v.literal('pause'), until: v.optional(v.nullable(epochMs)) }),
  v.strictObject({ cmd: v.literal('resume') }),
  /** Finish the running jobs, then pause; `wait`: answer only once they have ended. */
  v.strictObject({ cmd: v.literal('finish'), wait: v.optional(v.boolean()) }),
]);
export type ControlRequest = v.InferOutput<typeof ControlRequestSchema>;

export type ControlResponse = { ok: true; status: DonorStatus } | { ok: false; error: string };

/** What the socket drives: the donor service. */
export interface ControlTarget {
  status(): DonorStatus;
  pause(untilMs: number | null): void;
  resume(): void;
  finish(): Promise<void>;
}

export function controlSocketPath(dataDir: string): string {
  return join(dataDir, CONTROL_SOCKET_FILE);
}

export class ControlSocket {
  readonly path: string;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(path: string, server: Server) {
    this.path = path;
    this.#server = server;
  }

  /**
   * Makes `dataDir` 0700 (creating it), replaces a stale socket file, listens, and makes the
   * socket 0600. Rejects when another live process answers on the socket.
   */
  static async listen(
    dataDir: string,
    target: ControlTarget,
    log: Logger = silentLogger,
  ): Promise<ControlSocket> {
    if (process.platform === 'win32') {
      throw new Error(
        'the donor control socket needs a Unix socket; Windows named pipes are not supported yet',
      );
    }
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await chmod(dataDir, 0o700);
    const path = controlSocketPath(dataDir);
    const socket = new ControlSocket(path, createServer());
    socket.#server.on('connection', (connection) => socket.#serve(connection, target, log));
    try {
      await socket.#listen();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      if (await answers(path)) throw new Error(`another donor answers on ${path}`);
      await rm(path, { force: true });
      await socket.#listen();
    }
    await chmod(path, 0o600);
    return socket;
  }

  /** Stops listening, ends open connections and removes the socket file. */
  async close(): Promise<void> {
    for (const connection of this.#sockets) connection.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await rm(this.path, { force: true });
  }

  #listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(this.path, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
  }

  #serve(connection: Socket, target: ControlTarget, log: Logger): void {
    this.#sockets.add(connection);
    connection.on('close', () => this.#sockets.delete(connection));
    connection.on('error', () => connection.destroy());
    connection.setEncoding('utf8');
    let buffered = '';
    let refused = false;
    // One request at a time per connection, answered in order.
    let queue = Promise.resolve();
    connection.on('data', (chunk: string) => {
      if (refused) return;
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        queue = queue.then(() => this.#answer(connection, line, target, log));
        newline = buffered.indexOf('\n');
      }
      if (Buffer.byteLength(buffered) > MAX_REQUEST_BYTES) {
        buffered = '';
        refused = true;
        queue = queue.then(() => {
          reply(connection, {
            ok: false,
            error: `a request is one JSON line of at most ${MAX_REQUEST_BYTES} bytes`,
          });
          connection.end();
        });
      }
    });
  }

  async #answer(connection: Socket, line: string, target: ControlTarget, log: Logger): Promise<void> {
    if (line.trim() === '') return;
    let response: ControlResponse;
    try {
      response = await handle(parseRequest(line), target, log);
    } catch (err) {
      response = { ok: false, error: (err as Error).message };
    }
    reply(connection, response);
  }
}

/** A request line, or an Error saying what is wrong with it. */
export function parseRequest(line: string): ControlRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error('a request is one line of JSON, like {"cmd":"status"}');
  }
  const result = v.safeParse(ControlRequestSchema, value);
  if (result.success) return result.output;
  const problems = describeIssues(result.issues).map((p) => `${p.path}: ${p.message}`);
  throw new Error(`invalid request (${problems.join('; ')}); cmd is status, pause, resume or finish`);
}

async function handle(request: ControlRequest, target: ControlTarget, log: Logger): Promise<ControlResponse> {
  log.info({ ...request }, 'control request');
  switch (request.cmd) {
    case 'status':
      break;
    case 'pause':
      target.pause(request.until ?? null);
      break;
    case 'resume':
      target.resume();
      break;
    case 'finish': {
      const finished = target.finish();
      if (request.wait) await finished;
      else finished.catch((err: unknown) => log.error({ err }, 'finishing failed'));
      break;
    }
  }
  return { ok: true, status: target.status() };
}

function reply(connection: Socket, response: ControlResponse): void {
  if (!connection.writable) return;
  connection.write(`${JSON.stringify(response)}\n`);
}

/** Whether a live process accepts connections on the socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}
