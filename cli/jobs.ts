// `codeexec jobs`: the latest jobs on a gateway (GET /execute), as a table or as JSON.
import { parseArgs } from 'node:util';
import type { Env } from '../gateway/gateway-config.js';
import type { Logger } from '../shared/index.js';
import type { JobStatus } from '../shared/rest.js';
import { authHeaders, EXIT_USAGE, gatewayUrl, getJson, UsageError } from './run.js';
import { formatTable } from './runners.js';

export const JOBS_USAGE = `usage: codeexec jobs [--limit N] [--json] [--gateway URL] [--key K]

  Lists the latest jobs on the gateway at URL (or CODEEXEC_GATEWAY_URL, else
  http://127.0.0.1:8080), with the API key of CODEEXEC_API_KEY (or --key K): with an API key, your
  own jobs. Columns: id (short), lang, status, attempt, runner, created.

  --limit N   how many, 1 to 500 (default 20)
  --json      the gateway's answer as JSON

  Exit codes: 0 done, 2 bad arguments, 3 gateway or connection error.
`;

export interface JobsArgs {
  kind: 'list';
  limit: number;
  json: boolean;
  gateway: string;
  key: string | null;
}

const OPTIONS = {
  limit: { type: 'string' },
  json: { type: 'boolean' },
  gateway: { type: 'string' },
  key: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parseJobsArgs(argv: readonly string[], env: Env): JobsArgs | { kind: 'help' } {
  let values: { limit?: string; json?: boolean; gateway?: string; key?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return { kind: 'help' };
  let limit = 20;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!/^\d+$/.test(values.limit) || limit < 1 || limit > 500) {
      throw new UsageError(`--limit must be a whole number from 1 to 500, got "${values.limit}"`);
    }
  }
  return {
    kind: 'list',
    limit,
    json: values.json === true,
    gateway: gatewayUrl(values.gateway, env),
    key: values.key ?? (env.CODEEXEC_API_KEY?.trim() || null),
  };
}

/** The jobs as a table for people. */
export function formatJobs(jobs: readonly JobStatus[]): string {
  if (jobs.length === 0) return 'no jobs\n';
  return formatTable(
    ['ID', 'LANG', 'STATUS', 'ATTEMPT', 'RUNNER', 'CREATED'],
    jobs.map((job) => [
      job.id.slice(0, 8),
      job.lang,
      job.status,
      String(job.attempt),
      job.runner_id ?? '-',
      job.created_at.replace('T', ' ').replace(/\.\d+Z$|Z$/, ''),
    ]),
  );
}

export async function jobsCommand(env: Env, _log: Logger, argv = process.argv.slice(3)): Promise<void> {
  let args: ReturnType<typeof parseJobsArgs>;
  try {
    args = parseJobsArgs(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`codeexec jobs: ${err.message}\n\n${JOBS_USAGE}`);
    process.exit(EXIT_USAGE);
  }
  if (args.kind === 'help') {
    process.stdout.write(JOBS_USAGE);
    return;
  }
  const answer = await getJson<{ jobs: JobStatus[] }>(
    'jobs',
    `${args.gateway}/execute?limit=${args.limit}`,
    authHeaders(args.key),
  );
  if (answer === null) return;
  process.stdout.write(args.json ? `${JSON.stringify(answer, null, 2)}\n` : formatJobs(answer.jobs));
}
