// End to end: a language whose image is still being built. The runner reports it as building
// (as `codeexec dev` does while images/build.sh runs in the background); the gateway lists it as
// building, lets a job for it wait instead of refusing it, and runs that job as soon as the runner
// offers the language — here the image exists already, so "built" is the runner's addLanguage.
import { describe, expect, it } from 'vitest';
import type { LanguagesResponse } from '../shared/index.js';
import { post, startGateway, startRunner } from './helpers.js';

describe('a language being built', () => {
  it('is listed as building, its jobs wait for it, and run once the runner offers it', async () => {
    const { url, token, gateway } = await startGateway({ queueTimeoutMs: 1_000 });
    const runner = await startRunner({ gatewayUrl: url, token, languages: ['python'], building: ['bash'] });
    await runner.connected();

    const listed = (await (await fetch(`${url}/languages`)).json()) as LanguagesResponse;
    expect(listed.languages.find((l) => l.name === 'bash')).toMatchObject({
      runners: 0,
      building: 1,
      versions: [],
    });
    // Not refused (no runner offers bash yet, but one is building it), and it outlives the
    // 1 s queue timeout: waiting for an image is not an outage.
    const waited = new Promise((resolve) => gateway.events.on('job.waiting', resolve));
    const accepted = await post(`${url}/execute/async`, { lang: 'bash', code: 'echo built' });
    expect(accepted.status).toBe(202);
    const finished = new Promise((resolve) =>
      runner.on('job.finished', (event) => event.id === accepted.body.id && resolve(event)),
    );
    expect(await waited).toMatchObject({ job: { id: accepted.body.id }, because: 'building' });
    const queuedPast = (await (await fetch(`${url}/execute/${accepted.body.id}/status`)).json()) as {
      status: string;
    };
    expect(queuedPast.status).toBe('queued');

    await runner.addLanguage('bash');
    await finished;
    const result = await (await fetch(`${url}/execute/${accepted.body.id}/result`)).json();
    expect(result).toMatchObject({ status: 'done', stdout: 'built\n', attempt: 1 });
    const after = (await (await fetch(`${url}/languages`)).json()) as LanguagesResponse;
    expect(after.languages.find((l) => l.name === 'bash')).toMatchObject({
      runners: 1,
      building: 0,
    });
  });

  it('a language nobody offers or builds is refused at once', async () => {
    const { url, token } = await startGateway();
    const runner = await startRunner({ gatewayUrl: url, token, languages: ['python'] });
    await runner.connected();
    const refused = await post(`${url}/execute/async`, { lang: 'bash', code: 'echo x' });
    expect(refused).toMatchObject({ status: 503, body: { error: { code: 'no_runner' } } });
  });
});
