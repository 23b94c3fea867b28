// The runner under a donor, over `<dataDir>/runner` (the donor's identity, and the lock that
// keeps one process per directory): the policy's decisions applied to it (resume, finish then
// pause, suspend; caps only when they change), and a new runner over the same directory when the
// languages offered change, since a runner's pool is made for its languages. It passes on the
// events of the runner in place only, so the service never hears from one it replaced.
import { join } from 'node:path';
import { createRunner, type RunnerOptions } from '../runner/create-runner.js';
import type { Runner, RunnerState } from '../runner/runner.js';
import type { RunnerEvents } from '../runner/runner-events.js';
import { TypedEmitter } from '../runner/typed-emitter.js';
import type { DonorSettings } from '../shared/donor.js';
import type { Logger, LogLevel } from '../shared/index.js';
import { capsFor, type PolicyDecision } from './donor-policy.js';

export interface DonorRunnerOptions {
  gatewayUrl: string;
  token: string;
  /** The donor's directory; the runner's is `runner` inside it. */
  dataDir: string;
  log: Logger;
  /** More runner options (tests: a fake driver, short backoffs). */
  runner?: Partial<RunnerOptions>;
  /** Something the owner should read (the donor's journal). */
  note: (level: LogLevel, msg: string) => void;
}

type Passed =
  | 'state'
  | 'connection'
  | 'fatal'
  | 'job.started'
  | 'job.finished'
  | 'engine.missing'
  | 'engine.ready';

export type DonorRunnerEvents = Pick<RunnerEvents, Passed> & {
  /** A new runner replaced the old one (other languages): it is connecting. */
  restarted: undefined;
  /** The new runner could not be made or started: the donor cannot go on. */
  'restart.failed': Error;
};

const PASSED: readonly Passed[] = [
  'state',
  'connection',
  'fatal',
  'job.started',
  'job.finished',
  'engine.missing',
  'engine.ready',
];
const MIB = 2 ** 20;

type Caps = Omit<PolicyDecision['caps'], 'languages'>;

export class DonorRunner extends TypedEmitter<DonorRunnerEvents> {
  readonly #options: DonorRunnerOptions;
  #runner: Runner;
  #settings: DonorSettings;
  /** What the runner was last told: its state, its caps, the languages it was made with. */
  #state: PolicyDecision['state'] | null = null;
  #caps: Caps;
  #languages: string[] | null;
  /** The last finish-then-pause or suspend: resolves once the jobs it waited for ended. */
  #finished: Promise<void> = Promise.resolve();
  #restarting: Promise<void> | null = null;
  #stopping = false;

  private constructor(options: DonorRunnerOptions, settings: DonorSettings, runner: Runner) {
    super((err, event) => options.log.error({ event, err }, 'a donor runner listener threw'));
    this.#options = options;
    this.#settings = settings;
    const { languages, ...caps } = capsFor(settings);
    this.#caps = caps;
    this.#languages = languages;
    this.#runner = runner;
    this.#attach(runner);
  }

  /** Makes the runner, paused, with the settings' caps and languages (DataDirLockedError if held). */
  static async create(options: DonorRunnerOptions, settings: DonorSettings): Promise<DonorRunner> {
    return new DonorRunner(options, settings, await createDonorRunner(options, settings));
  }

  /** The runner's name at the gateway (its jobs' runner_id) and its identity. */
  get name(): string {
    return this.#runner.name;
  }

  get id(): string {
    return this.#runner.id;
  }

  get state(): RunnerState {
    return this.#runner.state;
  }

  get reason(): string {
    return this.#runner.reason;
  }

  /** CPUs each sandbox gets. */
  get cpus(): number {
    return this.#caps.cpus;
  }

  /** A new runner is on its way (the old one finishes its jobs first). */
  get restarting(): boolean {
    return this.#restarting !== null;
  }

  /** Resolves once the jobs that ran at the last finishing or paused decision have ended. */
  get finished(): Promise<void> {
    return this.#finished;
  }

  /** Waits for the Docker engine, then dials the gateway (rejects when no language can run). */
  async start(): Promise<void> {
    await this.#runner.start();
  }

  /** Tells the runner what changed: the languages it offers, its caps, its state. */
  apply(decision: PolicyDecision, settings: DonorSettings): void {
    this.#settings = settings;
    if (this.#stopping || this.#restarting !== null) return; // a new runner gets the next decision
    if (!sameLanguages(decision.caps.languages, this.#languages)) {
      this.#restart(decision.caps.languages);
      return;
    }
    const runner = this.#runner;
    const { slots, cpus, memory_mb } = decision.caps;
    if (slots !== this.#caps.slots || cpus !== this.#caps.cpus || memory_mb !== this.#caps.memory_mb) {
      try {
        runner.setCaps({ slots, cpus, memory: memory_mb * MIB });
        this.#caps = { slots, cpus, memory_mb };
        this.#options.note('info', `caps: ${slots} job(s), ${cpus} CPU(s) each, ${memory_mb} MiB each`);
      } catch (err) {
        this.#options.note('error', `the runner refused the caps: ${(err as Error).message}`);
      }
    }
    if (decision.state === this.#state) return;
    this.#state = decision.state;
    switch (decision.state) {
      case 'donating':
        runner.resume(decision.text);
        break;
      case 'finishing':
        this.#finished = runner.finishThenPause(decision.text);
        break;
      case 'paused':
        // Running jobs go back to the gateway now (it queues them again, the attempt uncounted).
        this.#finished = runner.suspend(decision.text);
        break;
    }
  }

  /**
   * Stops: the running jobs end and report (drain), or with `now` are handed back at once (close;
   * it also cuts a drain under way short). The containers are removed either way.
   */
  async stop(now: boolean): Promise<void> {
    this.#stopping = true;
    if (now) void this.#runner.close();
    await this.#restarting;
    await (now ? this.#runner.close() : this.#runner.drain());
  }

  /** A new runner over the same directory, once the running jobs have ended. */
  #restart(languages: string[] | null): void {
    const offering = languages === null ? 'every language this machine has' : languages.join(', ');
    this.#options.note('info', `to offer ${offering}, the runner restarts once its jobs end`);
    this.#restarting = (async () => {
      try {
        await this.#runner.drain();
        if (this.#stopping) return;
        // The settings of now: they may have changed again while the jobs ended.
        const settings = this.#settings;
        const runner = await createDonorRunner(this.#options, settings);
        const { languages: offered, ...caps } = capsFor(settings);
        this.#runner = runner;
        this.#languages = offered;
        this.#caps = caps;
        this.#state = null;
        this.#attach(runner);
      } catch (err) {
        this.emit('restart.failed', err as Error);
        return;
      } finally {
        this.#restarting = null;
      }
      this.emit('restarted', undefined);
      this.#runner.start().catch((err: unknown) => this.emit('restart.failed', err as Error));
    })();
  }

  #attach(runner: Runner): void {
    // The payload is the runner's own for that event (DonorRunnerEvents picks those types).
    const pass = <K extends Passed>(event: K) =>
      runner.on(event, (payload) => {
        if (runner === this.#runner) this.emit(event, payload as never);
      });
    for (const event of PASSED) pass(event);
  }
}

/** The donor's runner: over `<dataDir>/runner`, paused, with the settings' caps and languages. */
function createDonorRunner(options: DonorRunnerOptions, settings: DonorSettings): Promise<Runner> {
  const caps = capsFor(settings);
  return createRunner({
    gatewayUrl: options.gatewayUrl,
    token: options.token,
    dataDir: join(options.dataDir, 'runner'),
    log: options.log,
    paused: true,
    slots: caps.slots,
    cpus: caps.cpus,
    memory: caps.memory_mb * MIB,
    ...(caps.languages === null ? {} : { languages: caps.languages }),
    ...options.runner,
  });
}

function sameLanguages(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}
