// A private nats-server for tests: Debian's binary on a free loopback port (JetStream optional,
// its data in a temporary directory), ready once it greets a TCP client with INFO, stopped by its
// pid in teardown even when the test fails, and restartable on the same port (a server that went
// away and came back). Also a raw publisher, for bytes no well-behaved client would send.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { freePort, teardown, tempDir } from './helpers.js';

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

export async function startNatsServer(options: { jetstream?: boolean } = {}): Promise<NatsServer> {
  if (!existsSync(NATS_SERVER)) {
    throw new Error(
      `${NATS_SERVER} is missing: scripts/setup.sh installs it (Debian's nats-server; or run ` +
        '`apt-get install nats-server` as root)',
    );
  }
  const port = await freePort();
  const args = ['-a', '127.0.0.1', '-p', String(port)];
  if (options.jetstream) args.push('-js', '-sd', await tempDir());
  const server = new NatsServerProcess(port, args);
  teardown(() => server.stop());
  await server.start();
  return server;
}

class NatsServerProcess implements NatsServer {
  readonly port: number;
  readonly url: string;
  readonly #args: string[];
  #child: ChildProcess | undefined;
  #output = '';

  constructor(port: number, args: string[]) {
    this.port = port;
    this.url = `nats://127.0.0.1:${port}`;
    this.#args = args;
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

/**
 * Publishes `payload` on `subject` as a bare client would, bypassing every check of nats.js; resolves
 * once the server has handled it (it answered the PING that follows).
 */
export async function rawPublish(port: number, subject: string, payload: string | Buffer): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  try {
    await untilLine(socket, 'INFO ');
    const body = Buffer.from(payload);
    socket.write(`CONNECT {"verbose":false,"pedantic":false}\r\nPUB ${subject} ${body.byteLength}\r\n`);
    socket.write(body);
    socket.write('\r\nPING\r\n');
    await untilLine(socket, 'PONG');
  } finally {
    socket.destroy();
  }
}

/** Resolves when the server sends a line starting with `start`; rejects on -ERR or a close. */
function untilLine(socket: Socket, start: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const lines = text.split('\r\n');
      text = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('-ERR')) finish(new Error(`the NATS server said ${line}`));
        else if (line.startsWith(start)) finish();
      }
    };
    const onClose = () => finish(new Error(`the NATS connection closed before ${start}`));
    const finish = (err?: Error) => {
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', finish);
      if (err) reject(err);
      else resolve();
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', finish);
  });
}
