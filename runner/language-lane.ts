// The pool's bookkeeping for one language: warm containers, jobs waiting for one, creations in
// flight, the detected version, and the back-off after failed creations.
import type { LanguageSpec } from '../shared/languages.js';
import type { PooledContainer } from './pooled-container.js';

export interface Waiter {
  /** When the job started waiting (oldest waiters are served first across languages). */
  since: number;
  resolve(container: PooledContainer): void;
  reject(err: Error): void;
}

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;

export class LanguageLane {
  readonly spec: LanguageSpec;
  readonly warm: PooledContainer[] = [];
  waiters: Waiter[] = [];
  /** Creations in flight (each will serve a waiter if there is one, else become warm). */
  creating = 0;
  leased = 0;
  /** Null until the first container ran the language's version command. */
  version: string | null = null;
  /** Why the language cannot be used, or null while it can. */
  unavailable: string | null = null;
  /** The first creation of the lane also detects the version (and proves the image runs). */
  needsProbe = true;
  readonly probed: Promise<void>;
  settleProbe: () => void = () => {};
  private failures = 0;
  /** No background refill before this time (after failures); waiting jobs still get a try. */
  retryAt = 0;
  retryTimer: NodeJS.Timeout | undefined;

  constructor(spec: LanguageSpec) {
    this.spec = spec;
    this.probed = new Promise((resolve) => {
      this.settleProbe = resolve;
    });
  }

  /** Warm containers to keep: more while jobs of this language run, within [minWarm, maxWarm]. */
  deficit(minWarm: number, maxWarm: number): number {
    const target = Math.min(maxWarm, Math.max(minWarm, this.leased));
    // Creations in flight go to waiters first; only what is left over will be warm.
    const comingWarm = Math.max(0, this.creating - this.waiters.length);
    return target - (this.warm.length + comingWarm);
  }

  /** Waiting jobs that no creation in flight will serve. */
  get unserved(): number {
    return this.waiters.length - this.creating;
  }

  matches(name: string): boolean {
    const key = name.toLowerCase();
    return this.spec.name === key || this.spec.aliases.includes(key);
  }

  succeeded(): void {
    this.failures = 0;
    this.retryAt = 0;
  }

  /** Record a failed creation; returns the back-off delay before the next background try. */
  failed(now: number): number {
    this.failures++;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.failures - 1));
    this.retryAt = now + delay;
    return delay;
  }
}
