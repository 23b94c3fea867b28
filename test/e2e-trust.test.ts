// End to end: trust tiers and verified results, with a real gateway, a trusted runner and two
// donor runners (the runner library the headless donor embeds, enrolled with donor tokens) running
// real Docker sandboxes, and a lying donor that speaks the runner protocol and returns wrong output.
// A `trusted` job never lands on a donor; a quorum job agrees across two donors; the liar is
// outvoted by a trusted tie-breaker, loses standing, and is quarantined by the operator.
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../gateway/gateway.js';
import type { Runner } from '../runner/create-runner.js';
import type { JobRecord, RunnerView } from '../shared/index.js';
import { containersOf, post, startGateway, startRunner, teardown, uniqueName, untilJob } from './helpers.js';
import { LyingRunner } from './lying-runner.js';

const donorTokens = {
  a: randomBytes(12).toString('hex'),
  b: randomBytes(12).toString('hex'),
  liar: randomBytes(12).toString('hex'),
};

let gateway: Gateway;
let url: string;
let trusted: Runner;
let donorA: Runner;
let donorB: Runner;
const names = { trusted: uniqueName('trusted'), a: uniqueName('donor-a'), b: uniqueName('donor-b') };

beforeAll(async () => {
  // Registered first, so it runs last: once every runner closed, none left a sandbox behind.
  teardown(() => {
    for (const name of Object.values(names)) expect(containersOf(name)).toEqual([]);
  });
  const started = await startGateway({ donorTokens: Object.values(donorTokens) });
  gateway = started.gateway;
  url = started.url;
  const common = { gatewayUrl: url, languages: ['python'], slots: 1, minWarm: 1, maxWarm: 1 };
  [trusted, donorA, donorB] = await Promise.all([
    startRunner({ ...common, token: started.token, name: names.trusted }),
    startRunner({ ...common, token: donorTokens.a, name: names.a }),
    startRunner({ ...common, token: donorTokens.b, name: names.b }),
  ]);
  await Promise.all([trusted.connected(), donorA.connected(), donorB.connected()]);
});

async function runners(headers: Record<string, string> = {}): Promise<RunnerView[]> {
  const res = await fetch(`${url}/runners`, { headers });
  expect(res.status).toBe(200);
  return ((await res.json()) as { runners: RunnerView[] }).runners;
}

async function job(id: string): Promise<JobRecord> {
  await untilJob(gateway, id, 'ended');
  return (await gateway.store.get(id))!;
}

describe('trust tiers', () => {
  it('GET /runners lists each runner with its tier and identity (open on loopback without admin keys)', async () => {
    const listed = await runners();
    const byName = Object.fromEntries(listed.map((r) => [r.name, r]));
    expect(byName[names.trusted]).toMatchObject({ tier: 'trusted', identity: names.trusted, slots: 1 });
    expect(byName[names.a]).toMatchObject({
      tier: 'donor',
      identity: expect.stringMatching(/^donor:[0-9a-f]{12}$/),
    });
    expect(byName[names.b]?.tier).toBe('donor');
    expect(byName[names.a]!.identity).not.toBe(byName[names.b]!.identity);
    // The identity is a fingerprint, never the token.
    expect(JSON.stringify(listed)).not.toContain(donorTokens.a);
  });

  it('a trusted job never lands on a donor', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await post(`${url}/execute/async`, {
        lang: 'python',
        code: `print(${i})`,
        trust: 'trusted',
      });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    for (const id of ids) expect(await job(id)).toMatchObject({ status: 'done', runner_id: names.trusted });
    // `any` jobs may go anywhere, donors included (four at once on three single-slot runners).
    const any = await Promise.all(
      [0, 1, 2, 3].map((i) => post(`${url}/execute/code`, { lang: 'python', code: `print(${i})` })),
    );
    expect(any.map((r) => r.body.stdout)).toEqual(['0\n', '1\n', '2\n', '3\n']);
  });
});

describe('verified results', () => {
  it('a quorum job runs on two donors and is accepted when they agree', async () => {
    trusted.pause('test: donors only');
    try {
      const res = await post(`${url}/execute/code`, {
        lang: 'python',
        code: 'print(sum(range(10)))',
        verify: { quorum: 2 },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'done', stdout: '45\n' });
      expect(res.body.verification.state).toBe('agreed');
      const replicas = res.body.verification.replicas as {
        runner_id: string;
        tier: string;
        agreed: boolean;
      }[];
      expect(replicas.map((r) => r.runner_id).sort()).toEqual([names.a, names.b].sort());
      expect(replicas.every((r) => r.agreed && r.tier === 'donor')).toBe(true);
      // Replicas are internal: the job list shows the job, not them.
      const list = await (await fetch(`${url}/execute?limit=500`)).json();
      const listed = (list as { jobs: { id: string }[] }).jobs.map((j) => j.id);
      expect(listed).toContain(res.body.id);
      for (const replica of res.body.verification.replicas) expect(listed).not.toContain(replica.job_id);
    } finally {
      trusted.resume();
    }
  });

  it('a lying donor is outvoted by a trusted tie-breaker, loses standing, and can be quarantined', async () => {
    const liar = await LyingRunner.connect(url, donorTokens.liar, uniqueName('liar'), '44\n');
    teardown(() => liar.close());
    // The first two replicas go to the honest donor A and the liar; the trusted runner waits.
    trusted.pause('test: the tie-breaker');
    donorB.pause('test: out of this one');
    const tieBreaker = new Promise<void>((resolve) => {
      const stop = gateway.events.on('job.queued', ({ job: queued }) => {
        if (queued.replica_of !== null && queued.trust === 'trusted') {
          stop();
          resolve();
        }
      });
    });
    try {
      const res = post(`${url}/execute/code`, {
        lang: 'python',
        code: 'print(sum(range(10)))',
        verify: { quorum: 2 },
      });
      await tieBreaker;
      expect(liar.offered).toHaveLength(1);
      trusted.resume();
      const { status, body } = await res;
      expect(status).toBe(200);
      expect(body).toMatchObject({ status: 'done', stdout: '45\n' });
      expect(body.verification.state).toBe('agreed');
      const verdict = Object.fromEntries(
        (body.verification.replicas as { runner_id: string; agreed: boolean }[]).map((r) => [
          r.runner_id,
          r.agreed,
        ]),
      );
      expect(verdict).toEqual({ [names.a]: true, [liar.name]: false, [names.trusted]: true });
    } finally {
      trusted.resume();
      donorB.resume();
    }
    const listed = await runners();
    const liarView = listed.find((r) => r.name === liar.name)!;
    expect(liarView.reliability).toMatchObject({ agreed: 0, disagreed: 1, standing: 'doubtful' });
    expect(listed.find((r) => r.name === names.a)!.reliability).toMatchObject({
      disagreed: 0,
      standing: 'good',
    });

    // The operator quarantines it: it stays connected and is offered nothing.
    const quarantined = await fetch(`${url}/runners/${liar.name}/quarantine`, { method: 'POST' });
    expect(quarantined.status).toBe(200);
    expect((await runners()).find((r) => r.name === liar.name)?.state).toBe('quarantined');
    const offeredBefore = liar.offered.length;
    const after = await Promise.all(
      [0, 1, 2].map((i) => post(`${url}/execute/code`, { lang: 'python', code: `print(${i} * 2)` })),
    );
    expect(after.map((r) => r.body.stdout)).toEqual(['0\n', '2\n', '4\n']);
    expect(liar.offered).toHaveLength(offeredBefore);
  });

  it('fails unverified when replicas cannot agree within max_replicas', async () => {
    const liar = await LyingRunner.connect(url, donorTokens.liar, uniqueName('liar2'), 'nonsense\n');
    teardown(() => liar.close());
    // Lift the quarantine of the previous test's identity (same token) so it takes replicas.
    await fetch(`${url}/runners/${liar.name}/quarantine`, { method: 'DELETE' });
    trusted.pause('test');
    donorB.pause('test');
    try {
      const res = await post(`${url}/execute/code`, {
        lang: 'python',
        code: 'print(1)',
        verify: { quorum: 2, max_replicas: 2 },
      });
      expect(res.status).toBe(502);
      expect(res.body.error).toMatchObject({ code: 'unverified' });
      expect(res.body.error.message).toMatch(/No 2 replicas agreed within 2/);
    } finally {
      trusted.resume();
      donorB.resume();
    }
  });
});

describe('operator routes', () => {
  it('with admin keys, GET /runners needs one', async () => {
    const { url: keyed } = await startGateway({ adminKeys: ['admin-secret'] });
    expect((await fetch(`${keyed}/runners`)).status).toBe(401);
    const ok = await fetch(`${keyed}/runners`, { headers: { authorization: 'Bearer admin-secret' } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({
      runners: [],
      gateways: [{ runners: 0, self: true }],
      partial: false,
    });
    expect((await fetch(`${keyed}/runners/nobody/quarantine`, { method: 'POST' })).status).toBe(401);
  });

  it('an unknown runner or identity is 404', async () => {
    const res = await fetch(`${url}/runners/nobody/quarantine`, { method: 'POST' });
    expect(res.status).toBe(404);
  });
});
