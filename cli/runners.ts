// `codeexec runners`: the runners connected to the gateways of a fleet, as one gateway sees them
// (GET /runners, an operator route), as a table or as JSON.
import { parseArgs } from 'node:util';
import type { Env } from '../gateway/gateway-config.js';
import type { Logger } from '../shared/index.js';
import type { RunnersResponse, RunnerView } from '../shared/rest.js';
import { authHeaders, EXIT_USAGE, gatewayUrl, getJson, UsageError } from './run.js';

export const RUNNERS_USAGE = `usage: codeexec runners [--json] [--gateway URL] [--key K]

  Lists the runners connected to the gateway at URL (or CODEEXEC_GATEWAY_URL, else
  http://127.0.0.1:8080) and to every other gateway sharing its database (as of their last
  beat). An operator route: it needs an admin key, CODEEXEC_ADMIN_KEY (or --key K), unless the
  gateway has none and runs on this machine. Columns: name, gateway (its id), tier, state, slots
  used/total, jobs done, languages.

  --json      the gateway's answer as JSON

  Exit codes: 0 done, 2 bad arguments, 3 gateway or connection error.
`;

export interface RunnersArgs {
  kind: 'list';
  json: boolean;
  gateway: string;
  key: string | null;
}

const OPTIONS = {
  json: { type: 'boolean' },
  gateway: { type: 'string' },
  key: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parseRunnersArgs(argv: readonly string[], env: Env): RunnersArgs | { kind: 'help' } {
  let values: { json?: boolean; gateway?: string; key?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return { kind: 'help' };
  return {
    kind: 'list',
    json: values.json === true,
    gateway: gatewayUrl(values.gateway, env),
    key: values.key ?? (env.CODEEXEC_ADMIN_KEY?.trim() || null),
  };
}

/** Rows under a header, each column as wide as its widest cell, two spaces apart. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[header, ...rows].map(line).join('\n')}\n`;
}

/** The runners as a table for people. */
export function formatRunners(runners: readonly RunnerView[]): string {
  if (runners.length === 0) return 'no runners connected\n';
  return formatTable(
    ['NAME', 'GATEWAY', 'TIER', 'STATE', 'SLOTS', 'DONE', 'LANGUAGES'],
    runners.map((runner) => [
      runner.name,
      runner.gateway ?? '-',
      runner.tier,
      runner.state,
      `${runner.load}/${runner.slots}`,
      String(runner.jobs_done),
      runner.languages.join(','),
    ]),
  );
}

export async function runnersCommand(env: Env, _log: Logger, argv = process.argv.slice(3)): Promise<void> {
  let args: ReturnType<typeof parseRunnersArgs>;
  try {
    args = parseRunnersArgs(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`codeexec runners: ${err.message}\n\n${RUNNERS_USAGE}`);
    process.exit(EXIT_USAGE);
  }
  if (args.kind === 'help') {
    process.stdout.write(RUNNERS_USAGE);
    return;
  }
  // Partial fields: a gateway older than the fleet answers `runners` only.
  const answer = await getJson<Partial<RunnersResponse> & Pick<RunnersResponse, 'runners'>>(
    'runners',
    `${args.gateway}/runners`,
    authHeaders(args.key),
  );
  if (answer === null) return;
  process.stdout.write(args.json ? `${JSON.stringify(answer, null, 2)}\n` : formatRunners(answer.runners));
  if (!args.json && answer.partial) {
    process.stderr.write(
      'codeexec runners: the gateway could not read its fleet (its database is away): its own runners only\n',
    );
  }
}
