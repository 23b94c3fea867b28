// End to end: two real headless donors (`node dist/cli.js donor`, each with a data directory, a
// settings.json and a donor token of its own) on a real gateway, steered with `codeexec donor
// pause|resume|finish|status --json`. A paused donor takes nothing, a resumed one takes the work,
// finish lets the running job end with its result and takes nothing new, max_jobs holds, the
// status counts, and the two donors are two identities that do not disturb each other. Every wait
// is on a condition with a deadline (gateway events, or polls of the status), never a fixed sleep.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../gateway/gateway.js';
import { type DonorSettings, type DonorStatus, HEADLESS_DEFAULT_SETTINGS } from '../shared/donor.js';
import type { RunnerView } from '../shared/index.js';
import { Child, sleepy } from './faults-cluster.js';
import { containersOf, post, startGateway, startRunner, teardown, tempDir, untilJob } from './helpers.js';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const TEST_MS = 120_000;

/** A donor process: its directory, its runner's name at the gateway, its log. */
interface Donor {
  label: string;
  dir: string;
  child: Child;
  /** The runner's name: the jobs' runner_id. */
  name: string;
}

let gateway: Gateway;
let url: string;
/** The trusted runners' token. */
let token: string;
let a: Donor;
let b: Donor;

/** The child processes' environment: the tests' own CODEEXEC_* variables stay out. */
function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => !entry[0].startsWith('CODEEXEC_') && entry[1] !== undefined,
    ),
  );
  return { ...inherited, ...extra };
}

function settings(maxJobs: number): DonorSettings {
  return {
    ...HEADLESS_DEFAULT_SETTINGS,
    limits: { ...HEADLESS_DEFAULT_SETTINGS.limits, max_jobs: maxJobs, languages: ['python'] },
  };
}

async function startDonor(label: string, token: string, maxJobs: number): Promise<Donor> {
  const dir = await tempDir();
  await writeFile(join(dir, 'settings.json'), JSON.stringify(settings(maxJobs), null, 2));
  const child = new Child(label, ['donor', '--gateway', url, '--data', dir], {
    CODEEXEC_DONOR_TOKEN: token,
    CODEEXEC_RECONNECT_MIN_MS: '50',
    CODEEXEC_RECONNECT_MAX_MS: '500',
    CODEEXEC_POOL_MIN: '1',
    CODEEXEC_POOL_MAX: '1',
  });
  let name = '';
  teardown(async () => {
    // Gently first (the runner removes its containers), then for sure; and no container left.
    if (child.alive) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await child.exited;
    clearTimeout(timer);
    if (name !== '') {
      for (const id of containersOf(name)) {
        await new Promise((resolve) => execFile('docker', ['rm', '-f', id], resolve));
      }
    }
  });
  const started = await child.waitFor((line) => line.msg.startsWith('donor started over'));
  name = String(started.runner_id);
  return { label, dir, child, name };
}

/** `codeexec donor <args> --data DIR`: its exit code and output. */
function ctl(dir: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, 'donor', ...args, '--data', dir],
      { env: childEnv(), timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** `codeexec donor <command> --json`: the status it prints; throws when the command failed. */
async function json(donor: Donor, ...args: string[]): Promise<DonorStatus> {
  const result = await ctl(donor.dir, ...args, '--json');
  if (result.code !== 0) {
    throw new Error(`donor ${args.join(' ')} (${donor.label}) exited ${result.code}: ${result.stderr}`);
  }
  return JSON.parse(result.stdout) as DonorStatus;
}

/** Reads until `ok` holds, every 200 ms, for at most `timeoutMs`; the last reading explains a failure. */
async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function runners(): Promise<RunnerView[]> {
  const response = await fetch(`${url}/runners`);
  return ((await response.json()) as { runners: RunnerView[] }).runners;
}

/** Waits until the gateway sees each donor in the state given (it heard the donor's capacity frame). */
function gatewaySees(states: Record<string, RunnerView['state']>): Promise<RunnerView[]> {
  return until(`the gateway to see ${JSON.stringify(states)}`, runners, (all) =>
    Object.entries(states).every(([name, state]) => all.some((r) => r.name === name && r.state === state)),
  );
}

async function submit(code: string): Promise<string> {
  const res = await post(`${url}/execute/async`, { lang: 'python', code });
  expect(res.status).toBe(202);
  return res.body.id;
}

// biome-ignore lint/suspicious/noExplicitAny: the job record as JSON
async function result(id: string): Promise<any> {
  await untilJob(gateway, id, 'ended');
  return (await fetch(`${url}/execute/${id}/result`)).json();
}

/** Resolves once the gateway says job `id` waited a whole queue timeout and waits on. */
function untilWaiting(id: string): Promise<void> {
  return new Promise((resolve) => {
    const stop = gateway.events.on('job.waiting', ({ job }) => {
      if (job.id !== id) return;
      stop();
      resolve();
    });
  });
}

/** Both donors donating (the gateway hears of it), whatever a failed test left. */
async function bothDonating(): Promise<void> {
  for (const donor of [a, b]) expect((await json(donor, 'resume')).state).toBe('donating');
  await gatewaySees({ [a.name]: 'ready', [b.name]: 'ready' });
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build it with \`npx tsup\` (npm test does)`);
  const help = await ctl('/nonexistent', '--help');
  if (help.code !== 0 || !help.stdout.includes('codeexec donor status')) {
    throw new Error(`${CLI} has no donor command: rebuild it with \`npx tsup\` (npm test does)`);
  }
  // A short queue timeout: a job no donor takes is reported waiting (job.waiting) within 2 s.
  ({ gateway, url, token } = await startGateway({
    donorTokens: ['donor-token-a', 'donor-token-b'],
    queueTimeoutMs: 2000,
  }));
  [a, b] = await Promise.all([
    startDonor('donor a', 'donor-token-a', 1),
    startDonor('donor b', 'donor-token-b', 2),
  ]);
  await gatewaySees({ [a.name]: 'ready', [b.name]: 'ready' });
}, 180_000);

describe('headless donors', () => {
  it(
    'are two identities, each with its own directory, donating at once with a status to show',
    async () => {
      expect(a.name).not.toBe(b.name);
      const ids = await Promise.all([a, b].map((d) => readFile(join(d.dir, 'runner', 'runner-id'), 'utf8')));
      expect(ids[0]).not.toBe(ids[1]);
      const seen = (await runners()).filter((r) => r.name === a.name || r.name === b.name);
      expect(seen.map((r) => r.tier)).toEqual(['donor', 'donor']);
      expect(new Set(seen.map((r) => r.identity)).size).toBe(2);
      expect(seen.find((r) => r.name === a.name)?.slots).toBe(1);
      expect(seen.find((r) => r.name === b.name)?.slots).toBe(2);

      const status = await json(a, 'status');
      expect(status).toMatchObject({
        state: 'donating',
        reason: 'donating',
        running: 0,
        jobs_done: expect.any(Number),
        cpu_seconds: expect.any(Number),
        connection: { state: 'connected', gateway: url },
        engine_problem: null,
        caps: { slots: 1, languages: ['python'] },
      });
      // For people, without --json.
      const text = await ctl(a.dir, 'status');
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(/^donating: /);
      // No donor over a directory: a clear message, exit code 3.
      const none = await ctl(await tempDir(), 'status');
      expect(none.code).toBe(3);
      expect(none.stderr).toMatch(/no donor is running/);
    },
    TEST_MS,
  );

  it(
    'a paused donor takes nothing; resumed, it takes the work; pausing one leaves the other donating',
    async () => {
      await bothDonating();
      const pausedA = await json(a, 'pause');
      expect(pausedA).toMatchObject({ state: 'paused', reason: 'paused_by_owner', paused_until: null });
      const pausedB = await json(b, 'pause', '--for', '1h');
      expect(pausedB.paused_until).toBeGreaterThan(Date.now() + 59 * 60_000);
      await gatewaySees({ [a.name]: 'paused', [b.name]: 'paused' });

      const before = (await json(a, 'status')).jobs_done;
      const id = await submit('print("taken")');
      // Both paused: the gateway keeps it queued, waiting for them (a paused runner could run it).
      await untilWaiting(id);
      const queued = await (await fetch(`${url}/execute/${id}/status`)).json();
      expect(queued).toMatchObject({ status: 'queued', runner_id: null });

      // B resumes; A stays paused and takes nothing.
      expect((await json(b, 'resume')).state).toBe('donating');
      expect(await result(id)).toMatchObject({ status: 'done', stdout: 'taken\n', runner_id: b.name });
      expect(await json(a, 'status')).toMatchObject({ state: 'paused', jobs_done: before });
      const second = await submit('print("also b")');
      expect(await result(second)).toMatchObject({ status: 'done', runner_id: b.name });

      // A resumes and takes work again (B paused, so it must be A).
      await json(b, 'pause');
      expect((await json(a, 'resume')).state).toBe('donating');
      const third = await submit('print("a again")');
      expect(await result(third)).toMatchObject({ status: 'done', stdout: 'a again\n', runner_id: a.name });
      const after = await until(
        'donor a to count the job',
        () => json(a, 'status'),
        (st) => st.jobs_done === before + 1,
      );
      expect(after.jobs_today).toBeGreaterThanOrEqual(1);
      expect(after.cpu_seconds).toBeGreaterThan(0);
      await bothDonating();
    },
    TEST_MS,
  );

  it(
    'finish lets the running job end with its result, then takes nothing new',
    async () => {
      await bothDonating();
      await json(b, 'pause');
      await gatewaySees({ [b.name]: 'paused' });
      const running = await submit(sleepy(5, 'finished well'));
      await untilJob(gateway, running, 'running');
      // `finish --wait` answers once the job has ended; `finish` at once, with the job running.
      let ended = false;
      const jobEnded = result(running).then((job) => {
        ended = true;
        return job;
      });
      const waiting = json(a, 'finish', '--wait').then((status) => ({ status, jobHadEnded: ended }));
      const finishing = await json(a, 'finish');
      expect(finishing).toMatchObject({ state: 'finishing', reason: 'finishing_by_owner', running: 1 });
      expect(await jobEnded).toMatchObject({
        status: 'done',
        stdout: 'start\nfinished well\n',
        runner_id: a.name,
        attempt: 1,
      });
      const waited = await waiting;
      expect(waited.status).toMatchObject({ state: 'paused', reason: 'finishing_by_owner', running: 0 });
      expect(waited.jobHadEnded).toBe(true);

      // Nothing new: a job now waits (A finished and paused, B paused).
      await gatewaySees({ [a.name]: 'paused', [b.name]: 'paused' });
      const late = await submit('print("late")');
      await untilWaiting(late);
      expect(await json(a, 'status')).toMatchObject({ state: 'paused', running: 0 });
      await json(b, 'resume');
      expect(await result(late)).toMatchObject({ status: 'done', runner_id: b.name });
      await bothDonating();
    },
    TEST_MS,
  );

  it(
    'never runs more jobs at once than max_jobs of its settings.json',
    async () => {
      await bothDonating();
      await json(b, 'pause');
      await gatewaySees({ [b.name]: 'paused' });
      const before = (await json(a, 'status')).jobs_done;
      const atOnce = new Set<string>();
      let most = 0;
      const samples: Promise<DonorStatus>[] = [];
      const offStart = gateway.events.on('job.started', ({ job }) => {
        if (job.runner_id !== a.name) return;
        atOnce.add(job.id);
        most = Math.max(most, atOnce.size);
        samples.push(json(a, 'status'));
      });
      const offEnd = gateway.events.on('job.finished', ({ job }) => atOnce.delete(job.id));
      try {
        const ids = await Promise.all([1, 2, 3].map((n) => submit(sleepy(1.5, `slow ${n}`))));
        const jobs = await Promise.all(ids.map(result));
        expect(jobs.map((job) => [job.status, job.runner_id])).toEqual([
          ['done', a.name],
          ['done', a.name],
          ['done', a.name],
        ]);
        expect(most).toBe(1);
        const statuses = await Promise.all(samples);
        expect(statuses).toHaveLength(3);
        for (const status of statuses) expect(status.running).toBeLessThanOrEqual(1);
      } finally {
        offStart();
        offEnd();
      }
      const counted = await until(
        'donor a to count the three jobs',
        () => json(a, 'status'),
        (st) => st.jobs_done === before + 3,
      );
      expect(counted.caps.slots).toBe(1);
      await bothDonating();
    },
    TEST_MS,
  );

  it(
    'beside a trusted runner: trusted jobs never reach a donor, a quorum job agrees across the two donors, a suspended donor hands its job back',
    async () => {
      await bothDonating();
      const trusted = await startRunner({
        gatewayUrl: url,
        token,
        languages: ['python'],
        slots: 1,
        minWarm: 1,
        maxWarm: 1,
      });
      await trusted.connected();
      const trustedName = trusted.name;

      const secret = await Promise.all(
        [1, 2, 3].map((n) =>
          post(`${url}/execute/async`, { lang: 'python', code: `print(${n})`, trust: 'trusted' }).then(
            (r) => r.body.id as string,
          ),
        ),
      );
      for (const id of secret)
        expect(await result(id)).toMatchObject({ status: 'done', runner_id: trustedName });

      // Donors only: the two replicas go to the two donors, one each, and agree.
      trusted.pause('test: donors only');
      await gatewaySees({ [trustedName]: 'paused' });
      const verified = await post(`${url}/execute/code`, {
        lang: 'python',
        code: 'print(sum(range(100)))',
        verify: { quorum: 2 },
      });
      expect(verified.body).toMatchObject({
        status: 'done',
        stdout: '4950\n',
        verification: { state: 'agreed' },
      });
      const replicas = verified.body.verification.replicas as { runner_id: string; agreed: boolean }[];
      expect(replicas.map((r) => r.runner_id).sort()).toEqual([a.name, b.name].sort());
      expect(replicas.every((r) => r.agreed)).toBe(true);

      // Donor A runs a slow job; its owner pauses it (suspend now): the job is handed back and
      // ends on the trusted runner, with its result — nothing lost, no attempt used up.
      await json(b, 'pause');
      await gatewaySees({ [b.name]: 'paused' });
      const slow = await submit(sleepy(8, 'ran to the end'));
      await untilJob(gateway, slow, 'running');
      expect((await (await fetch(`${url}/execute/${slow}/status`)).json()).runner_id).toBe(a.name);
      const handedBack = new Promise<void>((resolve) => {
        const stop = gateway.events.on('job.requeued', ({ job, reason }) => {
          if (job.id === slow && reason.startsWith('handed back')) {
            stop();
            resolve();
          }
        });
      });
      expect((await json(a, 'pause')).state).toBe('paused');
      await handedBack;
      trusted.resume();
      expect(await result(slow)).toMatchObject({
        status: 'done',
        stdout: 'start\nran to the end\n',
        runner_id: trustedName,
        attempt: 1,
      });
      await bothDonating();
    },
    TEST_MS,
  );

  it(
    'stops on SIGTERM, leaving no container and a ledger that counts what it gave',
    async () => {
      const given = (await json(a, 'status')).jobs_done;
      for (const donor of [a, b]) donor.child.kill('SIGTERM');
      const exits = await Promise.all([a, b].map((donor) => donor.child.exited));
      expect(exits).toEqual([
        { code: 0, signal: null },
        { code: 0, signal: null },
      ]);
      expect(containersOf(a.name)).toEqual([]);
      expect(containersOf(b.name)).toEqual([]);
      const ledger = JSON.parse(await readFile(join(a.dir, 'ledger.json'), 'utf8'));
      expect(ledger.jobs_done).toBe(given);
      expect((await ctl(a.dir, 'status')).code).toBe(3);
    },
    TEST_MS,
  );
});
