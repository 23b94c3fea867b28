// A runner without Docker, for the gateway benchmark: it speaks the real runner protocol over a
// `ws` client (hello with a token, accept every offer, output frames, done) and runs nothing.
import type { Socket } from 'node:net';
import * as v from 'valibot';
import { WebSocket } from 'ws';
import {
  type GatewayToRunner,
  GatewayToRunnerFrame,
  type OfferedJob,
  PROTOCOL_VERSION,
  type RunnerToGateway,
  type RunResult,
} from '../shared/index.js';

export interface SyntheticRunnerOptions {
  /** The gateway's base URL, http://host:port. */
  gatewayUrl: string;
  token: string;
  name: string;
  slots: number;
  /** Called for every offer, after the runner has accepted it. */
  onJob: (job: OfferedJob) => void;
}

/** A valid result for a job whose output was `chunks` chunks; the text itself is not repeated. */
export function syntheticResult(chunks: number): RunResult {
  const stdout = `${chunks} chunks\n`;
  return {
    stdout,
    stderr: '',
    output: stdout,
    exit_code: 0,
    signal: null,
    reason: 'exited',
    wall_ms: 1,
    truncated: false,
  };
}

export class SyntheticRunner {
  readonly #ws: WebSocket;
  readonly #options: SyntheticRunnerOptions;
  /** Jobs accepted and not yet done: heartbeats list them, as a real runner's do. */
  readonly #held = new Set<string>();
  #heartbeat: NodeJS.Timeout | undefined;
  #failure: Error | undefined;
  #closing = false;
  /** Per job, its output frames' text up to the seq: `{"type":"output","job_id":…,"seq":`. */
  readonly #outputPrefix = new Map<string, string>();
  /** The last output data and its JSON (the benchmark sends the same data to many jobs at once). */
  #lastData = '';
  #lastDataJson = '""';
  /** The TCP socket under the WebSocket (from the public 'upgrade' response), for corking. */
  #socket: Socket | undefined;

  private constructor(ws: WebSocket, options: SyntheticRunnerOptions) {
    this.#ws = ws;
    this.#options = options;
  }

  /** Connects, says hello, and resolves once the gateway's welcome arrives. */
  static connect(options: SyntheticRunnerOptions): Promise<SyntheticRunner> {
    const url = `${options.gatewayUrl.replace(/^http/, 'ws')}/runners/connect`;
    // An all-zero mask: ws then writes each frame as is instead of XOR-ing a copy of it, which
    // makes the load cheaper, not the gateway's work (it unmasks every frame whatever the key).
    const ws = new WebSocket(url, { perMessageDeflate: false, generateMask: (mask) => void mask.fill(0) });
    const runner = new SyntheticRunner(ws, options);
    ws.once('upgrade', (response) => {
      runner.#socket = response.socket;
    });
    return new Promise((resolve, reject) => {
      ws.once('open', () => {
        runner.#send({
          type: 'hello',
          protocol: PROTOCOL_VERSION,
          token: options.token,
          name: options.name,
          version: 'bench',
          languages: [{ name: 'python', version: '3.11.2', aliases: ['py', 'python3'] }],
          slots: options.slots,
          labels: [],
          held: [],
          draining: false,
          building: [],
          paused: false,
        });
      });
      ws.on('message', (data) => {
        let frame: GatewayToRunner;
        try {
          frame = v.parse(GatewayToRunnerFrame, JSON.parse(data.toString()));
        } catch (err) {
          runner.#fail(new Error(`the gateway sent a frame that does not parse: ${String(err)}`));
          return;
        }
        if (frame.type === 'welcome') {
          runner.#startHeartbeats(frame.heartbeat_ms);
          resolve(runner);
          return;
        }
        runner.#onFrame(frame);
      });
      ws.on('error', (err) => {
        reject(err);
        runner.#fail(err);
      });
      ws.once('close', (code, reason) => {
        clearInterval(runner.#heartbeat);
        if (runner.#closing) return;
        const error = new Error(`runner socket closed: ${code} ${reason.toString()}`);
        reject(error);
        runner.#fail(error);
      });
    });
  }

  /** Set when the gateway sent an error or the socket closed early; the benchmark checks it. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Bytes the runner's socket has not written yet. */
  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  /**
   * Sends every frame `send` produces in one write: a runner streaming output as fast as it can
   * does not pay one system call per chunk, so the gateway, not this process, is what is measured.
   */
  batch(send: () => void): void {
    this.#socket?.cork();
    try {
      send();
    } finally {
      this.#socket?.uncork();
    }
  }

  output(jobId: string, seq: number, data: string): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    // The text JSON.stringify would give for the frame, from a prefix made once per job: a
    // runner streaming output builds frames cheaply, so the gateway, not this process, is measured.
    let prefix = this.#outputPrefix.get(jobId);
    if (prefix === undefined) {
      prefix = `{"type":"output","job_id":${JSON.stringify(jobId)},"stream":"stdout","seq":`;
      this.#outputPrefix.set(jobId, prefix);
    }
    if (data !== this.#lastData) {
      this.#lastData = data;
      this.#lastDataJson = JSON.stringify(data);
    }
    this.#ws.send(`${prefix}${seq},"data":${this.#lastDataJson}}`);
  }

  done(jobId: string, result: RunResult): void {
    this.#held.delete(jobId);
    this.#outputPrefix.delete(jobId);
    this.#send({ type: 'done', job_id: jobId, result });
  }

  /** Closes normally (1000: the gateway re-queues nothing it still held) and waits for the close. */
  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#closing = true;
    if (this.#ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise((resolve) => this.#ws.once('close', resolve));
    this.#ws.close(1000, 'benchmark over');
    await closed;
  }

  #onFrame(frame: GatewayToRunner): void {
    switch (frame.type) {
      case 'offer':
        this.#held.add(frame.job.id);
        this.#send({ type: 'accept', job_id: frame.job.id });
        this.#options.onJob(frame.job);
        return;
      case 'heartbeat':
      case 'cancel':
      case 'stdin':
      case 'stdin_eof':
      case 'signal':
        // Nothing runs here, so there is nothing to cancel or feed.
        return;
      case 'goaway':
        // The gateway is closing: the benchmark ends with it, so there is nowhere to move.
        return;
      case 'welcome':
        this.#fail(new Error('a second welcome'));
        return;
      case 'session_open':
      case 'session_close':
      case 'session_files':
        this.#fail(new Error(`the benchmark opens no sessions, yet got ${frame.type}`));
        return;
      case 'error':
        this.#fail(new Error(`the gateway reported ${frame.code}: ${frame.message}`));
        return;
      default: {
        const never: never = frame;
        this.#fail(new Error(`unexpected frame ${JSON.stringify(never)}`));
      }
    }
  }

  #startHeartbeats(intervalMs: number): void {
    this.#heartbeat = setInterval(() => this.#send({ type: 'heartbeat', jobs: [...this.#held] }), intervalMs);
    this.#heartbeat.unref();
  }

  #send(frame: RunnerToGateway): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(frame));
  }

  #fail(error: Error): void {
    this.#failure ??= error;
  }
}
