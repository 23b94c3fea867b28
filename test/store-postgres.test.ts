// PostgresJobStore on a private PostgreSQL server: the whole JobStore conformance suite, then what
// only a shared database has — gateways that see each other's writes and race for the same job,
// migrations that two gateways start at once, and a server that stops, hangs and comes back.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JobStore } from '../gateway/store/job-store-api.js';
import { describeJobStore, type StoreUnderTest, testJob } from '../gateway/store/job-store-conformance.js';
import { MIGRATIONS_TABLE } from '../gateway/store/postgres/migrate.js';
import {
  PostgresJobStore,
  type PostgresJobStoreOptions,
} from '../gateway/store/postgres/postgres-job-store.js';
import { teardown } from './helpers.js';
import { type PostgresServer, startPostgres } from './postgres-server.js';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
});

/** Opens a store on `url` (with the default options but those given), closed when the test ends. */
async function openStore(url: string, options: PostgresJobStoreOptions = {}): Promise<PostgresJobStore> {
  const store = new PostgresJobStore(url, options);
  teardown(() => store.close());
  await store.open();
  return store;
}

/** A store on a new database of its own, and how to open another on the same one. */
async function postgresStore(): Promise<StoreUnderTest> {
  const url = await server.createDatabase();
  const opened: JobStore[] = [];
  const reopen = async () => {
    // Without synchronous commit: the same statements, minus waiting for the server's WAL flush
    // (a commit survives this process either way).
    const store = new PostgresJobStore(url, { synchronousCommit: false });
    await store.open();
    opened.push(store);
    return store;
  };
  return {
    store: await reopen(),
    reopen,
    cleanup: async () => {
      for (const store of opened) await store.close();
    },
  };
}

describeJobStore('PostgresJobStore', postgresStore);

describe('PostgresJobStore on a shared database', () => {
  it('lets two gateways see each other’s writes at once', async () => {
    const url = await server.createDatabase();
    const [a, b] = [await openStore(url), await openStore(url)];
    await a.insert(testJob('x', { client: 'key:a' }));
    expect(await b.get('x')).toMatchObject({ status: 'queued', client: 'key:a' });
    await b.transition('x', 'running', { runner_id: 'r1' });
    expect(await a.get('x')).toMatchObject({ status: 'running', runner_id: 'r1' });
    await expect(a.insert(testJob('x'))).rejects.toMatchObject({ code: 'duplicate_id' });
    await a.insert(testJob('y'));
    expect((await b.list({}, 0, 10)).jobs.map((job) => job.id)).toEqual(['y', 'x']);
    expect([await b.queuedCount(), await b.unfinishedOf('key:a'), await b.size()]).toEqual([1, 1, 2]);
  });

  it('lets exactly one of two gateways take a job out of a state', async () => {
    const url = await server.createDatabase();
    const [a, b] = [await openStore(url), await openStore(url)];
    const ids = Array.from({ length: 30 }, (_, i) => `j${i}`);
    for (const id of ids) await a.insert(testJob(id));
    // Both offer every job to a runner at the same moment: the row lock lets one move each job.
    const outcomes = await Promise.allSettled(
      ids.flatMap((id) => [
        a.transition(id, 'running', { runner_id: 'ra' }),
        b.transition(id, 'running', { runner_id: 'rb' }),
      ]),
    );
    const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const lost = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(won).toHaveLength(ids.length);
    expect(lost.map((outcome) => outcome.reason.code)).toEqual(ids.map(() => 'forbidden_transition'));
    const stored = (await a.list({}, 0, 100)).jobs;
    expect(stored.filter((job) => job.status !== 'running')).toEqual([]);
  });

  it('migrates a new database once when gateways open it at the same moment', async () => {
    const url = await server.createDatabase();
    const stores = Array.from({ length: 4 }, () => new PostgresJobStore(url, { synchronousCommit: false }));
    for (const store of stores) teardown(() => store.close());
    await Promise.all(stores.map((store) => store.open()));
    expect(await server.psql(url, `SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`)).toBe(
      '0001_jobs\n0002_runner_reliability\n0003_gateway_fleet',
    );
    await stores[0]!.insert(testJob('x'));
    expect(await stores[3]!.get('x')).toBeDefined();
    const columns = await server.psql(
      url,
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'runner_reliability' ORDER BY ordinal_position`,
    );
    expect(columns.split('\n')).toEqual([
      'identity',
      'agreed',
      'disagreed',
      'streak',
      'last_disagreement_at',
      'quarantined',
      'updated_at',
    ]);
  });
});

describe('PostgresJobStore writes called together', () => {
  it('answers each write of a batch on its own, in call order, a refusal refusing only its write', async () => {
    const store = await openStore(await server.createDatabase(), { synchronousCommit: false });
    await store.insert(testJob('old'));
    // Called in one turn: they go to the database together, behind the write to 'old'.
    const outcomes = await Promise.allSettled([
      store.insert(testJob('a')),
      store.transition('a', 'running', { runner_id: 'r1', attempt: 1 }),
      store.insert(testJob('old')),
      store.transition('a', 'done', { exit_code: 0 }),
      store.transition('a', 'running', {}),
      store.transition('nobody', 'running', {}),
      store.update('a', { task_id: 'later' }),
      store.update('nobody', { task_id: 'x' }),
      ...Array.from({ length: 50 }, (_, i) => store.insert(testJob(`bulk-${i}`))),
    ]);
    const summary = outcomes
      .slice(0, 8)
      .map((outcome) =>
        outcome.status === 'fulfilled'
          ? ((outcome.value as { status?: string } | undefined)?.status ?? 'ok')
          : (outcome.reason as { code: string }).code,
      );
    expect(summary).toEqual([
      'ok',
      'running',
      'duplicate_id',
      'done',
      'forbidden_transition',
      'not_found',
      'done',
      'ok',
    ]);
    expect(outcomes.slice(8).every((outcome) => outcome.status === 'fulfilled')).toBe(true);
    expect(await store.get('a')).toMatchObject({
      status: 'done',
      exit_code: 0,
      runner_id: 'r1',
      task_id: 'later',
    });
    expect(await store.size()).toBe(52);
    expect((await store.list({ task_id: 'later' }, 0, 10)).jobs.map((job) => job.id)).toEqual(['a']);
  });
});

describe('PostgresJobStore records', () => {
  it('keeps any string a program may print: NUL characters and lone surrogates', async () => {
    const store = await openStore(await server.createDatabase());
    const odd = 'a\u0000b\ud800c\u2028é';
    await store.insert(testJob('x', { stdout: odd }));
    expect((await store.get('x'))?.stdout).toBe(odd);
    await store.transition('x', 'running', { output: odd });
    expect(await store.get('x')).toMatchObject({ stdout: odd, output: odd });
  });

  it('reads an older record with the defaults of later fields, and a damaged one as `corrupt`', async () => {
    const url = await server.createDatabase();
    const store = await openStore(url);
    const { labels, trust, verify, ...old } = testJob('old');
    const row = (record: object) =>
      `INSERT INTO jobs (id, status, created_at, record) VALUES ('${(record as { id: string }).id}', 'queued', 'now', '${JSON.stringify(record)}')`;
    await server.psql(url, row(old));
    expect(await store.get('old')).toMatchObject({ labels: [], trust: 'any', verify: null });
    await server.psql(url, row({ ...old, id: 'bad', attempt: 'one' }));
    await expect(store.get('bad')).rejects.toMatchObject({ code: 'corrupt', message: /job bad .*attempt/ });
  });
});

describe('PostgresJobStore when the database fails', () => {
  it('rejects with `unavailable` while the server is stopped, and works again once it is back', async () => {
    const store = await openStore(await server.createDatabase(), { connectTimeoutMs: 1_000 });
    await store.insert(testJob('before'));
    await server.stop();
    try {
      const started = Date.now();
      await expect(store.get('before')).rejects.toMatchObject({ code: 'unavailable' });
      await expect(store.insert(testJob('during'))).rejects.toMatchObject({ code: 'unavailable' });
      await expect(store.transition('before', 'running')).rejects.toMatchObject({ code: 'unavailable' });
      await expect(store.flush()).resolves.toBeUndefined(); // those writes have been answered
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await server.start();
    }
    expect(await store.get('before')).toMatchObject({ status: 'queued' });
    expect(await store.get('during')).toBeUndefined();
    await store.transition('before', 'running');
    await store.insert(testJob('after'));
    expect(await store.size()).toBe(2);
  });

  it('rejects with `unavailable` when the server stops answering, within the query timeout', async () => {
    const url = await server.createDatabase();
    // One connection, so the next query goes to the backend process this test freezes.
    const store = await openStore(url, { maxConnections: 1, queryTimeoutMs: 500 });
    await store.insert(testJob('x'));
    const backend = await server.psql(
      url,
      `SELECT pid FROM pg_stat_activity WHERE application_name = 'codeexec-gateway' AND datname = current_database()`,
    );
    expect(backend).toMatch(/^\d+$/);
    const signal = promisify(execFile);
    await signal('kill', ['-STOP', backend]);
    try {
      const started = Date.now();
      await expect(store.transition('x', 'running')).rejects.toMatchObject({ code: 'unavailable' });
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await signal('kill', ['-CONT', backend]);
    }
    // The frozen connection was dropped; a new one serves, and the cut-short write did not happen.
    expect(await store.get('x')).toMatchObject({ status: 'queued' });
    await store.transition('x', 'running');
  });
});
