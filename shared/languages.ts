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
    name: 'typescript',
    aliases: ['ts'],
    image: 'codeexec/typescript:latest',
    file: 'main.ts',
    // Type errors fail the compile stage; --skipLibCheck halves tsc's time (~3 s instead of ~7 s).
    compile: [
      'tsc',
      '--outDir',
      '/tmp/out',
      '--target',
      'es2020',
      '--module',
      'commonjs',
      '--skipLibCheck',
      '--noEmitOnError',
      '{main}',
    ],
    run: ['node', '/tmp/out/main.js'],
    version: ['tsc', '--version'],
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
  {
    name: 'c',
    aliases: ['gcc'],
    image: 'codeexec/c:latest',
    file: 'main.c',
    compile: ['gcc', '-O1', '-o', '/tmp/main', '{main}', '-lm'],
    run: ['/tmp/main'],
    version: ['gcc', '--version'],
  },
  {
    name: 'cpp',
    aliases: ['c++', 'g++'],
    image: 'codeexec/cpp:latest',
    file: 'main.cpp',
    compile: ['g++', '-O1', '-o', '/tmp/main', '{main}'],
    run: ['/tmp/main'],
    version: ['g++', '--version'],
  },
  {
    name: 'rust',
    aliases: ['rs'],
    image: 'codeexec/rust:latest',
    file: 'main.rs',
    compile: ['rustc', '-O', '-o', '/tmp/main', '{main}'],
    run: ['/tmp/main'],
    version: ['rustc', '--version'],
  },
  {
    name: 'java',
    aliases: [],
    image: 'codeexec/java:latest',
    file: 'Main.java',
    // C1 only and no perf data: compile ~0.7 s instead of ~1.4 s; flags on the command line
    // because JAVA_TOOL_OPTIONS would print "Picked up …" on every program's stderr.
    compile: ['javac', '-J-XX:TieredStopAtLevel=1', '-J-XX:-UsePerfData', '-d', '/tmp/classes', '{main}'],
    run: ['java', '-XX:TieredStopAtLevel=1', '-XX:-UsePerfData', '-cp', '/tmp/classes', 'Main'],
    version: ['javac', '-version'],
  },
  {
    name: 'ruby',
    aliases: ['rb'],
    image: 'codeexec/ruby:latest',
    file: 'main.rb',
    run: ['ruby', '{main}'],
    version: ['ruby', '--version'],
  },
  {
    name: 'bash',
    aliases: ['sh', 'shell'],
    image: 'codeexec/bash:latest',
    file: 'main.sh',
    run: ['bash', '{main}'],
    version: ['bash', '--version'],
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
