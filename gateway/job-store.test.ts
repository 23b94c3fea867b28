import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobRecord } from '../shared/index.js';
import { JobStore, StoreCorruptError } from './job-store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'codeexec-store-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function job(id: string): JobRecord {
  return {
    id,
    task_id: null,
    lang: 'python',
    code: 'print(1)',
    output: '',
    exit_code: null,
    status: 'queued',
    stdout: '',
    stderr: '',
    signal: null,
    reason: null,
    compile: null,
    error: null,
    stdin: null,
    args: [],
    files: [],
    limits: null,
    compile_limits: null,
    output_files: [],
    labels: [],
    callback_url: null,
    runner_id: null,
    attempt: 0,
    created_at: new Date().toISOString(),
    started_at: null,
    finished_at: null,
    timings: { queue_ms: null, compile_ms: null, run_ms: null, total_ms: null },
  };
}

describe('JobStore', () => {
  it('keeps jobs across a reopen, with their changes', async () => {
    const store = new JobStore(dir);
    await store.open();
    store.insert(job('a'));
    store.insert(job('b'));
    store.transition('a', 'running', { runner_id: 'r1', attempt: 1 });
    store.transition('a', 'done', { output: '1\n', exit_code: 0, reason: 'exited' });
    await store.flush();

    const again = new JobStore(dir);
    await again.open();
    expect(again.get('a')).toMatchObject({ status: 'done', output: '1\n', exit_code: 0, runner_id: 'r1' });
    expect(again.unfinished().map((j) => j.id)).toEqual(['b']);
  });

  it('coalesces a burst of changes into few writes, all on disk after flush', async () => {
    const store = new JobStore(dir);
    await store.open();
    for (let i = 0; i < 200; i++) store.insert(job(`j${i}`));
    await store.flush();
    const data = JSON.parse(await readFile(join(dir, 'jobs.json'), 'utf8'));
    expect(data.jobs).toHaveLength(200);
  });

  it.each([
    ['queued', 'done'],
    ['done', 'running'],
    ['failed', 'queued'],
    ['cancelled', 'running'],
  ] as const)('refuses %s → %s', async (from, to) => {
    const store = new JobStore(dir);
    await store.open();
    store.insert({ ...job('x'), status: from });
    expect(() => store.transition('x', to)).toThrow(/not allowed/);
    await store.flush();
  });

  it.each([
    ['not JSON', '{"version":1,"jobs":[', /not valid JSON/],
    ['the wrong shape', '{"version":1,"jobs":[{"id":5}]}', /does not hold valid job records.*jobs\.0/],
    ['an unknown version', '{"version":2,"jobs":[]}', /version/],
  ])('refuses to start on a damaged file (%s) and leaves it untouched', async (_name, content, message) => {
    const file = join(dir, 'jobs.json');
    await writeFile(file, content);
    const store = new JobStore(dir);
    await expect(store.open()).rejects.toThrow(StoreCorruptError);
    await expect(new JobStore(dir).open()).rejects.toThrow(message);
    expect(await readFile(file, 'utf8')).toBe(content);
  });
});
