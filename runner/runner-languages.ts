// What a runner offers: the languages that run here, with the versions their images reported,
// and those whose images are being built elsewhere (offered once built). Both go in the hello and
// in `languages` frames, which replace the gateway's picture of this runner.
import { LANGUAGES, type LanguageSpec } from '../shared/languages.js';
import type { RunnerLanguage, RunnerToGateway } from '../shared/runner-protocol.js';

type LanguagesFrame = Extract<RunnerToGateway, { type: 'languages' }>;

export class RunnerLanguages {
  #offered: RunnerLanguage[] = [];
  readonly #building = new Set<string>();

  constructor(building: readonly string[] = []) {
    for (const spec of languagesNamed(building)) this.#building.add(spec.name);
  }

  get offered(): readonly RunnerLanguage[] {
    return this.#offered;
  }

  get building(): string[] {
    return [...this.#building];
  }

  /** What the pool detected at start; a language that runs is no longer building. */
  started(offered: readonly RunnerLanguage[]): void {
    this.#offered = [...offered];
    for (const lang of offered) this.#building.delete(lang.name);
  }

  /** Whether jobs of `lang` (a canonical name, as the gateway sends it) run here. */
  offers(lang: string): boolean {
    return this.#offered.some((known) => known.name === lang);
  }

  /** Marks languages as building; false when nothing changed. Throws for an unknown name. */
  markBuilding(names: readonly string[]): boolean {
    let changed = false;
    for (const spec of languagesNamed(names)) {
      if (this.offers(spec.name) || this.#building.has(spec.name)) continue;
      this.#building.add(spec.name);
      changed = true;
    }
    return changed;
  }

  /** A language that now runs here (its image was built). */
  added(lang: RunnerLanguage): void {
    this.#offered = [...this.#offered.filter((known) => known.name !== lang.name), lang];
    this.#building.delete(lang.name);
  }

  /** A language whose build failed; false when it was not building. */
  failed(name: string): boolean {
    return this.#building.delete(name);
  }

  frame(): LanguagesFrame {
    return { type: 'languages', languages: [...this.#offered], building: this.building };
  }
}

/** The language table's rows for these names; an unknown name is a configuration error. */
export function languagesNamed(names: readonly string[]): LanguageSpec[] {
  const unknown = names.filter((name) => !LANGUAGES.some((lang) => lang.name === name));
  if (unknown.length > 0) {
    const known = LANGUAGES.map((lang) => lang.name).join(', ');
    throw new Error(`unknown language(s) ${unknown.join(', ')}; known: ${known}`);
  }
  return LANGUAGES.filter((lang) => names.includes(lang.name));
}
