// The pool's languages: a lane per language whose image exists, why the others cannot run, and
// which lane serves a job's language (a name or an alias). Lanes are added at start and later,
// when an image built elsewhere appears (SandboxPool.addLanguage).
import type { LanguageSpec } from '../../shared/languages.js';
import type { RunnerLanguage } from '../../shared/runner-protocol.js';
import { LanguageLane } from './language-lane.js';

export class PoolLanes {
  readonly #lanes = new Map<string, LanguageLane>();
  /** Languages without a lane, with why (their image is missing). */
  readonly #missing = new Map<string, string>();
  /** Of those, the ones whose image is missing (a build may still bring them). */
  readonly #imageMissing = new Set<string>();

  [Symbol.iterator](): IterableIterator<LanguageLane> {
    return this.#lanes.values();
  }

  get(name: string): LanguageLane | undefined {
    return this.#lanes.get(name);
  }

  /** A new lane for `spec` (replacing one that could not run). */
  add(spec: LanguageSpec): LanguageLane {
    const lane = new LanguageLane(spec);
    this.#lanes.set(spec.name, lane);
    this.#missing.delete(spec.name);
    this.#imageMissing.delete(spec.name);
    return lane;
  }

  imageMissing(spec: LanguageSpec): void {
    this.#missing.set(spec.name, `image ${spec.image} not found`);
    this.#imageMissing.add(spec.name);
  }

  /** Languages whose image was not there (at start, or when last asked to add them). */
  get missingImages(): string[] {
    return [...this.#imageMissing];
  }

  /** Languages that cannot run here, with why (image missing, version command failed). */
  get unavailable(): Map<string, string> {
    const all = new Map(this.#missing);
    for (const lane of this.#lanes.values()) {
      if (lane.unavailable !== null) all.set(lane.spec.name, lane.unavailable);
    }
    return all;
  }

  /** The lane that runs `lang` (a name or an alias), if it can run. */
  serving(lang: string): LanguageLane | undefined {
    return [...this.#lanes.values()].find((lane) => lane.unavailable === null && lane.matches(lang));
  }

  /** Some job waits for a container to be created. */
  get waiting(): boolean {
    for (const lane of this.#lanes.values()) if (lane.waiters.length > 0) return true;
    return false;
  }

  /** Every language that runs here, with the version its image reported. */
  offered(): RunnerLanguage[] {
    return [...this.#lanes.values()].filter((lane) => lane.unavailable === null).flatMap(describe);
  }
}

/** A lane as the runner offers it; nothing while its version is unknown. */
export function describe(lane: LanguageLane): RunnerLanguage[] {
  if (lane.version === null) return [];
  return [{ name: lane.spec.name, version: lane.version, aliases: [...lane.spec.aliases] }];
}
