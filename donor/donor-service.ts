// The donor engine, shared by the headless donor (`codeexec donor`) and the desktop app (which
// brings its own SystemProbes; nothing here imports electron). It owns a runner over
// `<dataDir>/runner` (the donor's identity, and the lock that keeps one process per directory),
// asks the policy (donor-policy.ts) what to do every 2 s and at once on any owner action,
// settings change or job end, applies the answer to the runner, and keeps the books (the ledger:
// jobs and CPU donated), the owner's last word (owner-override-file.ts, so a pause outlives a
// reboot) and a journal of every transition. What it knows is one DonorStatus, emitted on change.
//
//   const donor = await DonorService.open({ gatewayUrl, token, dataDir, settings, probes });
//   donor.on('status', (status) => …);
//   await donor.start();
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as v from 'valibot';
import { type Clock, realClock, type Timer } from '../gateway/scheduling/clock.js';
import { createRunner, type RunnerOptions } from '../runner/create-runner.js';
import type { Runner } from '../runner/runner.js';
import type { ConnectionEvent, JobFinished, RunnerEvents } from '../runner/runner-events.js';
import { languagesNamed } from '../runner/runner-languages.js';
import { TypedEmitter } from '../runner/typed-emitter.js';
import {
  type DonorReason,
  type DonorSettings,
  DonorSettingsSchema,
  type DonorState,
  type DonorStatus,
} from '../shared/donor.js';
import { consoleLogger, type Logger } from '../shared/index.js';
import { DonorJournal } from './donor-journal.js';
import { type Ledger, loadLedger, localDayKey, recordJob, rollDay, saveLedger } from './donor-ledger.js';
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
import { loadOwnerOverride, saveOwnerOverride } from './owner-override-file.js';

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
/** The ledger is written this long after a job ended (once for a burst of short jobs), and on close. */
export const LEDGER_SAVE_MS = 5000;
export const LEDGER_FILE = 'ledger.json';
/** The soonest a timed decision is taken again (a due time of 0 must not spin a fake clock). */
const MIN_CHECK_MS = 50;
const MIB = 2 ** 20;

type Caps = PolicyDecision['caps'];
type Connection = DonorStatus['connection'];

export class DonorService extends TypedEmitter<DonorEvents> {
  readonly dataDir: string;
  readonly #options: DonorServiceOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #journal: DonorJournal;
  readonly #probes: SystemProbes;
  #settings: DonorSettings;
  #runner: Runner;
  #owner: OwnerOverride;
  #ownerWrites: Promise<void> = Promise.resolve();
  #ledger: Ledger;
  #ledgerSave: Timer | null = null;
  #ledgerWrites: Promise<void> = Promise.resolve();
  #memory: PolicyMemory = INITIAL_POLICY_MEMORY;
  #decision: PolicyDecision | null = null;
  /** What the runner was last told: its state, its caps, the languages it was created with. */
  #appliedState: PolicyDecision['state'] | null = null;
  #appliedCaps: Omit<Caps, 'languages'>;
  #runnerLanguages: string[] | null;
  /** finishThenPause of the last finishing (or paused) decision: resolves once its jobs ended. */
  #finished: Promise<void> = Promise.resolve();
  readonly #running = new Map<string, DonorStatus['jobs'][number]>();
  #connection: Connection;
  #engineProblem: string | null = null;
  #started = false;
  #restarting: Promise<void> | null = null;
  #closing: Promise<void> | null = null;
  #stopped = false;
  #tick: Timer | null = null;
  #shown: { state: DonorState; reason: DonorReason } = { state: 'starting', reason: 'starting' };
  #lastStatusKey = '';

  private constructor(options: DonorServiceOptions, runner: Runner, owner: OwnerOverride, ledger: Ledger) {
    super((err, event) =>
      (options.log ?? consoleLogger)('error', 'a donor event listener threw', { event, error: String(err) }),
    );
    this.#options = options;
    this.dataDir = options.dataDir;
    this.#clock = options.clock ?? realClock;
    this.#log = options.log ?? consoleLogger;
    this.#journal = new DonorJournal(this.#log, () => this.#clock.now());
    this.#probes = options.probes;
    this.#settings = options.settings;
    this.#owner = owner;
    this.#ledger = ledger;
    const caps = capsFor(options.settings);
    this.#appliedCaps = { slots: caps.slots, cpus: caps.cpus, memory_mb: caps.memory_mb };
    this.#runnerLanguages = caps.languages;
    this.#connection = { state: 'connecting', gateway: options.gatewayUrl };
    this.#runner = runner;
    this.#attach(runner);
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
    const log = options.log ?? consoleLogger;
    // The runner's lock first: the files below are this process's only once it holds it.
    const runner = await createDonorRunner(options, options.settings, log);
    try {
      const owner = await loadOwnerOverride(options.dataDir, (why) =>
        log('warn', `${why}: taken as no pause`),
      );
      const ledger = await loadLedger(join(options.dataDir, LEDGER_FILE));
      return new DonorService(options, runner, owner, ledger);
    } catch (err) {
      await runner.close();
      throw err;
    }
  }

  /** Decides, then starts the runner (it waits for the Docker engine, then dials the gateway). */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#journal.add('info', `donor started over ${this.dataDir}`, {
      runner: this.#runner.name,
      runner_id: this.#runner.id,
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
    return this.#running.size * this.#appliedCaps.cpus;
  }

  status(): DonorStatus {
    const now = this.#clock.now();
    const shown = this.#showing();
    const caps = this.#decision?.caps ?? capsFor(this.#settings);
    const ledger = this.#ledgerOn(now);
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
    return this.#decision?.state === 'donating' ? Promise.resolve() : this.#finished;
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
    if (now && this.#closing !== null) void this.#runner.close();
    this.#closing ??= (async () => {
      this.#tick?.cancel();
      this.#tick = null;
      this.#journal.add('info', now ? 'stopping now' : 'stopping once the running jobs end');
      this.#publish();
      await this.#restarting;
      await (now ? this.#runner.close() : this.#runner.drain());
      this.#saveLedger();
      await Promise.all([this.#ownerWrites, this.#ledgerWrites]);
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
      .catch((err: unknown) => this.#journal.add('error', `cannot keep the owner's choice: ${String(err)}`));
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
    this.#apply(decision);
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
      cpuSecondsToday: this.#ledgerOn(now).cpu_seconds_today,
      owner: this.#owner,
    };
  }

  /** A probe that throws is the embedder's problem: said, and its neutral reading used. */
  #probe<T>(what: string, read: () => T, fallback: T): T {
    try {
      return read();
    } catch (err) {
      this.#log('warn', `cannot read the ${what}`, { error: String(err) });
      return fallback;
    }
  }

  /** Tells the runner what changed: its state, its caps, the languages it offers. */
  #apply(decision: PolicyDecision): void {
    if (this.#restarting !== null) return; // the new runner gets the decision when it is made
    if (!sameLanguages(decision.caps.languages, this.#runnerLanguages)) {
      this.#restartRunner(decision.caps.languages);
      return;
    }
    const runner = this.#runner;
    const { slots, cpus, memory_mb } = decision.caps;
    const applied = this.#appliedCaps;
    if (slots !== applied.slots || cpus !== applied.cpus || memory_mb !== applied.memory_mb) {
      try {
        runner.setCaps({ slots, cpus, memory: memory_mb * MIB });
        this.#appliedCaps = { slots, cpus, memory_mb };
        this.#journal.add('info', `caps: ${slots} job(s), ${cpus} CPU(s) each, ${memory_mb} MiB each`);
      } catch (err) {
        this.#journal.add('error', `the runner refused the caps: ${(err as Error).message}`);
      }
    }
    if (decision.state === this.#appliedState) return;
    this.#appliedState = decision.state;
    switch (decision.state) {
      case 'donating':
        runner.resume(decision.text);
        break;
      case 'finishing':
        this.#finished = runner.finishThenPause(decision.text);
        void this.#finished.then(() => this.#publish());
        break;
      case 'paused':
        // Running jobs go back to the gateway now (it queues them again, the attempt uncounted).
        this.#finished = runner.suspend(decision.text);
        void this.#finished.then(() => this.#publish());
        break;
    }
  }

  /**
   * The runner cannot change the languages it offers while it runs (its pool is made for them):
   * a new runner over the same directory replaces it once the running jobs have ended.
   */
  #restartRunner(languages: string[] | null): void {
    const offering = languages === null ? 'every language this machine has' : languages.join(', ');
    this.#journal.add('info', `to offer ${offering}, the runner restarts once its jobs end`);
    this.#restarting = (async () => {
      try {
        await this.#runner.drain();
        if (this.#closing !== null) return;
        // The settings of now: they may have changed again while the jobs ended.
        const settings = this.#settings;
        const runner = await createDonorRunner(this.#options, settings, this.#log);
        this.#runner = runner;
        const caps = capsFor(settings);
        this.#runnerLanguages = caps.languages;
        this.#appliedState = null;
        this.#appliedCaps = { slots: caps.slots, cpus: caps.cpus, memory_mb: caps.memory_mb };
        this.#connection = { state: 'connecting', gateway: this.#options.gatewayUrl };
        this.#attach(runner);
      } catch (err) {
        this.#restartFailed(err);
        return;
      } finally {
        this.#restarting = null;
      }
      this.#evaluate();
      this.#runner.start().catch((err: unknown) => this.#restartFailed(err));
    })();
  }

  #restartFailed(err: unknown): void {
    this.#journal.add('error', `the runner could not restart: ${(err as Error).message}`);
    this.#publish();
    this.emit('fatal', err as Error);
  }

  // --- The runner's events --------------------------------------------------------------------

  #attach(runner: Runner): void {
    const on = <K extends keyof RunnerEvents & string>(
      event: K,
      handle: (payload: RunnerEvents[K]) => void,
    ) =>
      runner.on(event, (payload) => {
        if (runner === this.#runner) handle(payload);
      });
    on('state', () => this.#publish());
    on('connection', (event) => this.#connectionChanged(event));
    on('fatal', (err) => {
      this.#connection = { state: 'refused', gateway: this.#options.gatewayUrl, message: err.message };
      this.#journal.add('error', `the gateway refused the donor: ${err.message}`);
      this.#publish();
      this.emit('fatal', err);
    });
    on('job.started', (job) => {
      this.#running.set(job.id, { id: job.id, lang: job.lang, started_at: this.#clock.now() });
      this.#journal.add('info', `job ${job.id} (${job.lang}) started`);
      this.#publish();
    });
    on('job.finished', (job) => this.#jobFinished(job));
    on('engine.missing', ({ message }) => {
      if (this.#engineProblem !== message) this.#journal.add('warn', message);
      this.#engineProblem = message;
      this.#publish();
    });
    on('engine.ready', () => {
      this.#engineProblem = null;
      this.#journal.add('info', 'the Docker engine answers again');
      this.#publish();
    });
  }

  #connectionChanged(event: ConnectionEvent): void {
    const gateway = this.#options.gatewayUrl;
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
    this.#journal.add('info', `job ${job.id} (${job.lang}) ${how}`);
    if (job.reason !== null) {
      const dayKey = localDayKey(new Date(this.#clock.now()));
      this.#ledger = recordJob(this.#ledger, { cpu_ms: job.cpu_ms ?? job.wall_ms ?? 0, dayKey });
      this.#ledgerSave ??= this.#clock.after(LEDGER_SAVE_MS, () => this.#saveLedger());
    }
    this.#evaluate();
    this.#publish();
  }

  #ledgerOn(now: number): Ledger {
    return rollDay(this.#ledger, localDayKey(new Date(now)));
  }

  #saveLedger(): void {
    this.#ledgerSave?.cancel();
    this.#ledgerSave = null;
    const ledger = this.#ledger;
    this.#ledgerWrites = this.#ledgerWrites
      .then(() => saveLedger(join(this.dataDir, LEDGER_FILE), ledger))
      .catch((err: unknown) => this.#journal.add('error', `cannot write the ledger: ${String(err)}`));
  }

  // --- The status -----------------------------------------------------------------------------

  /** The state, reason and text shown, from the decision and what the runner does. */
  #showing(): Pick<DonorStatus, 'state' | 'reason' | 'reason_text'> {
    if (this.#stopped) return { state: 'stopped', reason: 'stopped', reason_text: 'Stopped' };
    if (this.#closing !== null) {
      return { state: 'finishing', reason: 'stopped', reason_text: 'Stopping once the running jobs end' };
    }
    const decision = this.#decision;
    if (decision === null) return { state: 'starting', reason: 'starting', reason_text: 'Starting' };
    if (decision.state === 'donating' && (this.#restarting !== null || this.#runner.state === 'starting')) {
      const why = this.#restarting !== null ? 'restarting to offer other languages' : this.#runner.reason;
      return { state: 'starting', reason: 'starting', reason_text: `Starting: ${why}` };
    }
    const state = decision.state === 'finishing' && this.#running.size === 0 ? 'paused' : decision.state;
    return { state, reason: decision.reason, reason_text: decision.text };
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

/** The donor's runner: over `<dataDir>/runner`, paused, with the settings' caps and languages. */
function createDonorRunner(
  options: DonorServiceOptions,
  settings: DonorSettings,
  log: Logger,
): Promise<Runner> {
  const caps = capsFor(settings);
  return createRunner({
    gatewayUrl: options.gatewayUrl,
    token: options.token,
    dataDir: join(options.dataDir, 'runner'),
    log,
    paused: true,
    slots: caps.slots,
    cpus: caps.cpus,
    memory: caps.memory_mb * MIB,
    ...(caps.languages === null ? {} : { languages: caps.languages }),
    ...options.runner,
  });
}

/** Throws for settings that do not match the schema or name a language that does not exist. */
function checkSettings(settings: DonorSettings): void {
  v.parse(DonorSettingsSchema, settings);
  languagesNamed(settings.limits.languages ?? []);
}

function sameLanguages(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}
