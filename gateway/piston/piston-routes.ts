// Piston v2 compatibility: GET /api/v2/runtimes and POST /api/v2/execute (here) and WS
// /api/v2/connect (piston-socket.ts), mapped onto ordinary jobs, so existing Piston clients work
// unchanged. Piston answers errors as `{ "message": … }`, and so do these routes.
import * as v from 'valibot';
import {
  type AsyncRequest,
  CodeexecError,
  describeIssues,
  type FileInput,
  type JobRecord,
  type LimitsInput,
  type Logger,
  type PistonExecute,
  PistonExecuteSchema,
  type StageResult,
} from '../../shared/index.js';
import { json, type Route } from '../http/router.js';
import type { Dispatcher } from '../jobs/dispatcher.js';
import type { JobIntake } from '../jobs/job-intake.js';
import type { RunnerRegistry } from '../runners/runner-registry.js';
import type { UpgradeInfo } from '../transport/transport.js';

export interface PistonDeps {
  dispatcher: Dispatcher;
  intake: JobIntake;
  registry: RunnerRegistry;
  log: Logger;
  /**
   * The caller's identity (its key, from the Authorization header or `?key=`, or its address);
   * throws CodeexecError('unauthorized').
   */
  authorize?: (upgrade: UpgradeInfo, remoteAddress: string) => string;
  /** Counts a submission against the client's rate limit; throws rate_limited past it. */
  admit?: (client: string | null) => void;
}

/** Piston's error body. The router adds the fields (Retry-After, RateLimit-*, WWW-Authenticate). */
const pistonError = (err: CodeexecError) => ({ message: err.message });

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
export function resolveRuntime(
  registry: RunnerRegistry,
  intake: JobIntake,
  language: string,
  selector: string,
) {
  let name: string;
  try {
    name = intake.resolveLanguage(language);
  } catch {
    throw new CodeexecError('unknown_language', `${language}-${selector} runtime is unknown`);
  }
  const offered = registry.languageSummary().get(name);
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

export function pistonRoutes({ dispatcher, intake, registry }: PistonDeps): Route[] {
  // Piston's clients cannot set headers: the key may come as `?key=` (docs/piston.md, its risk).
  const piston = { queryKey: true, errorBody: pistonError } as const;
  return [
    {
      method: 'GET',
      path: '/api/v2/runtimes',
      ...piston,
      handle: async () => {
        const runtimes = [...registry.languageSummary().values()].flatMap((lang) =>
          lang.versions.map((version) => ({ language: lang.name, version, aliases: lang.aliases })),
        );
        return json(200, runtimes);
      },
    },
    {
      method: 'POST',
      path: '/api/v2/execute',
      ...piston,
      submits: true,
      handle: async ({ req, client }) => {
        let raw: unknown;
        try {
          raw = JSON.parse(req.body.toString('utf8'));
        } catch {
          throw new CodeexecError('invalid_json', 'The body is not valid JSON');
        }
        const body = parsePiston(raw);
        const runtime = resolveRuntime(registry, intake, body.language, body.version);
        const job = await dispatcher.wait(
          intake.submit(pistonToRequest(body, runtime.name), false, client).job.id,
        );
        if (job.status === 'failed') {
          throw new CodeexecError('internal', job.error?.message ?? 'the job could not be run');
        }
        return json(200, pistonResult(job, runtime.name, runtime.version));
      },
    },
  ];
}
