import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WholeFileJobStore as OldJobStore } from '../../bench/whole-file-store.js';
import type { JobRecord } from '../../shared/index.js';
import { type JournalEntry, journalLine } from './job-journal.js';
import { describeJobStore, type StoreUnderTest, testJob } from './job-store-conformance.js';
import { LowdbJobStore, type LowdbJobStoreOptions } from './lowdb-job-store.js';
import { StoreCorruptError } from './store-errors.js';

/** A LowdbJobStore on a fresh temporary directory, with every store opened on it closed after. */
async function lowdbStore(
  options: LowdbJobStoreOptions = {},
  dir?: string,
): Promise<StoreUnderTest & { dir: string }> {
  const where = dir ?? (await mkdtemp(join(tmpdir(), 'codeexec-lowdb-')));
  const opened: LowdbJobStore[] = [];
  const reopen = async () => {
    const store = new LowdbJobStore(where, options);
    await store.open();
    opened.push(store);
    return store;
  };
  return {
    dir: where,
    store: await reopen(),
    reopen,
    cleanup: async () => {
      for (const store of opened) await store.close();
      await rm(where, { recursive: true, force: true });
    },
  };
}

// Without fsync: the same code paths but for one fdatasync per batch, which the tests below keep.
describeJobStore('LowdbJobStore', () => lowdbStore({ fsync: false }));

describe('LowdbJobStore on disk', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'codeexec-lowdb-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));
  const open = async (options: LowdbJobStoreOptions = {}) => {
    const store = new LowdbJobStore(dir, options);
    await store.open();
    return store;
  };

  it('reads the data file the old store wrote, and writes its snapshot in the same format', async () => {
    const old = new OldJobStore(dir);
    await old.open();
    old.insert(testJob('a'));
    old.transition('a', 'running', { runner_id: 'r1' });
    old.insert(testJob('b', { client: 'key:b' }));
    await old.flush();

    const store = await open({ compactAfterBytes: 0 });
    expect(await store.get('a')).toMatchObject({ status: 'running', runner_id: 'r1' });
    expect(await store.unfinishedOf('key:b')).toBe(1);
    // A journal now larger than the snapshot: compacted into jobs.json.
    await store.transition('a', 'done', { output: 'z'.repeat(5000) });
    await store.close();
    expect(store.stats().compactions).toBe(1);
    const back = new OldJobStore(dir);
    await back.open();
    expect(back.get('a')?.status).toBe('done');
    expect(back.size).toBe(2);
  });

  it('appends each turn’s writes in one batch', async () => {
    const store = await open();
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.insert(testJob(`j${i}`))));
    expect(store.stats()).toMatchObject({ batches: 1, changes: 100 });
    await store.close();
  });

  it('ignores a torn last line, and appends after it cleanly', async () => {
    let store = await open();
    await store.insert(testJob('a'));
    await store.close();
    const torn = journalLine({ op: 'put', job: testJob('b') }).slice(0, 100);
    await appendFile(join(dir, 'jobs.journal'), torn);

    store = await open();
    expect(await store.get('a')).toBeDefined();
    expect(await store.get('b')).toBeUndefined();
    await store.insert(testJob('c'));
    await store.close();
    store = await open();
    expect(await store.size()).toBe(2);
    await store.close();
  });

  it.each([
    ['not JSON', 'jobs.json', '{"version":1,"jobs":[', /jobs\.json is not valid JSON/],
    [
      'the wrong shape',
      'jobs.json',
      '{"version":1,"jobs":[{"id":5}]}',
      /does not hold valid job records.*jobs\.0/,
    ],
    ['an unknown version', 'jobs.json', '{"version":2,"jobs":[]}', /version/],
    [
      'a bad line before the last',
      'jobs.journal',
      `{"op":"put"\n${journalLine({ op: 'del', id: 'x' })}`,
      /line 1 is not valid JSON/,
    ],
    ['a line that is no entry', 'jobs.journal', `{"op":"del","id":7}\n`, /line 1 is not a journal entry.*id/],
  ])('refuses to open on %s and leaves the files as they were', async (_name, file, content, message) => {
    await writeFile(join(dir, file), content);
    const opening = open();
    await expect(opening).rejects.toThrow(StoreCorruptError);
    await expect(opening).rejects.toThrow(message);
    expect(await readFile(join(dir, file), 'utf8')).toBe(content);
  });

  describe('after a compaction killed at each step, opens with every change', () => {
    // The changes, in order: a compaction rotated the journal after the fourth. Each entry is a
    // whole record or a removal, so replaying one the snapshot already holds is harmless.
    const a = testJob('a');
    const changes: JournalEntry[] = [
      { op: 'put', job: a },
      { op: 'put', job: testJob('b') },
      { op: 'put', job: testJob('d') },
      { op: 'put', job: { ...a, status: 'running' } },
      { op: 'put', job: { ...a, status: 'done' } },
      { op: 'del', id: 'b' },
      { op: 'put', job: testJob('c') },
    ];
    const lines = (from: number, to: number) => changes.slice(from, to).map(journalLine).join('');
    const snapshot = (jobs: JobRecord[]) => JSON.stringify({ version: 1, jobs });
    const cutShort = '{"version":1,"jo';

    it.each([
      ['after the rename, before the new journal', {}, lines(0, 7), null, null],
      ['while writing the snapshot', {}, lines(0, 4), lines(4, 7), cutShort],
      // The snapshot was taken with the fifth change made but not yet appended.
      [
        'after the new snapshot, before the old journal went',
        { a: 'done', b: 'queued', d: 'queued' },
        lines(0, 4),
        lines(4, 7),
        null,
      ],
    ] as const)('%s', async (_step, snapshotState, old, current, next) => {
      const jobs = Object.entries(snapshotState).map(([id, status]) => ({ ...a, id, status }));
      if (jobs.length > 0) await writeFile(join(dir, 'jobs.json'), snapshot(jobs));
      await writeFile(join(dir, 'jobs.journal.old'), old);
      if (current !== null) await writeFile(join(dir, 'jobs.journal'), current);
      if (next !== null) await writeFile(join(dir, 'jobs.json.next'), next);

      const state = async (s: LowdbJobStore) =>
        (await s.list({}, 0, 10)).jobs.map((job) => `${job.id} ${job.status}`);
      const store = await open();
      expect(await state(store)).toEqual(['c queued', 'd queued', 'a done']);
      // The compaction is finished on open: one snapshot, the rest gone.
      for (const gone of ['jobs.journal.old', 'jobs.json.next']) {
        await expect(stat(join(dir, gone))).rejects.toThrow(/ENOENT/);
      }
      await store.close();
      const again = await open();
      expect(await state(again)).toEqual(['c queued', 'd queued', 'a done']);
      await again.close();
    });
  });

  it('compacts without losing the writes made while it runs', async () => {
    const output = 'y'.repeat(400);
    let n = 0;
    const finish = async () => {
      const id = `j${n++}`;
      await store.insert(testJob(id));
      await store.transition(id, 'running');
      await store.transition(id, 'done', { output, stdout: output });
    };
    // The moment a compaction has taken its picture of memory, 50 more jobs start.
    let during: Promise<void>[] = [];
    const store = await open({
      compactAfterBytes: 64 * 1024,
      onCompaction: (phase) => {
        if (phase === 'started' && during.length === 0) during = Array.from({ length: 50 }, finish);
      },
    });
    while (during.length === 0) await Promise.all(Array.from({ length: 20 }, finish));
    await Promise.all(during);
    await store.close();
    expect(store.stats().compactions).toBeGreaterThanOrEqual(1);
    const again = await open();
    const jobs = (await again.list({}, 0, n)).jobs;
    expect(jobs).toHaveLength(n);
    expect(jobs.filter((job) => job.status !== 'done' || job.output !== output)).toEqual([]);
    await again.close();
  });
});

describe('LowdbJobStore killed with SIGKILL', () => {
  let bundle: string;
  let dir: string;
  beforeAll(async () => {
    // The child runs this repository's TypeScript, so it is bundled first, by esbuild: what tsup
    // builds dist/ with, called directly because loading tsup itself takes seconds. Everything is
    // bundled: a file in a temporary directory finds no node_modules.
    const out = await mkdtemp(join(tmpdir(), 'codeexec-child-'));
    bundle = join(out, 'child.mjs');
    await build({
      entryPoints: [join(import.meta.dirname, 'store-writer-child.ts')],
      outfile: bundle,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      logLevel: 'error',
      // CommonJS inside (pino, through shared/index.ts) requires Node's modules: give it a require.
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
    });
    dir = await mkdtemp(join(tmpdir(), 'codeexec-lowdb-'));
    return () =>
      Promise.all([rm(out, { recursive: true, force: true }), rm(dir, { recursive: true, force: true })]);
  });

  it('keeps every write that had resolved before the kill', async () => {
    const child = spawn(process.execPath, [bundle, dir, String(32 * 1024)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const exited = once(child, 'close');
    const reached = new Map<string, string>();
    let lines = 0;
    for await (const line of createInterface({ input: child.stdout })) {
      const [id, status] = line.split(' ') as [string, string];
      reached.set(id, status);
      if (++lines === 900) child.kill('SIGKILL');
    }
    const [code, signal] = await exited;
    expect({ code, signal, stderr }).toEqual({ code: null, signal: 'SIGKILL', stderr: '' });

    const store = new LowdbJobStore(dir);
    await store.open();
    // Each printed step must be on disk: the job at least in the state printed last.
    const lost: string[] = [];
    for (const [id, printed] of reached) {
      const status = (await store.get(id))?.status;
      const rank = (state: string | undefined) => ['queued', 'running', 'done'].indexOf(state ?? 'missing');
      if (rank(status) < rank(printed)) lost.push(`${id}: printed ${printed}, stored ${status}`);
    }
    expect(lost).toEqual([]);
    expect(reached.size).toBeGreaterThan(250);
    await store.close();
  });
});
