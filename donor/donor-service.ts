// The donor engine, shared by the headless donor (`codeexec donor`) and the desktop app (which
// brings its own SystemProbes; nothing here imports electron). It owns a runner over
// `<dataDir>/runner` (the donor's identity, and the lock that keeps one process per directory),
// asks the policy (donor-policy.ts) what to do every 2 s and at once on any owner action,
// settings change or job end, applies the answer to the runner, and keeps the books (the ledger:
// jobs and CPU donated), the owner's last word (owner-override-file.ts, so a pause outlives a
// reboot) and a journal of every transition. What it knows is one DonorStatus, emitted on change.
// Past ~350 lines: it is the donor's public surface and the wiring of its parts (donor-runner,
// ledger-keeper, shown-state, donor-journal, owner-override-file), each method a few lines.
//
//   const donor = await DonorService.open({ gatewayUrl, token, dataDir, settings, probes });
//   donor.on('status', (status) => …);
//   await donor.start();
import { mkdir } from 'node:fs/promises';
import * as v from 'valibot';
import { type Clock, realClock, type Timer } from '../gateway/scheduling/clock.js';
import type { RunnerOptions } from '../runner/create-runner.js';
import type { ConnectionEvent, JobFinished } from '../runner/runner-events.js';
import { languagesNamed } from '../runner/runner-languages.js';
import { TypedEmitter } from '../runner/typed-emitter.js';
import {
  type DonorReason,
  type DonorSettings,
  DonorSettingsSchema,
  type DonorState,
  type DonorStatus,
} from '../shared/donor.js';
import { createLogger, type Logger } from '../shared/index.js';
import { DonorJournal } from './donor-journal.js';
import {
  capsFor,
  decide,
  INITIAL_POLICY_MEMORY,
  nextCheckInMs,
  type OwnerOverride,
  type PolicyDecision,
  type PolicyInputs,
  type PolicyMemory,
} from './donor-policy.js';
import { DonorRunner } from './donor-runner.js';
import { LedgerKeeper } from './ledger-keeper.js';
import { loadOwnerOverride, saveOwnerOverride } from './owner-override-file.js';
import { type Shown, shownState } from './shown-state.js';

/** What the policy needs to know about the machine; each embedder reads it its own way. */
export interface SystemProbes {
  /** Seconds since the last keyboard or mouse input; null when unknown (no display: idle). */
  idleSeconds(): number | null;
  power(): { onBattery: boolean; percent: number | null };
  /** CPU used by programs other than the donor's sandboxes, percent of the whole machine. */
  otherCpuPercent(): number;
  /** Memory in use by everything, percent. */
  memoryUsedPercent(): number;
}

export interface DonorServiceOptions {
  /** The gateway's base URL, http(s)://host:port. */
  gatewayUrl: string;
  /** A token the gateway accepts from donors. */
  token: string;
  /** The donor's own directory (0700): its runner identity, ledger, owner override, control socket. */
  dataDir: string;
  settings: DonorSettings;
  probes: SystemProbes;
  clock?: Clock;
  log?: Logger;
  /** More runner options (tests: a fake driver, short backoffs). */
  runner?: Partial<RunnerOptions>;
}

/** The donor's shown state changed, or the reason for it did. */
export interface DonorTransition {
  from: DonorState;
  to: DonorState;
  reason: DonorReason;
  text: string;
}

export interface DonorEvents {
  /** The status changed (anything but its `at`). */
  status: DonorStatus;
  transition: DonorTransition;
  /** The gateway refused the donor for good (a bad token), or its runner could not be restarted. */
  fatal: Error;
}

/** How often the policy looks at the machine when nothing else happens. */
export const TICK_MS = 2000;
export { LEDGER_FILE, LEDGER_SAVE_MS } from './ledger-keeper.js';

/** The soonest a timed decision is taken again (a due time of 0 must not spin a fake clock). */
const MIN_CHECK_MS = 50;

type Connection = DonorStatus['connection'];

export class DonorService extends TypedEmitter<DonorEvents> {
  readonly dataDir: string;
  readonly #options: DonorServiceOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #journal: DonorJournal;
  readonly #probes: SystemProbes;
  #settings: DonorSettings;
  readonly #runner: DonorRunner;
  #owner: OwnerOverride;
  #ownerWrites: Promise<void> = Promise.resolve();
  readonly #ledger: LedgerKeeper;
  #memory: PolicyMemory = INITIAL_POLICY_MEMORY;
  #decision: PolicyDecision | null = null;
  readonly #running = new Map<string, DonorStatus['jobs'][number]>();
  #connection: Connection;
  #engineProblem: string | null = null;
  #started = false;
  #closing: Promise<void> | null = null;
  #stopped = false;
  #tick: Timer | null = null;
  #shown: { state: DonorState; reason: DonorReason } = { state: 'starting', reason: 'starting' };
  #lastStatusKey = '';

  private constructor(
    options: DonorServiceOptions,
    runner: DonorRunner,
    journal: DonorJournal,
    owner: OwnerOverride,
    ledger: LedgerKeeper,
  ) {
    super((err, event) =>
      (options.log ?? createLogger({ level: 'info' })).error({ event, err }, 'a donor event listener threw'),
    );
    this.#options = options;
    this.dataDir = options.dataDir;
    this.#clock = options.clock ?? realClock;
    this.#log = options.log ?? createLogger({ level: 'info' });
    this.#journal = journal;
    this.#probes = options.probes;
    this.#settings = options.settings;
    this.#owner = owner;
    this.#ledger = ledger;
    this.#connection = { state: 'connecting', gateway: options.gatewayUrl };
    this.#runner = runner;
    this.#listen(runner);
  }

  /**
   * Claims the data directory (DataDirLockedError when a live donor has it), loads the owner's
   * last word and the ledger, and creates the runner, paused until the policy says otherwise.
   * Throws for settings that are not valid (unknown languages included), and LedgerFileError
   * for a damaged ledger (counting again from zero would be a silent lie).
   */
  static async open(options: DonorServiceOptions): Promise<DonorService> {
    checkSettings(options.settings);
    await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
    const log = options.log ?? createLogger({ level: 'info' });
    const journal = new DonorJournal(log, () => (options.clock ?? realClock).now());
    // The runner's lock first: the files below are this process's only once it holds it.
    const runner = await DonorRunner.create(
      {
        gatewayUrl: options.gatewayUrl,
        token: options.token,
        dataDir: options.dataDir,
        log,
        ...(options.runner ? { runner: options.runner } : {}),
        note: (level, msg) => journal.add(level, msg),
      },
      options.settings,
    );
    try {
      const owner = await loadOwnerOverride(options.dataDir, (why) =>
        journal.add('warn', `${why}: taken as no pause`),
      );
      const ledger = await LedgerKeeper.open(options.dataDir, options.clock ?? realClock, (err) =>
        journal.add('error', `cannot write the ledger: ${String(err)}`, { err }),
      );
      return new DonorService(options, runner, journal, owner, ledger);
    } catch (err) {
      await runner.stop(true);
      throw err;
    }
  }

  /** Decides, then starts the runner (it waits for the Docker engine, then dials the gateway). */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#journal.add('info', `donor started over ${this.dataDir}`, {
      runner_id: this.#runner.name,
      identity: this.#runner.id,
    });
    this.#evaluate();
    await this.#runner.start();
  }

  get settings(): DonorSettings {
    return this.#settings;
  }

  /** The runner's name at the gateway (its jobs' runner_id). */
  get runnerName(): string {
    return this.#runner.name;
  }

  /** Cores the donor's running sandboxes may be using now (for a probe of other programs' CPU). */
  get busyCpus(): number {
    return this.#running.size * this.#runner.cpus;
  }

  status(): DonorStatus {
    const now = this.#clock.now();
    const shown = this.#showing();
    const caps = this.#decision?.caps ?? capsFor(this.#settings);
    const ledger = this.#ledger.on(now);
    return {
      at: now,
      ...shown,
      running: this.#running.size,
      jobs: [...this.#running.values()],
      jobs_done: ledger.jobs_done,
      jobs_today: ledger.jobs_today,
      cpu_seconds: ledger.cpu_seconds,
      cpu_seconds_today: ledger.cpu_seconds_today,
      ...(this.#owner.kind === 'paused' ? { paused_until: this.#owner.until } : {}),
      connection: { ...this.#connection },
      engine_problem: this.#engineProblem,
      caps: { ...caps, languages: caps.languages === null ? null : [...caps.languages] },
      log: this.#journal.entries,
    };
  }

  /** The owner pauses the donor: running jobs are handed back; until `untilMs` (epoch ms) or null: until resumed. */
  pause(untilMs: number | null): void {
    this.#checkOpen();
    if (untilMs !== null && !(Number.isFinite(untilMs) && untilMs > this.#clock.now())) {
      throw new RangeError('a pause must end in the future (or never: null)');
    }
    const until = untilMs === null ? 'until resumed' : `until ${new Date(untilMs).toISOString()}`;
    this.#ownerSays({ kind: 'paused', until: untilMs }, `the owner paused the donor ${until}`);
  }

  /** The owner asks to finish the running jobs and take no new ones; resolves once they ended. */
  finish(): Promise<void> {
    this.#checkOpen();
    this.#ownerSays({ kind: 'finish' }, 'the owner asked to finish the running jobs, then pause');
    return this.#decision?.state === 'donating' ? Promise.resolve() : this.#runner.finished;
  }

  /** The owner lifts a pause or a finish: the policy decides again from the machine's state. */
  resume(): void {
    this.#checkOpen();
    this.#ownerSays({ kind: 'none' }, 'the owner resumed the donor');
  }

  /** New settings take effect at once (caps for the next job; other languages restart the runner). */
  updateSettings(settings: DonorSettings): void {
    this.#checkOpen();
    checkSettings(settings);
    this.#settings = settings;
    this.#journal.add('info', 'settings changed');
    this.#evaluate();
  }

  /**
   * Stops: takes no new job, lets the running ones end and report, then closes the runner (its
   * containers removed) and writes the ledger. `now`: hand running jobs back instead of waiting.
   * Idempotent; a second call with `now` cuts a draining close short.
   */
  close({ now = false }: { now?: boolean } = {}): Promise<void> {
    if (now && this.#closing !== null) void this.#runner.stop(true);
    this.#closing ??= (async () => {
      this.#tick?.cancel();
      this.#tick = null;
      this.#journal.add('info', now ? 'stopping now' : 'stopping once the running jobs end');
      this.#publish();
      await this.#runner.stop(now);
      await Promise.all([this.#ownerWrites, this.#ledger.flush()]);
      this.#stopped = true;
      this.#journal.add('info', 'donor stopped');
      this.#publish();
    })();
    return this.#closing;
  }

  #checkOpen(): void {
    if (this.#closing !== null) throw new Error('the donor is stopping');
  }

  #ownerSays(owner: OwnerOverride, msg: string): void {
    this.#journal.add('info', msg);
    this.#setOwner(owner);
    this.#evaluate();
  }

  #setOwner(owner: OwnerOverride): void {
    this.#owner = owner;
    this.#ownerWrites = this.#ownerWrites
      .then(() => saveOwnerOverride(this.dataDir, owner))
      .catch((err: unknown) =>
        this.#journal.add('error', `cannot keep the owner's choice: ${String(err)}`, { err }),
      );
  }

  // --- Deciding -------------------------------------------------------------------------------

  /** Asks the policy, applies its answer, publishes the status, and arms the next look. */
  #evaluate(): void {
    if (!this.#started || this.#closing !== null) return;
    const now = this.#clock.now();
    if (this.#owner.kind === 'paused' && this.#owner.until !== null && this.#owner.until <= now) {
      this.#journal.add('info', "the owner's pause ended");
      this.#setOwner({ kind: 'none' });
    }
    const inputs = this.#inputs(now);
    const { memory, decision } = decide(this.#memory, inputs, this.#settings);
    this.#memory = memory;
    this.#decision = decision;
    this.#runner.apply(decision, this.#settings);
    this.#publish();
    const due = nextCheckInMs(memory, inputs, this.#settings);
    this.#tick?.cancel();
    this.#tick = this.#clock.after(Math.max(MIN_CHECK_MS, Math.min(TICK_MS, due ?? TICK_MS)), () => {
      this.#tick = null;
      this.#evaluate();
    });
  }

  #inputs(now: number): PolicyInputs {
    const local = new Date(now);
    const power = this.#probe('power', () => this.#probes.power(), { onBattery: false, percent: null });
    return {
      now,
      localDay: local.getDay(),
      localMinutes: local.getHours() * 60 + local.getMinutes(),
      idleSeconds: this.#probe('idle time', () => this.#probes.idleSeconds(), null),
      onBattery: power.onBattery,
      batteryPercent: power.percent,
      otherCpuPercent: this.#probe('CPU load', () => this.#probes.otherCpuPercent(), 0),
      memoryUsedPercent: this.#probe('memory use', () => this.#probes.memoryUsedPercent(), 0),
      cpuSecondsToday: this.#ledger.on(now).cpu_seconds_today,
      owner: this.#owner,
    };
  }

  /** A probe that throws is the embedder's problem: said, and its neutral reading used. */
  #probe<T>(what: string, read: () => T, fallback: T): T {
    try {
      return read();
    } catch (err) {
      this.#log.warn({ probe: what, err }, 'a probe failed; its neutral reading is used');
      return fallback;
    }
  }

  // --- The runner's events --------------------------------------------------------------------

  #listen(runner: DonorRunner): void {
    runner.on('state', () => this.#publish());
    runner.on('connection', (event) => this.#connectionChanged(event));
    runner.on('fatal', (err) => {
      this.#connection = { state: 'refused', gateway: this.#options.gatewayUrl, message: err.message };
      this.#journal.add('error', `the gateway refused the donor: ${err.message}`);
      this.#publish();
      this.emit('fatal', err);
    });
    runner.on('job.started', (job) => {
      this.#running.set(job.id, { id: job.id, lang: job.lang, started_at: this.#clock.now() });
      this.#journal.add('info', `job ${job.id} (${job.lang}) started`, {
        job_id: job.id,
        runner_id: this.#runner.name,
        lang: job.lang,
      });
      this.#publish();
    });
    runner.on('job.finished', (job) => this.#jobFinished(job));
    runner.on('engine.missing', ({ message }) => {
      if (this.#engineProblem !== message) this.#journal.add('warn', message);
      this.#engineProblem = message;
      this.#publish();
    });
    runner.on('engine.ready', () => {
      this.#engineProblem = null;
      this.#journal.add('info', 'the Docker engine answers again');
      this.#publish();
    });
    runner.on('restarted', () => {
      this.#connection = { state: 'connecting', gateway: this.#options.gatewayUrl };
      this.#engineProblem = null;
      this.#evaluate();
    });
    runner.on('restart.failed', (err) => {
      this.#journal.add('error', `the runner could not restart: ${err.message}`);
      this.#publish();
      this.emit('fatal', err);
    });
  }

  #connectionChanged(event: ConnectionEvent): void {
    // The gateway of the runner's list this event is about (gatewayUrl may list several).
    const { gateway } = event;
    if (this.#connection.state === 'refused') return;
    switch (event.state) {
      case 'connected':
        this.#connection = { state: 'connected', gateway };
        this.#journal.add('info', `connected to ${gateway}`);
        break;
      case 'disconnected':
        this.#connection = { state: 'connecting', gateway };
        this.#journal.add('warn', `disconnected from ${gateway} (${event.code} ${event.reason})`.trim());
        break;
      case 'retrying':
        this.#connection = { state: 'retrying', gateway, retry_in_ms: event.in_ms };
        break;
    }
    this.#publish();
  }

  /**
   * A job with a result counts in the ledger, with the CPU time it used (its wall time when the
   * runner could not measure it: an upper bound for a one-threaded program); one that could not
   * run does not.
   */
  #jobFinished(job: JobFinished): void {
    this.#running.delete(job.id);
    const how = job.error === 'handed_back' ? 'handed back' : (job.reason ?? job.error ?? 'ended');
    this.#journal.add('info', `job ${job.id} (${job.lang}) ${how}`, {
      job_id: job.id,
      runner_id: this.#runner.name,
      lang: job.lang,
    });
    if (job.reason !== null) this.#ledger.record(job.cpu_ms ?? job.wall_ms ?? 0);
    this.#evaluate();
    this.#publish();
  }

  // --- The status -----------------------------------------------------------------------------

  #showing(): Shown {
    const restarting = this.#runner.restarting;
    return shownState({
      stopped: this.#stopped,
      stopping: this.#closing !== null,
      decision: this.#decision,
      starting: restarting
        ? 'restarting to offer other languages'
        : this.#runner.state === 'starting'
          ? this.#runner.reason
          : null,
      running: this.#running.size,
    });
  }

  /** Journals a transition, and emits the status when it changed. */
  #publish(): void {
    const { state, reason, reason_text: text } = this.#showing();
    const from = this.#shown;
    if (from.state !== state || from.reason !== reason) {
      this.#shown = { state, reason };
      this.#journal.add('info', `${from.state} → ${state}: ${text}`, { from: from.state, to: state, reason });
      this.emit('transition', { from: from.state, to: state, reason, text });
    }
    const status = this.status();
    const key = JSON.stringify({ ...status, at: 0 });
    if (key === this.#lastStatusKey) return;
    this.#lastStatusKey = key;
    this.emit('status', status);
  }
}

/** Throws for settings that do not match the schema or name a language that does not exist. */
function checkSettings(settings: DonorSettings): void {
  v.parse(DonorSettingsSchema, settings);
  languagesNamed(settings.limits.languages ?? []);
}
