// The language table: one row per language. Adding a language is one row here and one
// images/<name>/Dockerfile. `{main}` in an argv is replaced by the main file's name; argv arrays
// are passed to exec as they are, never through a shell.

export interface LanguageSpec {
  /** Canonical name, as used in requests and image names. */
  readonly name: string;
  readonly aliases: readonly string[];
  /** Docker image the runner runs it in (built from images/<name>/Dockerfile). */
  readonly image: string;
  /** Name of the main file when the request gives only `code`. */
  readonly file: string;
  /** Compile stage, for compiled languages. Runs in /workspace. */
  readonly compile?: readonly string[];
  /** Run stage. Runs in /workspace; the request's args are appended. */
  readonly run: readonly string[];
  /** Prints the version; its first line, first version-looking token, is reported. */
  readonly version: readonly string[];
}

export const LANGUAGES: readonly LanguageSpec[] = [
  {
    name: 'python',
    aliases: ['py', 'python3'],
    image: 'codeexec/python:latest',
    file: 'main.py',
    run: ['python3', '{main}'],
    version: ['python3', '--version'],
  },
  {
    name: 'javascript',
    aliases: ['js', 'node', 'nodejs'],
    image: 'codeexec/javascript:latest',
    file: 'main.js',
    run: ['node', '{main}'],
    version: ['node', '--version'],
  },
  {
    name: 'go',
    aliases: ['golang'],
    image: 'codeexec/go:latest',
    file: 'main.go',
    compile: ['go', 'build', '-o', '/tmp/main', '{main}'],
    run: ['/tmp/main'],
    version: ['go', 'version'],
  },
];

const byName = new Map<string, LanguageSpec>();
for (const lang of LANGUAGES) {
  for (const key of [lang.name, ...lang.aliases]) byName.set(key, lang);
}

/** Find a language by its name or any alias (case-insensitive). */
export function findLanguage(name: string): LanguageSpec | undefined {
  return byName.get(name.toLowerCase());
}

/** Replace `{main}` in an argv. */
export function expandArgv(argv: readonly string[], main: string): string[] {
  return argv.map((part) => (part === '{main}' ? main : part));
}
