// On the real engine: a job whose container is removed behind the runner's back (`docker rm -f`,
// found by the runner's identity label) ends as the gateway must see an infrastructure failure:
// `done` with error sandbox_failed (it may run the job again), not a result with the engine's
// message as output.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../shared/log.js';
import { createRunner } from './create-runner.js';
import { RUNNER_ID_LABEL } from './pool/sandbox-pool.js';
import type { Runner } from './runner.js';
import { FakeGateway, frameOf } from './runner-fake-gateway.js';

let gateway: FakeGateway;
let runner: Runner;
let dataDir: string;

beforeAll(async () => {
  gateway = await FakeGateway.start();
  dataDir = await mkdtemp(join(tmpdir(), 'codeexec-lost-'));
  runner = await createRunner({
    gatewayUrl: gateway.url,
    token: 'test-token',
    dataDir,
    languages: ['python'],
    minWarm: 1,
    maxWarm: 2,
    log: silentLogger,
  });
  await runner.start();
  await runner.connected();
});

afterAll(async () => {
  await runner.close();
  await gateway.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('a job whose container is removed under it', () => {
  it('is reported as sandbox_failed, never as program output', async () => {
    const finished = runner.next('job.finished');
    gateway.offer('doomed', { code: 'import time\nprint("sleeping", flush=True)\ntime.sleep(60)' });
    await gateway.frame(frameOf('output', 'job_id', 'doomed'));
    // The leased container is the one running python; the warm ones run only sleep infinity.
    const ids = execFileSync('docker', ['ps', '-q', '--filter', `label=${RUNNER_ID_LABEL}=${runner.id}`], {
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean);
    const busy = ids.filter((id) =>
      execFileSync('docker', ['top', id], { encoding: 'utf8' }).includes('main.py'),
    );
    expect(busy).toHaveLength(1);
    execFileSync('docker', ['rm', '-f', busy[0] as string], { stdio: 'ignore' });
    const done = await gateway.frame(frameOf('done', 'job_id', 'doomed'));
    expect(done.result).toBeUndefined();
    expect(done.error).toMatchObject({ code: 'sandbox_failed' });
    expect(done.error?.message).toMatch(/by something other than the runner/);
    expect(await finished).toMatchObject({ id: 'doomed', error: 'sandbox_failed', reason: null });
    // The runner goes on: the next job runs in a fresh container.
    gateway.offer('next', { code: 'print("fine")' });
    expect(await gateway.frame(frameOf('done', 'job_id', 'next'))).toMatchObject({
      result: { stdout: 'fine\n', exit_code: 0 },
    });
  });
});
