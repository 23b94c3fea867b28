// The runners this gateway holds connections to, and the bookkeeping of what each holds: offers
// awaiting an answer (with their timeouts), running jobs, leases of jobs whose runner went away,
// pause and drain. It decides nothing about jobs — the dispatcher does — but it is the one place
// that knows which runner holds which job, and it announces runners coming, changing and going.
import { findLanguage, type Logger, type RunnerLanguage } from '../../shared/index.js';
import type { JobEvents } from '../events/job-events.js';
import type { Clock, Timer } from '../scheduling/clock.js';
import type { SchedRunner } from '../scheduling/scheduler.js';
import type { RunnerConnection } from './runner-connection.js';

export interface RunnerRegistryOptions {
  events: JobEvents;
  clock: Clock;
  log: Logger;
  /** How long a runner has to accept or reject an offer. */
  offerTimeoutMs: number;
  /** How long a running job waits for its vanished runner to come back. */
  leaseMs: number;
  /** A runner identity's standing (reliability-book.ts); default: good, not quarantined. */
  standingOf?: (identity: string) => { standing: 'good' | 'doubtful'; quarantined: boolean };
}

export interface LanguageSummary {
  name: string;
  versions: string[];
  aliases: string[];
  /** Runners offering it now. */
  runners: number;
  /** Runners building its image (it is offered once one finishes). */
  building: number;
}

export class RunnerRegistry {
  readonly #options: RunnerRegistryOptions;
  readonly #byName = new Map<string, RunnerConnection>();
  /** Which runner a job was offered to or runs on. */
  readonly #holder = new Map<string, RunnerConnection>();
  readonly #offerTimers = new Map<string, Timer>();
  /** Running jobs whose runner is gone: the runner it was and the timer of its lease. */
  readonly #leases = new Map<string, { runner: string; timer: Timer }>();

  constructor(options: RunnerRegistryOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#byName.size;
  }

  get(name: string): RunnerConnection | undefined {
    return this.#byName.get(name);
  }

  all(): IterableIterator<RunnerConnection> {
    return this.#byName.values();
  }

  /** Every live runner as the scheduler sees it (each view carries its connection). */
  views(): (SchedRunner & { connection: RunnerConnection })[] {
    const standingOf = this.#options.standingOf;
    return [...this.#byName.values()].map((runner) => {
      const view = runner.view();
      if (standingOf === undefined) return view;
      const { standing, quarantined } = standingOf(view.identity ?? view.id);
      // A quarantined identity stays connected (its owner sees why) but is offered nothing.
      return { ...view, standing, accepting: view.accepting && !quarantined };
    });
  }

  /** Whether some runner takes offers and has a free slot: a scheduling pass could place a job. */
  get hasFreeSlot(): boolean {
    for (const runner of this.#byName.values()) if (runner.accepting && runner.freeSlots > 0) return true;
    return false;
  }

  /** A runner finished its handshake. */
  join(runner: RunnerConnection): void {
    this.#byName.set(runner.name, runner);
    this.#options.events.emit('runner.joined', { runner: runner.info() });
  }

  /**
   * A runner's socket closed: it is forgotten, with its offers and running jobs (returned, for the
   * dispatcher to requeue or lease). Its offer timers stop.
   */
  leave(runner: RunnerConnection, final: boolean, reason: string): { offered: string[]; running: string[] } {
    if (this.#byName.get(runner.name) === runner) this.#byName.delete(runner.name);
    const offered = [...runner.offered];
    const running = [...runner.running];
    for (const id of offered) this.#clearOffer(id);
    for (const id of [...offered, ...running]) if (this.#holder.get(id) === runner) this.#holder.delete(id);
    runner.offered.clear();
    runner.running.clear();
    this.#options.events.emit('runner.left', { runner: runner.info(), final, reason });
    return { offered, running };
  }

  /** The runner a job was offered to or runs on, if it is connected. */
  holderOf(id: string): RunnerConnection | undefined {
    return this.#holder.get(id);
  }

  /** Whether a job is offered to some runner that has not answered yet. */
  isOffered(id: string): boolean {
    return this.#holder.get(id)?.offered.has(id) ?? false;
  }

  /** Records an offer; `onTimeout` runs if the runner does not answer in time. */
  offer(runner: RunnerConnection, id: string, inSession: boolean, onTimeout: () => void): void {
    runner.offered.add(id);
    if (inSession) runner.sessionJobs.add(id);
    this.#holder.set(id, runner);
    this.#offerTimers.set(
      id,
      this.#options.clock.after(this.#options.offerTimeoutMs, () => {
        this.#offerTimers.delete(id);
        onTimeout();
      }),
    );
  }

  /** The runner answered an offer (or it is withdrawn). False if it was not offered to it. */
  answered(runner: RunnerConnection, id: string): boolean {
    if (!runner.offered.delete(id)) return false;
    this.#clearOffer(id);
    if (!runner.running.has(id) && this.#holder.get(id) === runner) this.#holder.delete(id);
    return true;
  }

  /** The job runs on this runner now. */
  hold(runner: RunnerConnection, id: string): void {
    runner.running.add(id);
    this.#holder.set(id, runner);
    this.clearLease(id);
  }

  /** The job no longer runs there (it ended). False if it did not run there. */
  release(runner: RunnerConnection, id: string): boolean {
    runner.sessionJobs.delete(id);
    if (!runner.running.delete(id)) return false;
    if (this.#holder.get(id) === runner) this.#holder.delete(id);
    return true;
  }

  /** Starts the lease of a running job whose runner is gone; `onExpire` runs when it runs out. */
  startLease(id: string, runner: string, onExpire: () => void): void {
    if (this.#leases.has(id)) return;
    const timer = this.#options.clock.after(this.#options.leaseMs, () => {
      this.#leases.delete(id);
      onExpire();
    });
    this.#leases.set(id, { runner, timer });
  }

  clearLease(id: string): void {
    this.#leases.get(id)?.timer.cancel();
    this.#leases.delete(id);
  }

  /** Jobs on lease that ran on this runner (by name). */
  leasedTo(runner: string): string[] {
    return [...this.#leases].filter(([, lease]) => lease.runner === runner).map(([id]) => id);
  }

  /** The runner takes no more offers; what it holds, it finishes. False if it was draining. */
  drain(runner: RunnerConnection): boolean {
    if (!runner.moveTo('draining')) return false;
    this.#options.log.info({ runner_id: runner.name, holds: runner.running.size }, 'runner draining');
    this.#options.events.emit('runner.draining', { runner: runner.info() });
    return true;
  }

  /** Its owner paused or resumed it, or changed its slots. */
  setCapacity(runner: RunnerConnection, slots: number, paused: boolean): void {
    runner.slots = slots;
    runner.paused = paused;
    this.#options.events.emit('runner.changed', { runner: runner.info(), paused });
  }

  /** It offers a new set of languages (an image finished building, or failed to). */
  setLanguages(
    runner: RunnerConnection,
    languages: readonly RunnerLanguage[],
    building: readonly string[],
  ): void {
    runner.languages = new Map(languages.map((lang) => [lang.name, lang]));
    runner.building = [...building];
    this.#options.events.emit('runner.changed', { runner: runner.info(), paused: runner.paused });
  }

  /** Languages offered by the connected runners, by canonical name. */
  languages(): Map<string, RunnerLanguage> {
    const out = new Map<string, RunnerLanguage>();
    for (const runner of this.#byName.values()) {
      for (const lang of runner.languages.values()) out.set(lang.name, lang);
    }
    return out;
  }

  /** Per language: every version offered, the aliases, how many runners offer or build it. */
  languageSummary(): Map<string, LanguageSummary> {
    const out = new Map<string, LanguageSummary>();
    const entry = (name: string, aliases: string[]) => {
      let found = out.get(name);
      if (found === undefined) {
        found = { name, versions: [], aliases, runners: 0, building: 0 };
        out.set(name, found);
      }
      return found;
    };
    for (const runner of this.#byName.values()) {
      for (const lang of runner.languages.values()) {
        const summary = entry(lang.name, lang.aliases);
        if (!summary.versions.includes(lang.version)) summary.versions.push(lang.version);
        summary.runners++;
      }
      for (const name of runner.building) {
        if (!runner.languages.has(name)) entry(name, [...(findLanguage(name)?.aliases ?? [])]).building++;
      }
    }
    return out;
  }

  /** Gateway shutdown: stops every timer. */
  close(): void {
    for (const timer of this.#offerTimers.values()) timer.cancel();
    for (const lease of this.#leases.values()) lease.timer.cancel();
    this.#offerTimers.clear();
    this.#leases.clear();
  }

  #clearOffer(id: string): void {
    this.#offerTimers.get(id)?.cancel();
    this.#offerTimers.delete(id);
  }
}
