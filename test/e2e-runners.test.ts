// End to end: how the gateway treats runners it should refuse, and jobs no runner can take.
import { describe, expect, it } from 'vitest';
import { createRunner } from '../runner/create-runner.js';
import { silentLogger } from '../shared/index.js';
import { containersOf, post, startGateway, tempDir, uniqueName } from './helpers.js';

describe('runner enrollment', () => {
  it('refuses a runner with a wrong token, clearly, and the runner stops', async () => {
    const { url } = await startGateway();
    const name = uniqueName('bad-token');
    const runner = await createRunner({
      gatewayUrl: url,
      token: 'not-the-token',
      name,
      dataDir: await tempDir(),
      log: silentLogger,
      minWarm: 0,
    });
    try {
      await runner.start();
      await expect(runner.connected()).rejects.toThrow(/4401.*token is not valid/);
    } finally {
      await runner.close();
    }
    expect(containersOf(name)).toEqual([]);
  });
});

describe('no runner', () => {
  it('answers 503 no_runner at once for a language no runner offers or builds', async () => {
    const { url } = await startGateway({ queueTimeoutMs: 30_000 });
    const started = Date.now();
    const res = await post(`${url}/execute/code`, { lang: 'rust', code: 'fn main() {}' });
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({
      code: 'no_runner',
      message: expect.stringMatching(/rust.*queue_timeout_ms/),
    });
    // Not after the 30 s queue timeout.
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('waits when the client asks to (queue_timeout_ms), then answers 503 no_runner, not a hang', async () => {
    const { url } = await startGateway();
    const started = Date.now();
    const res = await post(`${url}/execute/code`, {
      lang: 'python',
      code: 'print(1)',
      queue_timeout_ms: 500,
    });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('no_runner');
    expect(res.body.error.message).toMatch(/python/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
