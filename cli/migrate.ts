// `codeexec migrate`: copies a gateway's job files (its data directory, read by LowdbJobStore so
// the journal is replayed as the gateway replays it) into a PostgreSQL job store, job by job in
// creation order, each record whole and in the state it was stored in. Jobs the database already
// holds are skipped, so an interrupted run is resumed by running it again.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Env } from '../gateway/gateway-config.js';
import type { JobStore } from '../gateway/store/job-store-api.js';
import { LowdbJobStore } from '../gateway/store/lowdb-job-store.js';
import { parseStoreSpec } from '../gateway/store/open-job-store.js';
import { redactedUrl } from '../gateway/store/postgres/pg-errors.js';
import { StoreError } from '../gateway/store/store-errors.js';
import type { JobRecord, JobState, Logger } from '../shared/index.js';
import { EXIT_USAGE, UsageError } from './run.js';

export const MIGRATE_USAGE = `usage: codeexec migrate --from DIR --to postgres://user:password@host:port/database
                        [--dry-run]

  Copies every job of a gateway's data directory DIR (jobs.json and jobs.journal; default
  CODEEXEC_DATA_DIR) into the PostgreSQL database of --to (default CODEEXEC_STORE), creating its
  tables if needed. Each job is copied whole, oldest first, in the state it was stored in:
  finished, queued or running (the first gateway started on the database picks up the queued and
  running ones, as a restarted gateway does). A job the database already holds (same id) is
  skipped, never overwritten: run it again after an interruption and it goes on where it stopped.

  Stop the gateway first. It keeps no lock on its data directory, so this command cannot tell
  that it is running: jobs it accepted meanwhile would be missed, and opening its files while it
  writes them can damage the journal. Start no gateway on the database until this is done.

  --dry-run   read DIR and count its jobs; the database is not contacted, nothing written to it

  Progress goes to stderr every 1000 jobs; the summary (copied, skipped, total, seconds) to
  stdout. The password in the URL is never printed.

  Exit codes: 0 done, 2 bad arguments, 3 a store could not be opened or a write failed (the
  message says whether the source or the target).
`;

/** The exit code when the source or the target store cannot be opened, read or written. */
export const EXIT_STORE = 3;
const PROGRESS_EVERY = 1000;

export interface MigrateArgs {
  kind: 'migrate';
  /** The data directory, absolute. */
  from: string;
  /** The postgres:// URL, with its password: print only redactedUrl(to). */
  to: string;
  dryRun: boolean;
}

const OPTIONS = {
  from: { type: 'string' },
  to: { type: 'string' },
  'dry-run': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Passwords of URLs in `text` (user:password@ and ?password=) as `***`. For messages that may
 * quote what was typed (parseArgs quotes an unexpected argument) or what a library said.
 */
export function redactPasswords(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^\s/@:'"]*:)[^\s'"]*@/gi, '$1***@')
    .replace(/([?&]password=)[^&\s'"]*/gi, '$1***');
}

export function parseMigrateArgs(argv: readonly string[], env: Env): MigrateArgs | { kind: 'help' } {
  let values: { from?: string; to?: string; 'dry-run'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    // `Unexpected argument 'postgres://u:pw@h/db'` when --to was forgotten: not with the password.
    throw new UsageError(redactPasswords((err as Error).message));
  }
  if (values.help) return { kind: 'help' };
  const from = values.from ?? (env.CODEEXEC_DATA_DIR?.trim() || undefined);
  if (from === undefined || from === '') {
    throw new UsageError('--from DIR is required (or CODEEXEC_DATA_DIR): the gateway’s data directory');
  }
  const toName = values.to === undefined ? 'CODEEXEC_STORE' : '--to';
  const to = (values.to ?? env.CODEEXEC_STORE ?? '').trim();
  if (to === '') {
    throw new UsageError('--to postgres://user:password@host:port/database is required (or CODEEXEC_STORE)');
  }
  try {
    // The gateway's own rule for CODEEXEC_STORE; its messages never echo the value.
    if (parseStoreSpec(to).kind !== 'postgres') throw new Error(`${toName} is not a postgres:// URL`);
  } catch (err) {
    throw new UsageError((err as Error).message.replaceAll('CODEEXEC_STORE', toName));
  }
  return { kind: 'migrate', from: resolve(from), to, dryRun: values['dry-run'] === true };
}

export interface MigrateOutput {
  /** The summary. */
  out: { write(text: string): unknown };
  /** Progress and errors. */
  err: { write(text: string): unknown };
}

/** Migrates as `args` say; resolves with the exit code (failures are reported on `io.err`). */
export async function migrate(args: MigrateArgs, log: Logger, io: MigrateOutput): Promise<number> {
  const started = performance.now();
  const target = redactedUrl(args.to);
  // The URL is only ever shown redacted; every line goes through redactPasswords as well, in case a
  // library's message quotes a URL.
  const say = (text: string) => io.err.write(`codeexec migrate: ${redactPasswords(text)}\n`);
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);

  const missing = sourceProblem(args.from);
  if (missing !== null) {
    say(`source ${args.from}: ${missing}`);
    return EXIT_STORE;
  }
  const source = new LowdbJobStore(args.from);
  let jobs: JobRecord[];
  try {
    await source.open();
    const total = await source.size();
    // list is newest first: reversed, the order the gateway created them in.
    jobs = (await source.list({}, 0, total)).jobs.reverse();
  } catch (err) {
    say(`source ${args.from}: cannot read its jobs: ${(err as Error).message}`);
    return EXIT_STORE;
  } finally {
    await source.close().catch(() => {});
  }

  if (args.dryRun) {
    io.out.write(
      redactPasswords(
        `dry run: ${jobs.length} jobs in ${args.from} (${countStates(jobs)}) would go to ${target}; ` +
          `the database was not contacted, nothing written, ${seconds()} s\n`,
      ),
    );
    return 0;
  }

  const { PostgresJobStore } = await import('../gateway/store/postgres/postgres-job-store.js');
  const store: JobStore = new PostgresJobStore(args.to, {
    log,
    onError: (err) => log.warn({ err: redactPasswords(err.message) }, 'a job database connection failed'),
  });
  try {
    await store.open();
  } catch (err) {
    await store.close().catch(() => {});
    say(`target ${target}: cannot open the job store: ${(err as Error).message}`);
    return EXIT_STORE;
  }
  let copied = 0;
  let skipped = 0;
  let failed = false;
  try {
    for (const job of jobs) {
      // Looked up first: a rerun then costs a read per job, not a refused INSERT in the server's log.
      if ((await store.get(job.id)) !== undefined) skipped++;
      else if (await insertNew(store, job)) copied++;
      else skipped++; // stored meanwhile (another migrate on the same database)
      const done = copied + skipped;
      if (done % PROGRESS_EVERY === 0 && done < jobs.length) {
        say(`${done} of ${jobs.length} jobs (${copied} copied, ${skipped} skipped), ${seconds()} s`);
      }
    }
  } catch (err) {
    failed = true;
    const done = copied + skipped;
    say(
      `target ${target}: copying job ${jobs[done]?.id ?? '?'} failed: ${(err as Error).message} ` +
        `(${copied} copied, ${skipped} skipped before it; run it again to go on)`,
    );
  } finally {
    await store.close().catch((err: Error) => {
      if (!failed) say(`target ${target}: closing the job store failed: ${err.message}`);
      failed = true;
    });
  }
  if (failed) return EXIT_STORE;
  io.out.write(
    redactPasswords(
      `migrated ${args.from} to ${target}: copied ${copied}, skipped ${skipped} (already there), ` +
        `total ${jobs.length}, ${seconds()} s\n`,
    ),
  );
  return 0;
}

/** Inserts `job`; false if a job of its id is stored already (duplicate_id). */
async function insertNew(store: JobStore, job: JobRecord): Promise<boolean> {
  try {
    // Any state: insert stores the record as given (the JobStore contract checks its shape only).
    await store.insert(job);
    return true;
  } catch (err) {
    if (err instanceof StoreError && err.code === 'duplicate_id') return false;
    throw err;
  }
}

/** Why `dir` is not a gateway's data directory, or null when it holds job files. */
function sourceProblem(dir: string): string | null {
  // Checked before LowdbJobStore.open, which would create a missing directory and find no jobs.
  if (!existsSync(dir)) return 'no such directory';
  if (!statSync(dir).isDirectory()) return 'not a directory';
  const files = ['jobs.json', 'jobs.journal', 'jobs.journal.old'];
  if (!files.some((file) => existsSync(join(dir, file)))) {
    return 'holds no jobs.json or jobs.journal: is it the gateway’s data directory (CODEEXEC_DATA_DIR)?';
  }
  return null;
}

const STATES: readonly JobState[] = ['done', 'failed', 'cancelled', 'queued', 'running'];

/** "3 done, 1 running": the jobs per state, the states there are. */
function countStates(jobs: readonly JobRecord[]): string {
  const counts = STATES.map((state) => [state, jobs.filter((job) => job.status === state).length] as const);
  const present = counts.filter(([, n]) => n > 0).map(([state, n]) => `${n} ${state}`);
  return present.length > 0 ? present.join(', ') : 'none';
}

export async function migrateCommand(env: Env, log: Logger, argv = process.argv.slice(3)): Promise<void> {
  let args: ReturnType<typeof parseMigrateArgs>;
  try {
    args = parseMigrateArgs(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`codeexec migrate: ${err.message}\n\n${MIGRATE_USAGE}`);
    process.exit(EXIT_USAGE);
  }
  if (args.kind === 'help') {
    process.stdout.write(MIGRATE_USAGE);
    return;
  }
  // Not process.exit: let stdout and stderr drain first.
  process.exitCode = await migrate(args, log, { out: process.stdout, err: process.stderr });
}
