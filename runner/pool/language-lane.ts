// The pool's bookkeeping for one language: warm containers, jobs waiting for one, creations in
// flight, the detected version, and the back-off after failed creations.
import type { LanguageSpec } from '../../shared/languages.js';
import type { ExecRequest } from '../docker/docker-sandbox.js';
import { parseVersion } from '../execution/language-version.js';
import type { PooledContainer } from './pooled-container.js';

export interface Waiter {
  /** When the job started waiting (oldest waiters are served first across languages). */
  since: number;
  resolve(container: PooledContainer): void;
  reject(err: Error): void;
}

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const VERSION_TIMEOUT_MS = 30_000;

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

  /**
   * Warm containers still to make. While the pool is idle: minWarm (more stay if jobs made more).
   * While it is busy: one per job of this language running, at least one (if minWarm allows), so
   * the rest of the stock is refilled when creating it no longer slows jobs down. Never past maxWarm.
   */
  deficit(minWarm: number, maxWarm: number, idle: boolean): number {
    // Creations in flight go to waiters first; only what is left over will be warm.
    const comingWarm = Math.max(0, this.creating - this.waiters.length);
    return this.target(minWarm, maxWarm, idle) - (this.warm.length + comingWarm);
  }

  /** The warm containers it aims to hold now (see deficit). */
  target(minWarm: number, maxWarm: number, idle: boolean): number {
    const floor = idle ? minWarm : Math.min(minWarm, 1);
    return Math.min(maxWarm, Math.max(floor, this.leased));
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

  /** Run the version command through `exec` (which also proves the image runs) and parse it. */
  async detectVersion(exec: (request: ExecRequest) => Promise<number | null>): Promise<string> {
    const argv = this.spec.version;
    const chunks: Buffer[] = [];
    const code = await exec({
      argv,
      input: null,
      onOutput: (_stream, data) => chunks.push(Buffer.from(data)),
      signal: AbortSignal.timeout(VERSION_TIMEOUT_MS),
    });
    const text = Buffer.concat(chunks).toString('utf8');
    if (code !== 0) throw new Error(`\`${argv.join(' ')}\` ended with ${code}: ${text.trim().slice(0, 200)}`);
    const version = parseVersion(text);
    if (version === null)
      throw new Error(`no version in the output of \`${argv.join(' ')}\`: ${text.trim()}`);
    return version;
  }
}

/**
 * The lane whose next creation matters most: the one whose job has waited longest, then (only with
 * `background` capacity left) one that still needs its version probe, then (when refilling) the one
 * furthest below its warm target.
 */
export function laneToFill(
  all: Iterable<LanguageLane>,
  options: {
    minWarm: number;
    maxWarm: number;
    idle: boolean;
    background: boolean;
    refill: boolean;
    now: number;
  },
): LanguageLane | null {
  const lanes = [...all].filter((lane) => lane.unavailable === null);
  const waiting = lanes
    .filter((lane) => lane.unserved > 0)
    .sort((a, b) => (a.waiters[0]?.since ?? 0) - (b.waiters[0]?.since ?? 0));
  if (waiting[0] !== undefined) return waiting[0];
  if (!options.background) return null;
  const probe = lanes.find((lane) => lane.needsProbe);
  if (probe !== undefined || !options.refill) return probe ?? null;
  let best: LanguageLane | null = null;
  let bestDeficit = 0;
  for (const lane of lanes) {
    const deficit = lane.deficit(options.minWarm, options.maxWarm, options.idle);
    if (deficit > bestDeficit && lane.retryAt <= options.now) {
      best = lane;
      bestDeficit = deficit;
    }
  }
  return best;
}
