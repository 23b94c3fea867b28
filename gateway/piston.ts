// Piston v2 compatibility: GET /api/v2/runtimes, POST /api/v2/execute and WS /api/v2/connect,
// mapped onto ordinary jobs, so existing Piston clients work unchanged. Piston answers errors
// as `{ "message": … }`, and so do these routes.
import * as v from 'valibot';
import {
  type AsyncRequest,
  CodeexecError,
  describeIssues,
  type FileInput,
  findLanguage,
  type JobRecord,
  type LimitsInput,
  type Logger,
  PISTON_CLOSE,
  PistonClientFrame,
  type PistonClientMessage,
  type PistonExecute,
  PistonExecuteSchema,
  SIGNALS,
  type Signal,
  type StageResult,
} from '../shared/index.js';
import type { Dispatcher } from './dispatcher.js';
import type { JobIntake } from './job-intake.js';
import { json, type Route } from './router.js';
import type { RunnerHub } from './runner-hub.js';
import type { HttpResponse, SocketHandler, SocketLike, UpgradeInfo } from './transport/transport.js';

export interface PistonDeps {
  dispatcher: Dispatcher;
  intake: JobIntake;
  hub: RunnerHub;
  log: Logger;
  /** The caller's identity (its key, or its address); throws CodeexecError('unauthorized'). */
  authorize?: (upgrade: UpgradeInfo, remoteAddress: string) => string;
}

const pistonError = (status: number, message: string): HttpResponse => json(status, { message });

/** Piston validates field by field and names the first problem; so do we. */
function parsePiston(input: unknown): PistonExecute {
  const result = v.safeParse(PistonExecuteSchema, input);
  if (result.success) return result.output;
  const [problem] = describeIssues(result.issues);
  throw new CodeexecError('invalid_request', `${problem?.path}: ${problem?.message}`);
}

/** A Piston version selector: `*`, an exact version, or a prefix (`3`, `3.11`, `3.11.x`). */
function versionMatches(selector: string, version: string): boolean {
  if (selector === '*' || selector === '' || selector === version) return true;
  const prefix = selector.replace(/(\.[x*])+$/i, '');
  return version === prefix || version.startsWith(`${prefix}.`);
}

/** Our language and the version that will run, or Piston's "runtime is unknown". */
function resolveRuntime(hub: RunnerHub, intake: JobIntake, language: string, selector: string) {
  let name: string;
  try {
    name = intake.resolveLanguage(language);
  } catch {
    throw new CodeexecError('unknown_language', `${language}-${selector} runtime is unknown`);
  }
  const offered = hub.languageSummary().get(name);
  const version = offered?.versions.find((candidate) => versionMatches(selector, candidate));
  if (!version) throw new CodeexecError('unknown_language', `${language}-${selector} runtime is unknown`);
  return { name, version };
}

function decode(content: string, encoding: 'utf8' | 'base64' | 'hex'): Buffer {
  return Buffer.from(content, encoding);
}

/** Piston's -1 (or absent) means "the default": leave the limit out. */
function limits(
  wall: number | undefined,
  cpu: number | undefined,
  memory: number | undefined,
): LimitsInput | undefined {
  const out: LimitsInput = {};
  if (wall !== undefined && wall > 0) out.wall_time_ms = wall;
  if (cpu !== undefined && cpu > 0) out.cpu_time_ms = cpu;
  if (memory !== undefined && memory > 0) out.memory_bytes = memory;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The first file is the program (Piston's rule); the others go beside it. */
export function pistonToRequest(body: PistonExecute, lang: string): AsyncRequest {
  const [main, ...rest] = body.files;
  const files: FileInput[] = rest.map((file, i) => ({
    name: file.name || `file${i + 1}.code`,
    content: file.encoding === 'hex' ? decode(file.content, 'hex').toString('base64') : file.content,
    encoding: file.encoding === 'utf8' ? 'utf8' : 'base64',
  }));
  const run = limits(body.run_timeout, body.run_cpu_time, body.run_memory_limit);
  const compile = limits(body.compile_timeout, body.compile_cpu_time, body.compile_memory_limit);
  return {
    lang,
    code: decode(main!.content, main!.encoding).toString('utf8'),
    stdin: body.stdin,
    args: body.args,
    ...(files.length > 0 ? { files } : {}),
    ...(run ? { limits: run } : {}),
    ...(compile ? { compile_limits: compile } : {}),
  };
}

const STATUS_OF: Record<StageResult['reason'], { status: string | null; message: string | null }> = {
  exited: { status: null, message: null },
  wall_time: { status: 'TO', message: 'Wall time limit exceeded' },
  cpu_time: { status: 'TO', message: 'CPU time limit exceeded' },
  memory: { status: 'SG', message: 'Memory limit exceeded' },
  output_limit: { status: 'OL', message: 'Output limit exceeded' },
  signal: { status: 'SG', message: 'Killed by a signal' },
  compile_failed: { status: 'RE', message: 'Compilation failed' },
  cancelled: { status: 'XX', message: 'Cancelled' },
};

/** One of Piston's stage results. */
export function pistonStage(stage: StageResult) {
  let { status, message } = STATUS_OF[stage.reason];
  if (stage.reason === 'exited' && stage.exit_code !== 0) {
    status = 'RE';
    message = `Exited with code ${stage.exit_code}`;
  }
  return {
    stdout: stage.stdout,
    stderr: stage.stderr,
    output: stage.output,
    code: stage.exit_code,
    signal: stage.signal,
    message,
    status,
    wall_time: stage.wall_ms,
  };
}

/** Piston's response: `run` (absent when the compile stage failed) and `compile` for compiled languages. */
export function pistonResult(job: JobRecord, language: string, version: string) {
  const run: StageResult = {
    stdout: job.stdout,
    stderr: job.stderr,
    output: job.output,
    exit_code: job.exit_code,
    signal: job.signal,
    reason: job.reason ?? 'exited',
    wall_ms: job.timings.run_ms ?? 0,
    truncated: false,
  };
  return {
    language,
    version,
    ...(job.reason === 'compile_failed' ? {} : { run: pistonStage(run) }),
    ...(job.compile ? { compile: pistonStage(job.compile) } : {}),
  };
}

export function pistonRoutes({ dispatcher, intake, hub }: PistonDeps): Route[] {
  const guard = async (work: () => Promise<HttpResponse>): Promise<HttpResponse> => {
    try {
      return await work();
    } catch (err) {
      if (err instanceof CodeexecError) return pistonError(err.status, err.message);
      throw err;
    }
  };
  return [
    {
      method: 'GET',
      path: '/api/v2/runtimes',
      handle: async () => {
        const runtimes = [...hub.languageSummary().values()].flatMap((lang) =>
          lang.versions.map((version) => ({ language: lang.name, version, aliases: lang.aliases })),
        );
        return json(200, runtimes);
      },
    },
    {
      method: 'POST',
      path: '/api/v2/execute',
      handle: ({ req, client }) =>
        guard(async () => {
          let raw: unknown;
          try {
            raw = JSON.parse(req.body.toString('utf8'));
          } catch {
            throw new CodeexecError('invalid_json', 'The body is not valid JSON');
          }
          const body = parsePiston(raw);
          const runtime = resolveRuntime(hub, intake, body.language, body.version);
          const job = await dispatcher.wait(
            intake.submit(pistonToRequest(body, runtime.name), false, client).id,
          );
          if (job.status === 'failed') {
            throw new CodeexecError('internal', job.error?.message ?? 'the job could not be run');
          }
          return json(200, pistonResult(job, runtime.name, runtime.version));
        }),
    },
  ];
}

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
    try {
      if (frame.type === 'data' && frame.stream !== 'stdin') {
        connection.close(PISTON_CLOSE.only_stdin, 'Can only write to stdin');
      } else if (frame.type === 'data') {
        this.#deps.dispatcher.control(connection.jobId, { type: 'stdin', data: frame.data });
      } else if (frame.type === 'eof') this.#deps.dispatcher.control(connection.jobId, { type: 'stdin_eof' });
      else if ((SIGNALS as readonly string[]).includes(frame.signal)) {
        this.#deps.dispatcher.control(connection.jobId, { type: 'signal', signal: frame.signal as Signal });
      } else connection.close(PISTON_CLOSE.invalid_signal, 'Invalid signal');
    } catch (err) {
      connection.fail((err as Error).message);
    }
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
    const { dispatcher, intake, hub } = this.#deps;
    let runtime: { name: string; version: string };
    let job: JobRecord;
    try {
      runtime = resolveRuntime(hub, intake, body.language, body.version);
      job = intake.submit(pistonToRequest(body, runtime.name), true, connection.client);
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
