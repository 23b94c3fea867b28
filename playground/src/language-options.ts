// The Language picker's entries, from GET /languages: "python 3.11.2", a language whose image is
// still building marked so, and which one to select.
import type { LanguagesResponse } from '../../shared/rest.js';

export interface LanguageOption {
  /** The canonical name: what execute frames carry. */
  value: string;
  label: string;
  aliases: readonly string[];
  /** No runner offers it yet: its image is still building (a run waits for it). */
  building: boolean;
}

export function languageOptions(response: LanguagesResponse): LanguageOption[] {
  return response.languages
    .filter((lang) => lang.runners > 0 || lang.building > 0)
    .map((lang) => {
      const building = lang.runners === 0;
      const version = lang.versions[0];
      const label = `${lang.name}${version ? ` ${version}` : ''}${building ? ' (image building…)' : ''}`;
      return { value: lang.name, label, aliases: lang.aliases, building };
    })
    .sort((a, b) => a.value.localeCompare(b.value));
}

/** The offered language `name` names (its name or an alias, any case), or null. */
export function matchLanguage(options: readonly LanguageOption[], name: string): string | null {
  const lower = name.toLowerCase();
  return options.find((option) => option.value === lower || option.aliases.includes(lower))?.value ?? null;
}

/**
 * The option to select: the first of `wanted` (a share link's language, the current one) that is
 * offered, by name or alias; else python; else the first. Null when nothing is offered.
 */
export function pickLanguage(
  options: readonly LanguageOption[],
  wanted: readonly (string | null | undefined)[],
): string | null {
  for (const name of [...wanted, 'python']) {
    const found = name ? matchLanguage(options, name) : null;
    if (found !== null) return found;
  }
  return options[0]?.value ?? null;
}
