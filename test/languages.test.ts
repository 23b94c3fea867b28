// Every language of the table, end to end through the real sandbox pool and real images: its
// version, hello world, stdin, argv, a syntax or compile error, a runtime error. One row per
// language; adding a language to shared/languages.ts without a row here fails the first test.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobSpec } from '../runner/execution/execute-job.js';
import { RUNNER_LABEL, SandboxPool } from '../runner/pool/sandbox-pool.js';
import type { RunResult } from '../shared/job.js';
import { LANGUAGES } from '../shared/languages.js';
import type { RunnerLanguage } from '../shared/runner-protocol.js';
import { uniqueName } from './helpers.js';

interface LanguageCase {
  /** Prints hello world, then `stdin:` and all of stdin, then `args:` and the args joined by |. */
  main: string;
  syntaxError: string;
  /** Matched against the compiler's output (compiled languages) or the program's stderr. */
  syntaxMessage: RegExp;
  runtimeError: string;
  runtime: { exit_code: number; stderr: RegExp; signal?: string };
}

const CASES: Record<string, LanguageCase> = {
  python: {
    main: 'import sys\ndata = sys.stdin.read()\nprint("hello, world")\nprint("stdin:" + data)\nprint("args:" + "|".join(sys.argv[1:]))\n',
    syntaxError: 'print("unclosed\n',
    syntaxMessage: /SyntaxError/,
    runtimeError: 'raise ValueError("boom")\n',
    runtime: { exit_code: 1, stderr: /ValueError: boom/ },
  },
  javascript: {
    main: "const data = require('fs').readFileSync(0, 'utf8');\nconsole.log('hello, world');\nconsole.log('stdin:' + data);\nconsole.log('args:' + process.argv.slice(2).join('|'));\n",
    syntaxError: 'console.log(;\n',
    syntaxMessage: /SyntaxError/,
    runtimeError: "throw new Error('boom');\n",
    runtime: { exit_code: 1, stderr: /Error: boom/ },
  },
  typescript: {
    main: "import * as fs from 'fs';\nconst data: string = fs.readFileSync(0, 'utf8');\nconsole.log('hello, world');\nconsole.log('stdin:' + data);\nconsole.log('args:' + process.argv.slice(2).join('|'));\n",
    syntaxError: "const n: number = 'not a number';\n",
    syntaxMessage: /error TS2322/,
    runtimeError: "throw new Error('boom');\n",
    runtime: { exit_code: 1, stderr: /Error: boom/ },
  },
  go: {
    main: 'package main\n\nimport (\n\t"fmt"\n\t"io"\n\t"os"\n\t"strings"\n)\n\nfunc main() {\n\tdata, _ := io.ReadAll(os.Stdin)\n\tfmt.Println("hello, world")\n\tfmt.Println("stdin:" + string(data))\n\tfmt.Println("args:" + strings.Join(os.Args[1:], "|"))\n}\n',
    syntaxError: 'package main\n\nfunc main() { undefinedThing() }\n',
    syntaxMessage: /undefined: undefinedThing/,
    runtimeError: 'package main\n\nfunc main() { panic("boom") }\n',
    runtime: { exit_code: 2, stderr: /panic: boom/ },
  },
  c: {
    main: '#include <stdio.h>\nint main(int argc, char **argv) {\n  char buf[4096];\n  size_t n = fread(buf, 1, sizeof buf - 1, stdin);\n  buf[n] = 0;\n  printf("hello, world\\nstdin:%s\\nargs:", buf);\n  for (int i = 1; i < argc; i++) printf("%s%s", i > 1 ? "|" : "", argv[i]);\n  printf("\\n");\n  return 0;\n}\n',
    syntaxError: 'int main(void) { return undefined_thing; }\n',
    syntaxMessage: /.undefined_thing. undeclared/,
    runtimeError: '#include <stdio.h>\nint main(void) { fprintf(stderr, "boom\\n"); return 3; }\n',
    runtime: { exit_code: 3, stderr: /^boom\n$/ },
  },
  cpp: {
    main: '#include <iostream>\n#include <iterator>\n#include <string>\nint main(int argc, char **argv) {\n  std::string data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());\n  std::cout << "hello, world\\nstdin:" << data << "\\nargs:";\n  for (int i = 1; i < argc; i++) std::cout << (i > 1 ? "|" : "") << argv[i];\n  std::cout << std::endl;\n}\n',
    syntaxError: 'int main() { return undefined_thing; }\n',
    syntaxMessage: /.undefined_thing. was not declared/,
    runtimeError: '#include <stdexcept>\nint main() { throw std::runtime_error("boom"); }\n',
    // An uncaught exception calls std::terminate, which aborts.
    runtime: { exit_code: 134, stderr: /what\(\): {2}boom/, signal: 'SIGABRT' },
  },
  rust: {
    main: 'use std::io::Read;\nfn main() {\n    let mut data = String::new();\n    std::io::stdin().read_to_string(&mut data).unwrap();\n    println!("hello, world");\n    println!("stdin:{}", data);\n    let args: Vec<String> = std::env::args().collect();\n    println!("args:{}", args[1..].join("|"));\n}\n',
    syntaxError: 'fn main() { let n: i32 = "not a number"; }\n',
    syntaxMessage: /mismatched types/,
    runtimeError: 'fn main() { panic!("boom"); }\n',
    runtime: { exit_code: 101, stderr: /panicked at .*boom/s },
  },
  java: {
    main: 'import java.io.IOException;\npublic class Main {\n  public static void main(String[] args) throws IOException {\n    String data = new String(System.in.readAllBytes(), "UTF-8");\n    System.out.println("hello, world");\n    System.out.println("stdin:" + data);\n    System.out.println("args:" + String.join("|", args));\n  }\n}\n',
    syntaxError: 'public class Main { public static void main(String[] a) { int n = "not a number"; } }\n',
    syntaxMessage: /incompatible types/,
    runtimeError:
      'public class Main { public static void main(String[] a) { throw new RuntimeException("boom"); } }\n',
    runtime: { exit_code: 1, stderr: /RuntimeException: boom/ },
  },
  ruby: {
    main: 'data = STDIN.read\nputs "hello, world"\nputs "stdin:" + data\nputs "args:" + ARGV.join("|")\n',
    syntaxError: 'def broken(\n',
    syntaxMessage: /syntax error/,
    runtimeError: 'raise "boom"\n',
    runtime: { exit_code: 1, stderr: /boom \(RuntimeError\)/ },
  },
  bash: {
    main: 'data=$(cat)\necho "hello, world"\necho "stdin:$data"\nIFS="|"\necho "args:$*"\n',
    syntaxError: 'if then fi\n',
    syntaxMessage: /syntax error/,
    runtimeError: 'echo boom >&2\nexit 3\n',
    runtime: { exit_code: 3, stderr: /^boom\n$/ },
  },
};

const STDIN = 'a line, é€ 中\nand another, with no newline';
const ARGS = ['a b', '$HOME', '*', 'ünï'];
const EXPECTED_MAIN = `hello, world\nstdin:${STDIN}\nargs:${ARGS.join('|')}\n`;
/** Jobs at once: the machine has 2 cores, and compilers are CPU-bound. */
const IN_FLIGHT = 3;

const runnerName = uniqueName('languages-test');
const pool = new SandboxPool({ runnerName, minWarm: 1, maxWarm: 2 });

/** Runs at most `limit` tasks at once, in the order they were asked for. */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const queue: (() => void)[] = [];
  return async (task) => {
    if (running >= limit) await new Promise<void>((resolve) => queue.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      running--;
      queue.shift()?.();
    }
  };
}

function containersOf(name: string): string[] {
  const out = execFileSync('docker', ['ps', '-aq', '--filter', `label=${RUNNER_LABEL}=${name}`], {
    encoding: 'utf8',
  });
  return out.split('\n').filter((id) => id !== '');
}

let detected: RunnerLanguage[] = [];
/** Every job starts in beforeAll (a few at a time); each test awaits its own. */
const results = new Map<string, Promise<RunResult>>();

beforeAll(async () => {
  detected = await pool.start();
  const slot = limiter(IN_FLIGHT);
  let n = 0;
  const submit = (key: string, job: Omit<JobSpec, 'id' | 'limits' | 'compile_limits'>) => {
    // The longest compile wall time allowed: tsc needs ~4 s of CPU, and this 2-core machine may be
    // shared with other suites.
    const spec: JobSpec = {
      id: `lang-${++n}`,
      limits: null,
      compile_limits: { wall_time_ms: 60_000 },
      ...job,
    };
    const result = slot(() => pool.execute(spec, () => {}));
    // Each test awaits (and reports) its own; this only keeps an early failure from going unhandled.
    result.catch(() => {});
    results.set(key, result);
  };
  for (const [lang, c] of Object.entries(CASES)) {
    submit(`${lang}/main`, { lang, code: c.main, stdin: STDIN, args: ARGS });
    submit(`${lang}/syntax`, { lang, code: c.syntaxError, stdin: null, args: [] });
    submit(`${lang}/runtime`, { lang, code: c.runtimeError, stdin: null, args: [] });
  }
});

afterAll(async () => {
  await pool.close();
  expect(containersOf(runnerName)).toEqual([]);
});

function result(key: string): Promise<RunResult> {
  const pending = results.get(key);
  if (pending === undefined) throw new Error(`no job ${key}`);
  return pending;
}

describe('every language, through the real pool', () => {
  it('has a test row for each language of the table, and each reports a version', () => {
    expect(Object.keys(CASES).sort()).toEqual(LANGUAGES.map((l) => l.name).sort());
    expect(detected.map((l) => l.name).sort()).toEqual(LANGUAGES.map((l) => l.name).sort());
    for (const lang of detected) expect(lang.version, lang.name).toMatch(/^\d+\.\d+/);
  });

  const compiled = new Set(LANGUAGES.filter((l) => l.compile !== undefined).map((l) => l.name));

  it.each(Object.keys(CASES))('%s: hello world, stdin and argv', async (lang) => {
    const run = await result(`${lang}/main`);
    expect(run).toMatchObject({ reason: 'exited', exit_code: 0, stderr: '', stdout: EXPECTED_MAIN });
    if (compiled.has(lang)) expect(run.compile).toMatchObject({ reason: 'exited', exit_code: 0 });
    else expect(run.compile).toBeUndefined();
  });

  it.each(Object.entries(CASES))('%s: a syntax or compile error', async (lang, c) => {
    const run = await result(`${lang}/syntax`);
    if (compiled.has(lang)) {
      expect(run.reason).toBe('compile_failed');
      expect(run.compile?.exit_code).not.toBe(0);
      expect(run.compile?.output).toMatch(c.syntaxMessage);
    } else {
      expect(run.reason).toBe('exited');
      expect(run.exit_code).not.toBe(0);
      expect(run.stderr).toMatch(c.syntaxMessage);
    }
  });

  it.each(Object.entries(CASES))('%s: a runtime error', async (lang, c) => {
    const run = await result(`${lang}/runtime`);
    expect(run.exit_code).toBe(c.runtime.exit_code);
    expect(run.stderr).toMatch(c.runtime.stderr);
    expect(run.reason).toBe(c.runtime.signal === undefined ? 'exited' : 'signal');
    expect(run.signal).toBe(c.runtime.signal ?? null);
    if (compiled.has(lang)) expect(run.compile?.exit_code).toBe(0);
  });
});
