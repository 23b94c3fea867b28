// The pool's caps on what a sandbox may get: CPUs per container and the limits every job is
// clamped to (the runner's own maximums, never the gateway's numbers), the memory one lowered at
// run time by the runner's owner. Changes apply to containers created and jobs started after them.
import { type Limits, type LimitsInput, MAX_LIMITS, resolveLimits } from '../../shared/limits.js';

/** The least memory a sandbox may be capped to: the smallest memory_bytes a job may ask for. */
export const MIN_MEMORY_CAP_BYTES = 16 * 1024 * 1024;

export interface CapsChange {
  /** CPUs per container (fractions allowed). */
  cpus?: number;
  /** Most memory any job's sandbox gets, bytes; null lifts the cap (back to the pool's maximum). */
  memoryBytes?: number | null;
}

export class PoolCaps {
  readonly #ceiling: Limits;
  #cpus: number;
  #memoryCap: number | null = null;
  #maxLimits: Limits;

  constructor(options: { cpus?: number; maxLimits?: Limits }) {
    this.#ceiling = options.maxLimits ?? MAX_LIMITS;
    this.#maxLimits = this.#ceiling;
    this.#cpus = checkCpus(options.cpus ?? 1);
  }

  get cpus(): number {
    return this.#cpus;
  }

  /** The runner's maximums with the memory cap applied. */
  get maxLimits(): Limits {
    return this.#maxLimits;
  }

  /** Memory and pids every container is created with: the default job's (others get an update). */
  get baseLimits(): { memoryBytes: number; pids: number } {
    const base = this.clamp(undefined);
    return { memoryBytes: base.memory_bytes, pids: base.pids };
  }

  /** Throws RangeError (and changes nothing) for a value no sandbox could get. */
  set(change: CapsChange): void {
    const cpus = change.cpus === undefined ? this.#cpus : checkCpus(change.cpus);
    let cap = this.#memoryCap;
    if (change.memoryBytes !== undefined) {
      if (change.memoryBytes !== null && !(change.memoryBytes >= MIN_MEMORY_CAP_BYTES)) {
        throw new RangeError(`a memory cap must be at least ${MIN_MEMORY_CAP_BYTES} bytes`);
      }
      cap = change.memoryBytes === null ? null : Math.floor(change.memoryBytes);
    }
    this.#cpus = cpus;
    this.#memoryCap = cap;
    // Clamped like every other maximum: never above the runner's own ceiling.
    const memory = Math.min(this.#ceiling.memory_bytes, cap ?? Number.POSITIVE_INFINITY);
    this.#maxLimits = { ...this.#ceiling, memory_bytes: memory };
  }

  /** Defaults filled and every number clamped to the maximums. */
  clamp(requested: LimitsInput | null | undefined): Limits {
    return resolveLimits(requested ?? undefined, this.#maxLimits).limits;
  }
}

function checkCpus(cpus: number): number {
  // Docker takes NanoCpus down to 0.01 CPU; more than the host has it refuses at create.
  if (!(cpus >= 0.01) || !Number.isFinite(cpus)) throw new RangeError('cpus must be at least 0.01');
  return cpus;
}
