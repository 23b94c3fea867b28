// `codeexec donor`: the headless donor (a computer without a GUI that donates its spare CPU,
// BOINC-style) and the commands that steer it (`status`, `pause`, `resume`, `finish`) over its
// control socket. A thin main over donor/donor-service.ts: arguments (node:util parseArgs, strict),
// the settings file, signals to drain and stop.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { controlRequest, DonorNotRunningError } from '../donor/control-client.js';
import { type ControlRequest, ControlSocket } from '../donor/control-socket.js';
import { DonorService, type DonorServiceOptions } from '../donor/donor-service.js';
import { linuxProbes } from '../donor/linux-probes.js';
import { loadSettings } from '../donor/settings-file.js';
import { type Env, envInt } from '../gateway/gateway-config.js';
import { DataDirLockedError } from '../runner/identity/data-dir-lock.js';
import { type DonorSettings, type DonorStatus, HEADLESS_DEFAULT_SETTINGS } from '../shared/donor.js';
import type { Logger } from '../shared/index.js';
import { dockerFromEnv } from './runner.js';
import { onSignals } from './signals.js';

export const DONOR_USAGE = `usage: codeexec donor --gateway URL [--data DIR] [--slots N]
       codeexec donor status [--json] [--data DIR]
       codeexec donor pause [--for DURATION] [--json] [--data DIR]
       codeexec donor resume [--json] [--data DIR]
       codeexec donor finish [--wait] [--json] [--data DIR]

  Donates this computer's spare CPU to the gateway at URL (or CODEEXEC_GATEWAY_URL), running its
  jobs in Docker sandboxes. The token comes from CODEEXEC_DONOR_TOKEN; --token TOKEN works too, but
  other users of this computer can read a command line (ps), not your environment.

  --data DIR   the donor's directory: its identity, settings.json, ledger and control socket
               (default ~/.codeexec/donor). One donor per directory; two directories, two donors.
  --slots N    jobs at once (overrides limits.max_jobs of settings.json)

  DIR/settings.json has the desktop app's settings schema; without it the donor donates at once
  (no one sits at a headless computer). SIGINT/SIGTERM: finish the running jobs, then stop.

  status       what the donor does and why (--json: the DonorStatus as JSON)
  pause        hand the running jobs back now and take none, until resumed or for DURATION
               (90s, 30m, 1h, 2h30m, 1d); it stays paused across restarts
  resume       donate again as the settings allow
  finish       let the running jobs end, then pause (--wait: return once they have ended)

  Exit codes: 0 done, 1 failed, 2 bad arguments, 3 no donor is running with DIR.
`;

/** A command line that cannot be right: the message, then the usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

const SUBCOMMANDS = ['status', 'pause', 'resume', 'finish'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

export type DonorArgs =
  | { kind: 'help' }
  | {
      kind: 'run';
      gateway: string;
      token: string;
      tokenOnCommandLine: boolean;
      dataDir: string;
      slots: number | null;
    }
  | { kind: 'control'; request: ControlRequest; json: boolean; dataDir: string };

const COMMON = { data: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;
const OPTIONS = {
  run: { ...COMMON, gateway: { type: 'string' }, token: { type: 'string' }, slots: { type: 'string' } },
  status: { ...COMMON, json: { type: 'boolean' } },
  pause: { ...COMMON, json: { type: 'boolean' }, for: { type: 'string' } },
  resume: { ...COMMON, json: { type: 'boolean' } },
  finish: { ...COMMON, json: { type: 'boolean' }, wait: { type: 'boolean' } },
} as const;

/** The command line (after `donor`), or a UsageError saying what is wrong with it. */
export function parseDonorArgs(argv: readonly string[], env: Env, now = Date.now()): DonorArgs {
  const first = argv[0];
  const sub = SUBCOMMANDS.find((name) => name === first) ?? null;
  if (sub === null && first !== undefined && !first.startsWith('-')) {
    throw new UsageError(
      `unknown donor command "${first}"; one of ${SUBCOMMANDS.join(', ')}, or options to run`,
    );
  }
  const args = sub === null ? [...argv] : argv.slice(1);
  let values: Record<string, string | boolean | undefined>;
  try {
    const options = OPTIONS[sub ?? 'run'];
    // Each subcommand's own options; the values are read by name below.
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values as typeof values;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}${sub === null ? '' : ` (donor ${sub})`}`);
  }
  if (values.help) return { kind: 'help' };
  const dataDir = resolve(stringOf(values.data) ?? defaultDonorDir());
  if (sub === null) return runArgs(values, env, dataDir);
  return { kind: 'control', request: requestOf(sub, values, now), json: values.json === true, dataDir };
}

function runArgs(values: Record<string, string | boolean | undefined>, env: Env, dataDir: string): DonorArgs {
  const gateway = stringOf(values.gateway) ?? env.CODEEXEC_GATEWAY_URL;
  if (!gateway) throw new UsageError('give the gateway: --gateway URL (or CODEEXEC_GATEWAY_URL)');
  try {
    const url = new URL(gateway);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new UsageError(`--gateway must be an http(s)://host:port URL, got "${gateway}"`);
  }
  const fromArgs = stringOf(values.token);
  const token = fromArgs ?? env.CODEEXEC_DONOR_TOKEN;
  if (!token) throw new UsageError('give the donor token in CODEEXEC_DONOR_TOKEN (or --token TOKEN)');
  let slots: number | null = null;
  const rawSlots = stringOf(values.slots);
  if (rawSlots !== undefined) {
    slots = Number(rawSlots);
    if (!/^\d+$/.test(rawSlots) || slots < 1 || slots > 64) {
      throw new UsageError(`--slots must be a whole number from 1 to 64, got "${rawSlots}"`);
    }
  }
  return { kind: 'run', gateway, token, tokenOnCommandLine: fromArgs !== undefined, dataDir, slots };
}

function requestOf(
  sub: Subcommand,
  values: Record<string, string | boolean | undefined>,
  now: number,
): ControlRequest {
  switch (sub) {
    case 'status':
      return { cmd: 'status' };
    case 'pause': {
      const duration = stringOf(values.for);
      return { cmd: 'pause', until: duration === undefined ? null : now + parseDuration(duration) };
    }
    case 'resume':
      return { cmd: 'resume' };
    case 'finish':
      return { cmd: 'finish', wait: values.wait === true };
  }
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const MAX_PAUSE_MS = 366 * UNIT_MS.d!;

/** "90s", "30m", "1h", "2h30m", "1.5h", "1d" in ms; a UsageError for anything else. */
export function parseDuration(text: string): number {
  const trimmed = text.trim().toLowerCase();
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)];
  const whole = parts.map((part) => part[0]).join('');
  if (parts.length === 0 || whole !== trimmed) {
    throw new UsageError(`--for takes a duration like 90s, 30m, 1h or 2h30m, got "${text}"`);
  }
  const ms = Math.round(parts.reduce((sum, part) => sum + Number(part[1]) * UNIT_MS[part[2]!]!, 0));
  if (ms < 1000) throw new UsageError(`--for must be at least 1s, got "${text}"`);
  if (ms > MAX_PAUSE_MS)
    throw new UsageError(`--for must be at most 366d (pause without --for: until resumed)`);
  return ms;
}

export function defaultDonorDir(): string {
  return join(homedir(), '.codeexec', 'donor');
}

function stringOf(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export async function donorCommand(env: Env, log: Logger, argv = process.argv.slice(3)): Promise<void> {
  let args: DonorArgs;
  try {
    args = parseDonorArgs(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`codeexec donor: ${err.message}\n\n${DONOR_USAGE}`);
    process.exit(2);
  }
  if (args.kind === 'help') {
    process.stdout.write(DONOR_USAGE);
    return;
  }
  if (args.kind === 'control') {
    process.exitCode = await control(args);
    return;
  }
  await run(args, env, log);
}

/** One request to the running donor; the exit code. */
async function control(args: Extract<DonorArgs, { kind: 'control' }>): Promise<number> {
  const waits = args.request.cmd === 'finish' && args.request.wait === true;
  let response: Awaited<ReturnType<typeof controlRequest>>;
  try {
    response = await controlRequest(args.dataDir, args.request, { timeoutMs: waits ? null : 10_000 });
  } catch (err) {
    process.stderr.write(`codeexec donor: ${(err as Error).message}\n`);
    if (err instanceof DonorNotRunningError) {
      process.stderr.write('start one with `codeexec donor --gateway URL`, or give its --data DIR\n');
      return 3;
    }
    return 1;
  }
  if (!response.ok) {
    process.stderr.write(`codeexec donor: the donor refused: ${response.error}\n`);
    return 1;
  }
  process.stdout.write(
    args.json ? `${JSON.stringify(response.status, null, 2)}\n` : formatStatus(response.status),
  );
  return 0;
}

/** The headless donor: runs until a signal, or until the gateway refuses it. */
async function run(args: Extract<DonorArgs, { kind: 'run' }>, env: Env, log: Logger): Promise<void> {
  if (args.tokenOnCommandLine) {
    log.warn(
      'the token is on the command line, where other users can see it (ps): prefer CODEEXEC_DONOR_TOKEN',
    );
  }
  const file = join(args.dataDir, 'settings.json');
  // A damaged file throws SettingsFileError: the command fails with its message (exit 1).
  const loaded = await loadSettings(file, HEADLESS_DEFAULT_SETTINGS);
  const settings: DonorSettings =
    args.slots === null
      ? loaded.settings
      : { ...loaded.settings, limits: { ...loaded.settings.limits, max_jobs: args.slots } };
  log.info(
    { file, source: loaded.source, ...(args.slots === null ? {} : { slots: args.slots }) },
    'donor settings',
  );
  let service: DonorService | null = null;
  const probes = linuxProbes({ donorCpus: () => service?.busyCpus ?? 0 });
  const docker = dockerFromEnv(env);
  const minBackoffMs = envInt(env, 'CODEEXEC_RECONNECT_MIN_MS', 1);
  const maxBackoffMs = envInt(env, 'CODEEXEC_RECONNECT_MAX_MS', 1);
  const minWarm = envInt(env, 'CODEEXEC_POOL_MIN');
  const maxWarm = envInt(env, 'CODEEXEC_POOL_MAX', 1);
  const donor = await openDonor({
    gatewayUrl: args.gateway,
    token: args.token,
    dataDir: args.dataDir,
    settings,
    probes,
    log,
    runner: {
      ...(docker ? { docker } : {}),
      ...(minBackoffMs === undefined ? {} : { minBackoffMs }),
      ...(maxBackoffMs === undefined ? {} : { maxBackoffMs }),
      ...(minWarm === undefined ? {} : { minWarm }),
      ...(maxWarm === undefined ? {} : { maxWarm }),
    },
  });
  service = donor;
  let socket: ControlSocket;
  try {
    socket = await ControlSocket.listen(args.dataDir, donor, log);
  } catch (err) {
    await donor.close({ now: true });
    throw err;
  }
  log.info({ path: socket.path }, 'donor control socket');
  // The socket answers until the donor has stopped (status says "stopping" meanwhile).
  const stop = (now: boolean) => donor.close({ now }).finally(() => socket.close());
  donor.on('fatal', (err) => {
    log.error({ err }, 'the donor cannot go on');
    void stop(true).finally(() => process.exit(1));
  });
  // First signal: finish the running jobs, then stop; second: hand them back and stop now.
  onSignals(
    log,
    () => stop(false),
    () => stop(true),
  );
  await donor.start();
}

/** DonorService.open, saying in the donor's terms when another donor has the directory. */
async function openDonor(options: DonorServiceOptions): Promise<DonorService> {
  try {
    return await DonorService.open(options);
  } catch (err) {
    if (!(err instanceof DataDirLockedError)) throw err;
    throw new Error(
      `another donor (process ${err.pid}) is running with the data directory ${options.dataDir}: ` +
        'stop it, or give this one a --data DIR of its own',
    );
  }
}

/** The status for people: what the donor does and why, what it has given, what it offers. */
export function formatStatus(status: DonorStatus, now = Date.now()): string {
  const lines = [`${status.state}: ${status.reason_text}`];
  const { connection } = status;
  const link =
    connection.state === 'retrying'
      ? `retrying${connection.retry_in_ms === undefined ? '' : ` in ${seconds(connection.retry_in_ms)}`}`
      : connection.state === 'refused'
        ? `refused: ${connection.message ?? 'no reason given'}`
        : connection.state;
  lines.push(`gateway:  ${connection.gateway} (${link})`);
  if (status.engine_problem !== null) lines.push(`docker:   ${status.engine_problem}`);
  if (status.paused_until !== undefined) {
    lines.push(
      `paused:   ${status.paused_until === null ? 'until resumed' : `until ${localTime(status.paused_until, true)}`}`,
    );
  }
  lines.push(`running:  ${status.running === 0 ? 'nothing' : `${status.running} job(s)`}`);
  for (const job of status.jobs)
    lines.push(`          ${job.id} (${job.lang}, ${seconds(now - job.started_at)})`);
  lines.push(
    `given:    ${status.jobs_done} job(s), ${status.cpu_seconds.toFixed(1)} CPU s in all; ` +
      `${status.jobs_today} job(s), ${status.cpu_seconds_today.toFixed(1)} CPU s today`,
  );
  const { caps } = status;
  lines.push(
    `offers:   ${caps.slots} job(s) at once, ${caps.cpus} CPU and ${caps.memory_mb} MiB each; ` +
      `${caps.languages === null ? 'every language here' : caps.languages.join(', ')}`,
  );
  const recent = status.log.slice(-5);
  if (recent.length > 0) {
    lines.push('recent:');
    for (const entry of recent) lines.push(`  ${localTime(entry.at)}  ${entry.msg}`);
  }
  return `${lines.join('\n')}\n`;
}

/** "14:05:09", or with the day "2026-05-06 14:05" (local time, whatever the locale). */
function localTime(ms: number, withDay = false): string {
  const at = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  const day = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}`;
  return withDay ? `${day} ${time}` : `${time}:${pad(at.getSeconds())}`;
}

function seconds(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
}
