// WS /api/v2/connect, Piston's interactive socket: `init` starts one interactive job; stdin comes
// as `data`, signals as `signal` (which work here), end of input as our `eof`; out go `runtime`,
// `stage`, `data`, `exit` and `error`, then Piston's close codes.
import * as v from 'valibot';
import {
  describeIssues,
  findLanguage,
  type JobRecord,
  PISTON_CLOSE,
  PistonClientFrame,
  type PistonClientMessage,
  SIGNALS,
  type Signal,
  type StageResult,
} from '../../shared/index.js';
import type { SocketHandler, SocketLike, UpgradeInfo } from '../transport/transport.js';
import { type PistonDeps, pistonToRequest, resolveRuntime } from './piston-routes.js';

type PistonOut =
  | { type: 'runtime'; language: string; version: string }
  | { type: 'stage'; stage: 'compile' | 'run' }
  | { type: 'data'; stream: 'stdout' | 'stderr'; data: string }
  | { type: 'exit'; stage: 'compile' | 'run'; code: number | null; signal: string | null }
  | { type: 'error'; message: string };

/** One /api/v2/connect socket: waiting for init, then running one interactive job, then closed. */
class PistonConnection {
  state: 'waiting' | 'running' | 'closed' = 'waiting';
  jobId: string | null = null;
  /** Who submits the job: it counts against that client's cap and is its own. */
  client: string | null = null;
  unwatch: () => void = () => {};
  readonly initTimer: NodeJS.Timeout;
  readonly socket: SocketLike;

  constructor(socket: SocketLike, onInitTimeout: () => void) {
    this.socket = socket;
    this.initTimer = setTimeout(onInitTimeout, 1_000);
    this.initTimer.unref();
  }

  send(frame: PistonOut): void {
    if (this.state !== 'closed') this.socket.send(JSON.stringify(frame));
  }

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.initTimer);
    this.unwatch();
    this.socket.close(code, reason);
  }

  /** Piston's way: an error frame, then close 4002. */
  fail(message: string): void {
    this.send({ type: 'error', message });
    this.close(PISTON_CLOSE.notified_error, 'Notified Error');
  }
}

/** WS /api/v2/connect: init → runtime, stage, data…, exit; stdin as `data`, `signal`, and our `eof`. */
export class PistonSockets implements SocketHandler {
  readonly maxFrameBytes = 1024 * 1024;
  readonly #deps: PistonDeps;
  readonly #connections = new Map<SocketLike, PistonConnection>();

  constructor(deps: PistonDeps) {
    this.#deps = deps;
  }

  open(socket: SocketLike, upgrade: UpgradeInfo): void {
    let client: string | null;
    try {
      client = this.#deps.authorize?.(upgrade, socket.remoteAddress) ?? null;
    } catch (err) {
      socket.send(JSON.stringify({ type: 'error', message: (err as Error).message }));
      socket.close(PISTON_CLOSE.notified_error, 'Notified Error');
      return;
    }
    const connection = new PistonConnection(socket, () => {
      if (connection.state === 'waiting')
        connection.close(PISTON_CLOSE.init_timeout, 'Initialization Timeout');
    });
    connection.client = client;
    this.#connections.set(socket, connection);
  }

  message(socket: SocketLike, text: string): void {
    const connection = this.#connections.get(socket);
    if (!connection || connection.state === 'closed') return;
    let frame: PistonClientMessage;
    try {
      const parsed = v.safeParse(PistonClientFrame, JSON.parse(text));
      if (!parsed.success) {
        const [problem] = describeIssues(parsed.issues);
        connection.fail(`${problem?.path}: ${problem?.message}`);
        return;
      }
      frame = parsed.output;
    } catch {
      connection.fail('The message is not valid JSON');
      return;
    }
    if (frame.type === 'init') {
      if (connection.state !== 'waiting')
        connection.close(PISTON_CLOSE.already_initialized, 'Already Initialized');
      else this.#init(connection, frame);
      return;
    }
    if (connection.state !== 'running' || !connection.jobId) {
      connection.close(PISTON_CLOSE.not_initialized, 'Not yet initialized');
      return;
    }
    // The job may be held by another gateway: a refusal comes later, and ends the socket as before.
    const fail = (err: unknown) => connection.fail((err as Error).message);
    const { dispatcher } = this.#deps;
    if (frame.type === 'data' && frame.stream !== 'stdin') {
      connection.close(PISTON_CLOSE.only_stdin, 'Can only write to stdin');
    } else if (frame.type === 'data') {
      dispatcher.control(connection.jobId, { type: 'stdin', data: frame.data }).catch(fail);
    } else if (frame.type === 'eof') dispatcher.control(connection.jobId, { type: 'stdin_eof' }).catch(fail);
    else if ((SIGNALS as readonly string[]).includes(frame.signal)) {
      dispatcher.control(connection.jobId, { type: 'signal', signal: frame.signal as Signal }).catch(fail);
    } else connection.close(PISTON_CLOSE.invalid_signal, 'Invalid signal');
  }

  close(socket: SocketLike): void {
    const connection = this.#connections.get(socket);
    if (!connection) return;
    this.#connections.delete(socket);
    const { jobId } = connection;
    const wasRunning = connection.state === 'running';
    connection.state = 'closed';
    clearTimeout(connection.initTimer);
    connection.unwatch();
    // The program's only input was this socket: end it with the socket.
    if (wasRunning && jobId) this.#deps.dispatcher.cancel(jobId);
  }

  #init(connection: PistonConnection, frame: Extract<PistonClientMessage, { type: 'init' }>): void {
    clearTimeout(connection.initTimer);
    const { type: _type, ...body } = frame;
    const { dispatcher, intake, registry } = this.#deps;
    let runtime: { name: string; version: string };
    let job: JobRecord;
    try {
      this.#deps.admit?.(connection.client);
      runtime = resolveRuntime(registry, intake, body.language, body.version);
      job = intake.submit(pistonToRequest(body, runtime.name), true, connection.client).job;
    } catch (err) {
      connection.fail((err as Error).message);
      return;
    }
    connection.state = 'running';
    connection.jobId = job.id;
    connection.send({ type: 'runtime', language: runtime.name, version: runtime.version });
    const compiled = findLanguage(runtime.name)?.compile !== undefined;
    // Piston's order for a compiled language: stage compile, its data, its exit, stage run, the
    // program's data, its exit. The runner's `stage` frame marks the run stage's start, with the
    // compile stage's result; without it (the compile failed) the compile stage ends at the end.
    let compileReported = false;
    const reportCompile = (compile: StageResult) => {
      compileReported = true;
      for (const stream of ['stdout', 'stderr'] as const) {
        if (compile[stream] !== '') connection.send({ type: 'data', stream, data: compile[stream] });
      }
      connection.send({ type: 'exit', stage: 'compile', code: compile.exit_code, signal: compile.signal });
    };
    connection.unwatch = dispatcher.watch(job.id, {
      start: () => connection.send({ type: 'stage', stage: compiled ? 'compile' : 'run' }),
      stage: (stage, compile) => {
        if (stage !== 'run' || !compiled || compileReported) return;
        if (compile) reportCompile(compile);
        else compileReported = true;
        connection.send({ type: 'stage', stage: 'run' });
      },
      output: (event) => connection.send({ type: 'data', stream: event.stream, data: event.data }),
      end: (ended) => {
        if (ended.status === 'failed') {
          connection.fail(ended.error?.message ?? 'the job could not be run');
          return;
        }
        if (ended.compile && !compileReported) {
          reportCompile(ended.compile);
          if (ended.reason !== 'compile_failed') connection.send({ type: 'stage', stage: 'run' });
        }
        if (ended.reason !== 'compile_failed') {
          connection.send({ type: 'exit', stage: 'run', code: ended.exit_code, signal: ended.signal });
        }
        connection.close(PISTON_CLOSE.job_completed, 'Job Completed');
      },
    });
  }
}
