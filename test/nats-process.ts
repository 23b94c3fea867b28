// A private nats-server: Debian's binary on a free loopback port (JetStream optional, its data in
// a temporary directory), ready once it greets a TCP client with INFO, and restartable on the same
// port (a server that went away and came back). No test framework here: the caller ends it with
// destroy() (test/nats-server.ts registers that as a test teardown; bench/gateways.ts calls it, or
// destroySync() from its exit handler).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export const NATS_SERVER = '/usr/sbin/nats-server';
/** How long a server may take to accept connections. */
const READY_TIMEOUT_MS = 15_000;
/** How long a stopping server may take before it is killed. */
const STOP_TIMEOUT_MS = 5_000;
/** The last output kept, for the error when it will not start. */
const OUTPUT_KEPT = 4_000;

export interface NatsServer {
  readonly port: number;
  /** nats://127.0.0.1:port */
  readonly url: string;
  /** Stops the process; resolves once it exited. */
  stop(): Promise<void>;
  /** Starts it again, on the same port (and the same JetStream directory). */
  start(): Promise<void>;
}

export interface NatsProcess extends NatsServer {
  /** The process's pid while it runs. */
  readonly pid: number | undefined;
  /** The server's version, e.g. "v2.9.11". */
  readonly version: string;
  /** Stops it and removes its JetStream directory. */
  destroy(): Promise<void>;
  /** The same, synchronously (SIGKILL): for a process 'exit' handler. */
  destroySync(): void;
}

/** Starts a private server; the caller must destroy() it. */
export async function launchNatsServer(options: { jetstream?: boolean } = {}): Promise<NatsProcess> {
  if (!existsSync(NATS_SERVER)) {
    throw new Error(
      `${NATS_SERVER} is missing: scripts/setup.sh installs it (Debian's nats-server; or run ` +
        '`apt-get install nats-server` as root)',
    );
  }
  const port = await freePort();
  const args = ['-a', '127.0.0.1', '-p', String(port)];
  let dir: string | undefined;
  if (options.jetstream) {
    dir = await mkdtemp(join(tmpdir(), 'codeexec-nats-'));
    args.push('-js', '-sd', dir);
  }
  const server = new NatsServerProcess(port, args, dir);
  try {
    await server.start();
  } catch (err) {
    await server.destroy();
    throw err;
  }
  return server;
}

class NatsServerProcess implements NatsProcess {
  readonly port: number;
  readonly url: string;
  readonly #args: string[];
  readonly #dir: string | undefined;
  #child: ChildProcess | undefined;
  #output = '';

  constructor(port: number, args: string[], dir: string | undefined) {
    this.port = port;
    this.url = `nats://127.0.0.1:${port}`;
    this.#args = args;
    this.#dir = dir;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get version(): string {
    try {
      return execFileSync(NATS_SERVER, ['--version'])
        .toString()
        .trim()
        .replace(/^nats-server: /, '');
    } catch {
      return 'unknown';
    }
  }

  async start(): Promise<void> {
    if (this.#child !== undefined) throw new Error('the NATS server is running already');
    const child = spawn(NATS_SERVER, this.#args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    this.#output = '';
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-OUTPUT_KEPT);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    try {
      await this.#untilReady(child);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  async destroy(): Promise<void> {
    await this.stop();
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true });
  }

  destroySync(): void {
    const child = this.#child;
    this.#child = undefined;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (this.#dir !== undefined) rmSync(this.#dir, { recursive: true, force: true });
  }

  /** A connect loop: done when the server sends its INFO line; fails when the process exits. */
  async #untilReady(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    const exited = once(child, 'exit').then(() => 'exited' as const);
    for (;;) {
      const greeted = await Promise.race([greeting(this.port), exited]);
      if (greeted === 'exited') {
        throw new Error(`nats-server exited (${child.exitCode ?? child.signalCode}): ${this.#output}`);
      }
      if (greeted) return;
      if (Date.now() > deadline) {
        throw new Error(`nats-server did not accept connections on ${this.port}: ${this.#output}`);
      }
      // A process starting up has no event to wait on from here: try to connect again shortly.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Whether a NATS server on the port sends its INFO line to a new connection. */
function greeting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.on('data', (chunk) => {
      text += chunk.toString();
      if (text.includes('\r\n')) done(text.startsWith('INFO '));
    });
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}
