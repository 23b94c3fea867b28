// A session's stop agent, host-side: one long-lived exec in the session's container (AGENT_SCRIPT in
// session-sandbox.ts) whose stdin the runner keeps. Stopping the sandbox's processes is then one
// line on a stream that already exists, not a new `docker exec`, which a fork bomb holding every
// pid keeps from starting. It also answers the OOM counter, and prints the probe when it starts.
import type { Writable } from 'node:stream';
import type { SandboxDriver, StreamedInput } from '../docker/docker-sandbox.js';
import { agentArgv, agentStopLine, parseAgentOom } from './session-sandbox.js';

interface Pending {
  resolve: (line: string) => void;
  reject: (error: Error) => void;
}

/** Lines longer than this are not the agent's answers: something else writes on its stdout. */
const MAX_LINE = 256;

export class StopAgent implements StreamedInput {
  readonly #timeoutMs: number;
  readonly #abandon = new AbortController();
  #sink: Writable | null = null;
  #text = '';
  /** Until the probe's NUL has come, output is the probe; then it is answers, one per line. */
  #probe: Pending | null = null;
  readonly #pending: Pending[] = [];
  #ended = false;
  /** Resolves once the agent's exec has ended (it exited, was killed, or was closed). */
  readonly ended: Promise<void>;

  /** What the agent printed when it started (before the NUL). */
  readonly #probeText: Promise<string>;

  private constructor(docker: Pick<SandboxDriver, 'exec'>, containerId: string, timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    // Expected before the exec starts: a driver may call back with output at once.
    this.#probeText = this.#expect((pending) => {
      this.#probe = pending;
    });
    this.ended = docker
      .exec(containerId, {
        argv: agentArgv(),
        input: null,
        stream: this,
        signal: this.#abandon.signal,
        onOutput: (stream, data) => {
          if (stream === 'stdout') this.#read(data.toString('latin1'));
        },
      })
      .then(
        () => this.#end(new Error('the stop agent ended')),
        (err: unknown) => this.#end(err instanceof Error ? err : new Error(String(err))),
      );
  }

  /**
   * Start the agent in the container; resolves with it and the probe it printed. Rejects when it
   * could not start or did not print the probe within timeoutMs (it is then closed).
   */
  static async start(
    docker: Pick<SandboxDriver, 'exec'>,
    containerId: string,
    timeoutMs: number,
  ): Promise<{ agent: StopAgent; probe: string }> {
    const agent = new StopAgent(docker, containerId, timeoutMs);
    try {
      return { agent, probe: await agent.#probeText };
    } catch (err) {
      agent.close();
      throw err;
    }
  }

  /** Whether it still runs (a program of the session may have killed it). */
  get alive(): boolean {
    return !this.#ended;
  }

  /** StreamedInput: the exec's stdin, kept open for requests. */
  attach(sink: Writable): void {
    this.#sink = sink;
    sink.on('error', () => {});
  }

  /**
   * Stop every process but the keep-alive: `stopped`, or `gone` when the keep-alive is gone too.
   * Rejects when the agent is gone or does not answer in time (it is then closed).
   */
  async stop(keepAlivePid: number): Promise<'stopped' | 'gone'> {
    const answer = await this.#request(agentStopLine(keepAlivePid));
    if (answer === 'stopped' || answer === 'gone') return answer;
    throw this.#broken(`the stop agent answered ${JSON.stringify(answer.slice(0, 40))}`);
  }

  /** The memory cgroup's OOM-kill counter; null when the agent could not read one. */
  async oomKills(): Promise<number | null> {
    return parseAgentOom(await this.#request('oom\n'));
  }

  /** End it: its stdin closes and the agent exits; requests in flight reject. */
  close(): void {
    this.#sink?.end();
    this.#abandon.abort();
  }

  #request(line: string): Promise<string> {
    if (this.#ended || this.#probe !== null || this.#sink === null) {
      return Promise.reject(new Error('the stop agent is not running'));
    }
    const sink = this.#sink;
    return this.#expect((pending) => {
      this.#pending.push(pending);
      sink.write(line);
    });
  }

  /** A promise for the next answer, failing the agent if it does not come within the timeout. */
  #expect(register: (pending: Pending) => void): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(this.#broken(`the stop agent did not answer within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
      register({
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }

  #read(text: string): void {
    this.#text += text;
    if (this.#probe !== null) {
      const nul = this.#text.indexOf('\0');
      if (nul < 0) return;
      const probe = this.#probe;
      this.#probe = null;
      probe.resolve(this.#text.slice(0, nul));
      this.#text = this.#text.slice(nul + 1);
    }
    for (let newline = this.#text.indexOf('\n'); newline >= 0; newline = this.#text.indexOf('\n')) {
      const line = this.#text.slice(0, newline);
      this.#text = this.#text.slice(newline + 1);
      const pending = this.#pending.shift();
      if (pending === undefined) {
        this.#broken('the stop agent said something unasked');
        return;
      }
      pending.resolve(line);
    }
    if (this.#text.length > MAX_LINE) this.#broken('the stop agent wrote a line too long');
  }

  /** Its answers can no longer be trusted to match its requests: close it. */
  #broken(why: string): Error {
    const error = new Error(why);
    this.#end(error);
    this.close();
    return error;
  }

  #end(error: Error): void {
    this.#ended = true;
    const waiting =
      this.#probe === null ? this.#pending.splice(0) : [this.#probe, ...this.#pending.splice(0)];
    this.#probe = null;
    for (const pending of waiting) pending.reject(error);
  }
}
