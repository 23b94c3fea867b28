// The app's core, without Electron: it loads the owner's settings (first run: the donor-friendly
// defaults, written to the file; a damaged file is shown, never reset), reads the enrollment,
// opens the donor engine and forwards the owner's controls to it, and publishes one status for
// the tray and the windows. When the donor cannot run yet (not enrolled, damaged settings, an
// unreadable token), the status says why and what to do, and nothing is donated.
import * as v from 'valibot';
import { TypedEmitter } from '../runner/typed-emitter.js';
import {
  DESKTOP_DEFAULT_SETTINGS,
  type DonorLogEntrySchema,
  type DonorSettings,
  DonorSettingsSchema,
  type DonorStatus,
} from '../shared/donor.js';
import { type Logger, silentLogger } from '../shared/log.js';
import type { DonorEngine, EngineFactory } from './donor-engine.js';
import { fieldErrors, summariseFields } from './field-errors.js';
import type { DesktopStatus, EnrollmentRequest, SaveResult, SettingsView, SetupProblem } from './ipc-api.js';
import type { Enrollment } from './token-vault.js';

type LogEntry = v.InferOutput<typeof DonorLogEntrySchema>;

/** Reads and writes the settings file (donor/settings-file.ts's loadSettings and saveSettings). */
export interface SettingsFile {
  readonly path: string;
  load(defaults: DonorSettings): Promise<{ settings: DonorSettings; source: 'file' | 'defaults' }>;
  save(settings: DonorSettings): Promise<void>;
}

/** Keeps the enrollment (token-vault.ts's TokenVault). */
export interface EnrollmentStore {
  load(): Promise<Enrollment | null>;
  save(enrollment: Enrollment): Promise<void>;
  gatewayUrl(): Promise<string | null>;
  /** Why a token cannot be stored on this machine, or null. */
  unavailableReason(): string | null;
}

export interface DonorHostOptions {
  settings: SettingsFile;
  enrollment: EnrollmentStore;
  openEngine: EngineFactory;
  /** The languages the settings form offers. */
  languages: readonly string[];
  /**
   * Runs beside each engine while it is open (the shell: the control socket of `codeexec donor
   * status|pause|…`); returns how to stop it. A failure is logged: the donor runs without it.
   */
  attach?: (engine: DonorEngine) => Promise<() => Promise<void>>;
  now?: () => number;
  log?: Logger;
}

export interface DonorHostEvents {
  status: DesktopStatus;
}

/** Refused: the donor is not running (the status says why). */
export class DonorNotRunningError extends Error {
  override name = 'DonorNotRunningError';
}

/** Host log lines kept for the status window (the engine keeps its own). */
const HOST_LOG_LINES = 20;
/** Log lines a status carries. */
const STATUS_LOG_LINES = 50;

export class DonorHost extends TypedEmitter<DonorHostEvents> {
  readonly #options: DonorHostOptions;
  readonly #now: () => number;
  readonly #log: Logger;
  #settings: DonorSettings = DESKTOP_DEFAULT_SETTINGS;
  #settingsSource: SettingsView['source'] = 'defaults';
  /** The settings file's problems while it is damaged. */
  #settingsProblems: string[] = [];
  #gatewayUrl: string | null = null;
  #engine: DonorEngine | null = null;
  #unsubscribe: (() => void) | null = null;
  #detach: (() => Promise<void>) | null = null;
  #setup: SetupProblem | null = { kind: 'not_enrolled', text: 'Starting…' };
  #hostLog: LogEntry[] = [];
  /** One change at a time: a save while the engine opens waits for it. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: DonorHostOptions) {
    super();
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? silentLogger;
  }

  /** Loads the settings and the enrollment, then opens and starts the engine if it can. */
  start(): Promise<void> {
    return this.#serial(async () => {
      await this.#loadSettings();
      await this.#openEngine();
    });
  }

  status(): DesktopStatus {
    const donor = this.#engine?.status() ?? this.#idleStatus();
    const log = [...donor.log, ...this.#hostLog].sort((a, b) => a.at - b.at).slice(-STATUS_LOG_LINES);
    return { donor: { ...donor, log }, setup: this.#setup };
  }

  async settingsView(): Promise<SettingsView> {
    // The vault file holds the URL in the clear and the token encrypted: one exists with the other.
    const gatewayUrl = await this.#options.enrollment.gatewayUrl();
    return {
      settings: this.#settings,
      source: this.#settingsSource,
      file: this.#options.settings.path,
      problems: this.#settingsProblems,
      languages: [...this.#options.languages],
      enrollment: {
        gateway_url: gatewayUrl,
        has_token: gatewayUrl !== null,
        can_store_token: this.#options.enrollment.unavailableReason() === null,
      },
    };
  }

  /** Validates again (a window is not trusted), writes the file, then applies the settings. */
  saveSettings(input: unknown): Promise<SaveResult> {
    return this.#serial(async (): Promise<SaveResult> => {
      const parsed = v.safeParse(DonorSettingsSchema, input);
      if (!parsed.success) {
        const fields = fieldErrors(parsed.issues);
        return { ok: false, error: `Not saved: ${summariseFields(fields)}`, fields };
      }
      try {
        await this.#options.settings.save(parsed.output);
      } catch (err) {
        return { ok: false, error: `Not saved: ${(err as Error).message}`, fields: {} };
      }
      const wasDamaged = this.#settingsSource === 'damaged';
      this.#settings = parsed.output;
      this.#settingsSource = 'file';
      this.#settingsProblems = [];
      this.#note('info', wasDamaged ? 'Settings saved; the damaged file was replaced' : 'Settings saved');
      if (this.#engine) await this.#engine.updateSettings(parsed.output);
      else await this.#openEngine();
      this.#publish();
      return { ok: true };
    });
  }

  /** A new gateway or token: stored (the token encrypted), then the engine is reopened with it. */
  saveEnrollment(request: EnrollmentRequest): Promise<SaveResult> {
    return this.#serial(async (): Promise<SaveResult> => {
      let token = request.token;
      if (token === null) {
        try {
          token = (await this.#options.enrollment.load())?.token ?? null;
        } catch (err) {
          return { ok: false, error: `Enter the token again: ${(err as Error).message}`, fields: {} };
        }
        if (token === null) return { ok: false, error: 'Enter the token', fields: { token: 'is required' } };
      }
      try {
        await this.#options.enrollment.save({ gateway_url: request.gateway_url, token });
      } catch (err) {
        return { ok: false, error: (err as Error).message, fields: {} };
      }
      this.#note('info', `Enrolled with ${request.gateway_url}`);
      // Running jobs belong to the old enrollment: handed back to its gateway at once.
      await this.#closeEngine({ now: true });
      await this.#openEngine();
      return { ok: true };
    });
  }

  pause(untilMs: number | null): DesktopStatus {
    this.#running().pause(untilMs);
    return this.status();
  }

  /** Starts finishing and answers at once; the engine's promise ends when the jobs have. */
  finish(): DesktopStatus {
    this.#running()
      .finish()
      .catch((err: unknown) => this.#note('error', `Finishing failed: ${String(err)}`));
    return this.status();
  }

  resume(): DesktopStatus {
    this.#running().resume();
    return this.status();
  }

  /** Drains the engine (running jobs end or are handed back) and stops. */
  close(): Promise<void> {
    this.#closed = true;
    return this.#serial(() => this.#closeEngine());
  }

  async #loadSettings(): Promise<void> {
    const file = this.#options.settings;
    try {
      const { settings, source } = await file.load(DESKTOP_DEFAULT_SETTINGS);
      this.#settings = settings;
      this.#settingsSource = source;
      if (source === 'defaults') {
        // First run: the defaults go to the file, where the owner (or a script) can see them.
        await file.save(settings).catch((err: unknown) => {
          this.#note('warn', `The default settings could not be written: ${(err as Error).message}`);
        });
        this.#note('info', 'First run: donor-friendly default settings (only when idle, not on battery)');
      }
    } catch (err) {
      this.#settings = DESKTOP_DEFAULT_SETTINGS;
      this.#settingsSource = 'damaged';
      const problems = (err as { problems?: unknown }).problems;
      this.#settingsProblems =
        Array.isArray(problems) && problems.length > 0 ? problems.map(String) : [(err as Error).message];
      this.#note('error', `Settings file damaged: ${(err as Error).message}`);
    }
  }

  async #openEngine(): Promise<void> {
    if (this.#closed || this.#engine) return;
    if (this.#settingsSource === 'damaged') {
      return this.#stopFor({
        kind: 'settings_damaged',
        text:
          `The settings file ${this.#options.settings.path} is damaged: ${this.#settingsProblems.join('; ')}. ` +
          'Nothing is donated until it is fixed: correct it by hand, or save settings in the Settings ' +
          'window (that replaces the file).',
      });
    }
    let enrollment: Enrollment | null;
    try {
      enrollment = await this.#options.enrollment.load();
    } catch (err) {
      return this.#stopFor({ kind: 'token_unavailable', text: `${(err as Error).message}.` });
    }
    if (enrollment === null) {
      return this.#stopFor({
        kind: 'not_enrolled',
        text: 'Not set up yet: enter the gateway address and the token you were given in Settings.',
      });
    }
    this.#gatewayUrl = enrollment.gateway_url;
    try {
      const engine = await this.#options.openEngine({
        gatewayUrl: enrollment.gateway_url,
        token: enrollment.token,
        settings: this.#settings,
      });
      this.#engine = engine;
      this.#setup = null;
      const offStatus = engine.on('status', () => this.#publish());
      const offFatal = engine.on('fatal', (error) => this.#failed(engine, error));
      this.#unsubscribe = () => {
        offStatus();
        offFatal();
      };
      // Not awaited: start() waits for a Docker engine (the status says so meanwhile), and the
      // owner's saves and controls must not wait behind it.
      Promise.resolve(engine.start()).catch((err: unknown) => this.#failed(engine, err as Error));
      this.#publish();
      const attach = this.#options.attach;
      if (attach) {
        this.#detach = await attach(engine).catch((err: unknown) => {
          this.#note('warn', `Running without the control socket: ${(err as Error).message}`);
          return null;
        });
      }
    } catch (err) {
      this.#stopFor({ kind: 'engine_failed', text: `The donor could not start: ${(err as Error).message}` });
    }
  }

  /** The engine gave up: closed, and the owner told why (a refused token: enter another). */
  #failed(engine: DonorEngine, error: Error): void {
    void this.#serial(async () => {
      if (this.#engine !== engine) return;
      await this.#closeEngine({ now: true });
      this.#stopFor({
        kind: 'engine_failed',
        text: `The donor stopped: ${error.message}. Check the gateway and token in Settings.`,
      });
    });
  }

  async #closeEngine(options: { now?: boolean } = {}): Promise<void> {
    const engine = this.#engine;
    if (!engine) return;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#engine = null;
    const detach = this.#detach;
    this.#detach = null;
    await engine.close(options);
    await detach?.().catch((err: unknown) => this.#log.warn({ err }, 'detaching failed'));
  }

  #stopFor(problem: SetupProblem): void {
    this.#setup = problem;
    this.#log.warn({ kind: problem.kind }, problem.text);
    this.#publish();
  }

  #running(): DonorEngine {
    if (!this.#engine) throw new DonorNotRunningError(this.#setup?.text ?? 'The donor is not running');
    return this.#engine;
  }

  /** The status while no engine runs: stopped, with the setup problem as its reason. */
  #idleStatus(): DonorStatus {
    return {
      at: this.#now(),
      state: 'stopped',
      reason: 'stopped',
      reason_text: this.#setup?.text ?? 'stopped',
      running: 0,
      jobs: [],
      jobs_done: 0,
      jobs_today: 0,
      cpu_seconds: 0,
      cpu_seconds_today: 0,
      connection: { state: 'connecting', gateway: this.#gatewayUrl ?? '' },
      engine_problem: null,
      caps: { slots: 0, cpus: 0, memory_mb: 0, languages: null },
      log: [],
    };
  }

  #note(level: LogEntry['level'], msg: string): void {
    this.#log[level](msg);
    this.#hostLog.push({ at: this.#now(), level, msg });
    if (this.#hostLog.length > HOST_LOG_LINES) this.#hostLog.shift();
  }

  #publish(): void {
    this.emit('status', this.status());
  }

  #serial<T>(step: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(step, step);
    this.#queue = next.catch(() => {});
    return next;
  }
}
