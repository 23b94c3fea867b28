// End to end: `codeexec migrate` (node dist/cli.js, a subprocess) copies a gateway's data directory
// into a private PostgreSQL database. The source is written by a LowdbJobStore driven as the
// gateway drives it (inserts, transitions, callback updates, a prune, a compaction half-way), so
// the copy has to replay a snapshot and a journal with removals; the target is read back with
// PostgresJobStore and compared record by record, in creation order. A second run copies nothing,
// a dry run writes nothing, and no message ever shows the password.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { newJob } from '../gateway/jobs/new-job.js';
import type { JobStore } from '../gateway/store/job-store-api.js';
import { LowdbJobStore } from '../gateway/store/lowdb-job-store.js';
import { PostgresJobStore } from '../gateway/store/postgres/postgres-job-store.js';
import type { JobRecord } from '../shared/index.js';
import { teardown, tempDir } from './helpers.js';
import { type PostgresServer, startPostgres } from './postgres-server.js';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const JOBS = 400;
/** Pruned from the source (their removals are in its journal): never copied. */
const PRUNED = JOBS / 8;
const PASSWORD = 'n0t-for-print';

let server: PostgresServer;
let source: string;
/** The source's jobs, oldest first, as LowdbJobStore reads them back. */
let expected: JobRecord[];

/** The child's environment: the tests' own CODEEXEC_* variables stay out, `extra` goes in. */
function childEnv(extra: Record<string, string>): Record<string, string> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => !entry[0].startsWith('CODEEXEC_') && entry[1] !== undefined,
    ),
  );
  return { ...inherited, CODEEXEC_LOG_LEVEL: 'warn', ...extra };
}

/** `codeexec migrate <args>`: its exit code and output. */
function migrate(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, 'migrate', ...args],
      { env: childEnv(env), timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The database URL with a password in it (trust authentication: the server never asks for it). */
async function newDatabase(): Promise<string> {
  const url = new URL(await server.createDatabase());
  url.password = PASSWORD;
  return url.toString();
}

async function openTarget(url: string): Promise<PostgresJobStore> {
  const store = new PostgresJobStore(url, { synchronousCommit: false });
  teardown(() => store.close());
  await store.open();
  return store;
}

/** Every job of `store`, oldest first. */
async function allJobs(store: JobStore): Promise<JobRecord[]> {
  return (await store.list({}, 0, 100_000)).jobs.reverse();
}

/** A gateway's data directory: JOBS jobs in every state, PRUNED of them removed again. */
async function writeSource(dir: string): Promise<void> {
  // A small compaction threshold: part of the history is in jobs.json, the rest in jobs.journal.
  const store = new LowdbJobStore(dir, { fsync: false, compactAfterBytes: 32 * 1024 });
  await store.open();
  const at = (i: number, ms = 0) => new Date(Date.UTC(2026, 0, 1) + i * 1000 + ms).toISOString();
  for (let i = 0; i < JOBS; i++) {
    const job = newJob(
      {
        lang: i % 2 === 0 ? 'python' : 'go',
        code: `print(${i})`,
        ...(i % 3 === 0 ? { callback_url: `https://hooks.example/${i}` } : {}),
        ...(i % 5 === 0 ? { task_id: `task-${i % 7}`, stdin: 'in\u0000put' } : {}),
      },
      { lang: i % 2 === 0 ? 'python' : 'go', interactive: false, client: `key:${i % 4}` },
    );
    const id = `job-${String(i).padStart(4, '0')}`;
    await store.insert({ ...job, id, created_at: at(i) });
    const kind = i % 8;
    if (kind === 0) continue; // queued
    if (kind === 4) {
      await store.transition(id, 'cancelled', { reason: 'cancelled', finished_at: at(i, 5) });
      continue;
    }
    await store.transition(id, 'running', {
      runner_id: `runner-${i % 3}`,
      attempt: 1,
      started_at: at(i, 10),
      output: `partial ${i}\n`,
      timings: { queue_ms: 10, compile_ms: null, run_ms: null, total_ms: null },
    });
    if (kind === 1) continue; // running
    if (kind === 5) {
      // A runner lost: back in the queue for a second attempt.
      await store.transition(id, 'queued', { runner_id: null, output: '' });
      continue;
    }
    if (kind === 3) {
      await store.transition(id, 'failed', {
        error: { code: 'sandbox_failed', message: `sandbox ${i} failed` },
        finished_at: at(i, 20),
      });
    } else {
      await store.transition(id, 'done', {
        exit_code: i % 256,
        reason: 'exited',
        stdout: `out ${i} é\u2028\n`,
        stderr: i % 2 === 0 ? '' : `err ${i}\n`,
        output: `out ${i} é\u2028\n`,
        // kind 6: ended long ago, and pruned below.
        finished_at: kind === 6 ? '2000-01-01T00:00:00.000Z' : at(i, 30),
        timings: { queue_ms: 10, compile_ms: null, run_ms: 20, total_ms: 30 },
      });
    }
    if (job.callback !== null) {
      const delivered = i % 2 === 0;
      await store.update(id, {
        callback: {
          state: delivered ? 'delivered' : 'pending',
          attempts: delivered ? 1 : 2,
          last_error: delivered ? null : 'HTTP 502',
          delivered_at: delivered ? at(i, 40) : null,
        },
      });
    }
  }
  expect(await store.prune(new Date('2001-01-01T00:00:00.000Z'), 100_000)).toBe(PRUNED);
  await store.close();
  expect(store.stats().compactions).toBeGreaterThan(0);
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build it with \`npx tsup\` (npm test does)`);
  const help = await migrate(['--help']);
  if (!help.stdout.includes('codeexec migrate --from DIR')) {
    throw new Error(`${CLI} has no migrate command: rebuild it with \`npx tsup\` (npm test does)`);
  }
  server = await startPostgres();
  source = await tempDir();
  await writeSource(source);
  const reader = new LowdbJobStore(source);
  await reader.open();
  expected = await allJobs(reader);
  await reader.close();
}, 120_000);

describe('codeexec migrate', () => {
  it('copies every job whole, in creation order and state, then skips them all the second time', async () => {
    const url = await newDatabase();
    const first = await migrate(['--from', source, '--to', url]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const total = JOBS - PRUNED;
    expect(first.stdout).toMatch(
      new RegExp(`copied ${total}, skipped 0 \\(already there\\), total ${total}, [\\d.]+ s\\n$`),
    );

    expect(expected).toHaveLength(total);
    const ids = expected.map((job) => job.id);
    expect(ids).toEqual([...ids].sort()); // ids were given in creation order
    expect(new Set(expected.map((job) => job.status))).toEqual(
      new Set(['queued', 'running', 'done', 'failed', 'cancelled']),
    );
    const target = await openTarget(url);
    expect(await allJobs(target)).toEqual(expected);
    // The queries a restarted gateway makes find the same jobs.
    expect((await target.unfinished()).map((job) => job.id)).toEqual(
      expected.filter((job) => job.status === 'queued' || job.status === 'running').map((job) => job.id),
    );
    expect((await target.pendingCallbacks()).length).toBeGreaterThan(0);

    // Again, from the environment this time: everything is there already.
    const second = await migrate([], { CODEEXEC_DATA_DIR: source, CODEEXEC_STORE: url });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`copied 0, skipped ${total} (already there), total ${total}`);
    expect(await allJobs(target)).toEqual(expected);
    for (const output of [first.stdout, first.stderr, second.stdout, second.stderr]) {
      expect(output).not.toContain(PASSWORD);
    }
  });

  it('goes on where an earlier run stopped, leaving what is there as it is', async () => {
    const url = await newDatabase();
    // An earlier run got this far; since then a gateway moved the first job on.
    const target = await openTarget(url);
    for (const job of expected.slice(0, 100)) await target.insert(job);
    const first = expected[0]!;
    expect(first.status).toBe('queued');
    const moved = await target.transition(first.id, 'running', { runner_id: 'elsewhere', attempt: 1 });
    const result = await migrate(['--from', source, '--to', url]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`copied ${expected.length - 100}, skipped 100 (already there)`);
    expect(await allJobs(target)).toEqual([moved, ...expected.slice(1)]);
  });

  it('writes nothing on a dry run', async () => {
    const url = await newDatabase();
    const result = await migrate(['--from', source, '--to', url, '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`^dry run: ${JOBS - PRUNED} jobs in .* \\(\\d+ done, .*, \\d+ running\\) would go to `),
    );
    expect(result.stdout).not.toContain(PASSWORD);
    // Not even the migrations: no table was made.
    expect(await server.psql(url, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`)).toBe('0');
  });

  it.each([
    { name: 'a --to that is not postgres://', to: `mysql://root:${PASSWORD}@127.0.0.1/db`, code: 2 },
    { name: 'a missing --to', to: null, code: 2 },
    { name: 'a database that does not answer', to: `postgres://u:${PASSWORD}@127.0.0.1:1/db`, code: 3 },
  ])('exits $code for $name, without the password', async ({ to, code }) => {
    const result = await migrate(['--from', source, ...(to === null ? [] : ['--to', to])]);
    expect(result.code).toBe(code);
    expect(`${result.stdout}${result.stderr}`).not.toContain(PASSWORD);
    if (code === 3) expect(result.stderr).toContain('target postgres://u:***@127.0.0.1:1/db');
  });

  it('exits 3 for a directory with no job files, naming the source', async () => {
    const empty = await tempDir();
    const result = await migrate(['--from', empty, '--to', await newDatabase()]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`source ${empty}: holds no jobs.json or jobs.journal`);
  });
});
