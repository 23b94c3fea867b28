// A fake gateway for the runner's tests: a `ws` server on 127.0.0.1, port 0, that welcomes every
// runner's hello, records each frame it sends, and lets a test await the frame it expects or send
// offers. Only tests import it.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import type { GatewayToRunner, OfferedJob, RunnerToGateway } from '../shared/runner-protocol.js';

type Frame = RunnerToGateway;
export type Hello = Extract<Frame, { type: 'hello' }>;

export class FakeGateway {
  readonly frames: Frame[] = [];
  readonly hellos: Hello[] = [];
  readonly #server: WebSocketServer;
  #socket: WebSocket | null = null;
  #waiters: { match: (frame: Frame) => boolean; resolve: (frame: Frame) => void }[] = [];

  private constructor(server: WebSocketServer) {
    this.#server = server;
    server.on('connection', (socket) => {
      this.#socket = socket;
      socket.on('message', (data) => this.#receive(socket, JSON.parse(data.toString()) as Frame));
    });
  }

  static async start(): Promise<FakeGateway> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/runners/connect' });
    await once(server, 'listening');
    return new FakeGateway(server);
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  send(frame: GatewayToRunner): void {
    this.#socket?.send(JSON.stringify(frame));
  }

  /** Offers a python job (`print(1)` unless `job` says otherwise). */
  offer(id: string, job: Partial<OfferedJob> = {}): void {
    this.send({
      type: 'offer',
      job: {
        id,
        lang: 'python',
        code: 'print(1)',
        stdin: null,
        args: [],
        files: [],
        limits: null,
        compile_limits: null,
        interactive: false,
        session_id: null,
        ...job,
      },
    });
  }

  /** The first frame (received so far, or later) that matches. */
  frame<T extends Frame>(match: (frame: Frame) => frame is T, timeoutMs?: number): Promise<T>;
  frame(match: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  frame(match: (frame: Frame) => boolean, timeoutMs = 30_000): Promise<Frame> {
    const seen = this.frames.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no such frame came in time')), timeoutMs);
      this.#waiters.push({
        match,
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
      });
    });
  }

  /** Every frame about this job, in order. */
  framesOf(jobId: string): Frame[] {
    return this.frames.filter((frame) => 'job_id' in frame && frame.job_id === jobId);
  }

  /** The next hello (after `count` were received). */
  async hello(count: number): Promise<Hello> {
    while (this.hellos.length < count) await once(this.#server, 'hello');
    return this.hellos[count - 1] as Hello;
  }

  /** Cut the runner's socket as a network failure would. */
  drop(): void {
    this.#socket?.terminate();
    this.#socket = null;
  }

  async close(): Promise<void> {
    for (const client of this.#server.clients) client.terminate();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #receive(socket: WebSocket, frame: Frame): void {
    if (frame.type === 'hello') {
      this.hellos.push(frame);
      socket.send(
        JSON.stringify({ type: 'welcome', runner_id: frame.name, heartbeat_ms: 60_000, lease_ms: 120_000 }),
      );
      this.#server.emit('hello', frame);
      return;
    }
    this.frames.push(frame);
    for (const waiter of this.#waiters.filter((w) => w.match(frame))) waiter.resolve(frame);
    this.#waiters = this.#waiters.filter((w) => !w.match(frame));
  }
}

/** A matcher for the frame of `type` whose `key` is `value` (a job or session id). */
export const frameOf =
  <K extends Frame['type']>(type: K, key?: string, value?: string) =>
  (frame: Frame): frame is Extract<Frame, { type: K }> =>
    frame.type === type && (key === undefined || (frame as Record<string, unknown>)[key] === value);
