// Syntax highlighting for each language the gateway runs: CodeMirror 6's language packages, and
// its legacy modes where no Lezer grammar exists (ruby, shell).
import { cpp } from '@codemirror/lang-cpp';
import { go } from '@codemirror/lang-go';
import { java } from '@codemirror/lang-java';
import { javascript } from '@codemirror/lang-javascript';
import { python } from '@codemirror/lang-python';
import { rust } from '@codemirror/lang-rust';
import { StreamLanguage } from '@codemirror/language';
import { ruby } from '@codemirror/legacy-modes/mode/ruby';
import { shell } from '@codemirror/legacy-modes/mode/shell';
import type { Extension } from '@codemirror/state';

const SUPPORT: Readonly<Record<string, () => Extension>> = {
  python: () => python(),
  javascript: () => javascript(),
  typescript: () => javascript({ typescript: true }),
  c: () => cpp(),
  cpp: () => cpp(),
  java: () => java(),
  rust: () => rust(),
  go: () => go(),
  ruby: () => StreamLanguage.define(ruby),
  bash: () => StreamLanguage.define(shell),
};

/** The editor support for `lang`; none (plain text) for a language it does not know. */
export function languageSupport(lang: string | null): Extension {
  return (lang === null ? undefined : SUPPORT[lang]?.()) ?? [];
}
