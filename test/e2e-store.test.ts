// End to end: what the store keeps of a big result, and that it keeps every job on disk.
import { beforeAll, describe, expect, it } from 'vitest';
import { LowdbJobStore } from '../gateway/store/lowdb-job-store.js';
import { post, startGateway, startRunner, tempDir } from './helpers.js';

let url: string;
let dataDir: string;

beforeAll(async () => {
  dataDir = await tempDir();
  const gw = await startGateway({ dataDir, storeOutputBytes: 4096 });
  url = gw.url;
  const runner = await startRunner({ gatewayUrl: url, token: gw.token, languages: ['python'] });
  await runner.connected();
});

describe('the store', () => {
  it('caps each stored text field, says so, and answers the capped record', async () => {
    const res = await post(`${url}/execute/sync`, {
      lang: 'python',
      code: 'import sys\nprint("é" * 10000)\nprint("x" * 10000, file=sys.stderr)',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'done', exit_code: 0, output_capped: true });
    for (const field of ['stdout', 'stderr', 'output'] as const) {
      expect(Buffer.byteLength(res.body[field])).toBeLessThanOrEqual(4096);
      expect(Buffer.byteLength(res.body[field])).toBeGreaterThan(4000);
    }
    expect(res.body.stdout).toMatch(/^é+$/);
  });

  it('a small result is whole and not flagged', async () => {
    const res = await post(`${url}/execute/sync`, { lang: 'python', code: 'print("small")' });
    expect(res.body).toMatchObject({ stdout: 'small\n', output_capped: false });
  });

  it('a sync job and its result are on disk', async () => {
    const res = await post(`${url}/execute/sync`, {
      lang: 'python',
      code: 'print("kept")',
      task_id: 'on-disk',
    });
    // The answer follows the result's write by at most one group commit: an async job's 202 comes
    // once it is on disk, and writes reach the disk in order, so after it the result is there.
    await post(`${url}/execute/async`, { lang: 'python', code: 'print(0)' });
    // A second store on the same files reads what is on disk (snapshot and journal).
    const reader = new LowdbJobStore(dataDir, { fsync: false });
    await reader.open();
    const stored = await reader.get(res.body.id);
    await reader.close();
    expect(stored).toMatchObject({
      task_id: 'on-disk',
      status: 'done',
      stdout: 'kept\n',
    });
  });
});
