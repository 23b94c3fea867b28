// End to end: `codeexec run`, `jobs` and `runners` (node dist/cli.js, a subprocess) against a real
// gateway and runner. Output streams as the program writes it (the test answers the program only
// after it saw the first chunk), exit codes follow the program (and 124 for the wall time), stdin
// comes from a pipe, code from stdin, and the listings show what ran. Every wait is on the child's
// output or its exit, never a fixed sleep.
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JobStatus, RunnerView } from '../shared/rest.js';
import { startGateway, startRunner, tempDir } from './helpers.js';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;

let url: string;
let runnerName: string;
let dir: string;

/** The child's environment: the tests' own CODEEXEC_* variables stay out, the gateway's goes in. */
function childEnv(): Record<string, string> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => !entry[0].startsWith('CODEEXEC_') && entry[1] !== undefined,
    ),
  );
  return { ...inherited, CODEEXEC_GATEWAY_URL: url };
}

/** `codeexec <args>` with `input` on its stdin (closed after): its exit code and output. */
function cli(args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      { env: childEnv(), timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(input);
  });
}

async function program(name: string, code: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, code);
  return path;
}

/** Resolves once `read()` (the child's output so far) includes `text`. */
function untilOutput(child: ChildProcessWithoutNullStreams, read: () => string, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!read().includes(text)) return;
      child.stdout.off('data', check);
      child.stderr.off('data', check);
      child.off('exit', exited);
      resolve();
    };
    const exited = () => reject(new Error(`exited before "${text}"; output: ${read()}`));
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.on('exit', exited);
    check();
  });
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build it with \`npx tsup\` (npm test does)`);
  dir = await tempDir();
  const help = await new Promise<string>((resolve) =>
    execFile(process.execPath, [CLI, 'run', '--help'], (_err, stdout) => resolve(stdout)),
  );
  if (!help.includes('codeexec run FILE')) {
    throw new Error(`${CLI} has no run command: rebuild it with \`npx tsup\` (npm test does)`);
  }
  const gw = await startGateway();
  url = gw.url;
  const runner = await startRunner({ gatewayUrl: gw.url, token: gw.token, languages: ['python'], slots: 2 });
  runnerName = runner.name;
}, 120_000);

describe('codeexec run', () => {
  it('streams stdout and stderr as the program writes them', async () => {
    const path = await program(
      'stream.py',
      [
        'import sys, time',
        'print("a", flush=True)',
        'time.sleep(0.05)',
        'print("b", file=sys.stderr, flush=True)',
        'time.sleep(0.05)',
        'sys.stdin.readline()',
        'print("c", flush=True)',
      ].join('\n'),
    );
    const child = spawn(process.execPath, [CLI, 'run', path], { env: childEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (data: string) => {
      stdout += data;
    });
    child.stderr.setEncoding('utf8').on('data', (data: string) => {
      stderr += data;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // "a" arrives while the program still waits for its line: it cannot have printed "c" yet.
    await untilOutput(child, () => stdout, 'a\n');
    expect(stdout).toBe('a\n');
    await untilOutput(child, () => stderr, 'b\n');
    expect(stdout).not.toContain('c');
    child.stdin.end('go\n');
    expect(await exited).toBe(0);
    expect(stdout).toBe('a\nc\n');
    expect(stderr).toBe('b\n');
  });

  it('cancels the job on SIGINT and exits 130', async () => {
    const path = await program('wait.py', 'import time\nprint("ready", flush=True)\ntime.sleep(60)\n');
    const child = spawn(process.execPath, [CLI, 'run', path], { env: childEnv() });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (data: string) => {
      stdout += data;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await untilOutput(child, () => stdout, 'ready\n');
    child.kill('SIGINT');
    expect(await exited).toBe(130);
  });

  it("exits with the program's exit code", async () => {
    const path = await program('three.py', 'import sys\nprint("bye")\nsys.exit(3)\n');
    const result = await cli(['run', path]);
    expect(result).toMatchObject({ code: 3, stdout: 'bye\n' });
  });

  it('exits 124 when the wall-time limit is reached', async () => {
    const path = await program('loop.py', 'while True:\n    pass\n');
    const result = await cli(['run', path, '--timeout-ms', '500']);
    expect(result.code).toBe(124);
    expect(result.stderr).toContain('wall_time');
  });

  it('passes a pipe on as the program stdin, and arguments', async () => {
    const path = await program(
      'echo.py',
      'import sys\nprint(sys.stdin.read().upper(), end="")\nprint(sys.argv[1:])\n',
    );
    const result = await cli(['run', path, '--arg', 'x', '--arg', 'y z'], 'hi\n');
    expect(result).toMatchObject({ code: 0, stdout: "HI\n['x', 'y z']\n" });
    const file = await program('input.txt', 'from a file\n');
    const fromFile = await cli(['run', path, '--stdin', file]);
    expect(fromFile).toMatchObject({ code: 0, stdout: 'FROM A FILE\n[]\n' });
  });

  it('reads the code from stdin with FILE -', async () => {
    const result = await cli(['run', '-', '--lang', 'python'], 'print(6 * 7)\n');
    expect(result).toMatchObject({ code: 0, stdout: '42\n' });
  });

  it('prints the result as JSON with --json, with the same exit code', async () => {
    const path = await program('json.py', 'import sys\nprint("out")\nsys.exit(5)\n');
    const result = await cli(['run', path, '--json']);
    expect(result.code).toBe(5);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'done', exit_code: 5, stdout: 'out\n' });
  });

  it('exits 2 with a clear message for an unknown extension or a refused request', async () => {
    const path = await program('prog.xyz', 'print(1)\n');
    const unknown = await cli(['run', path]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('cannot tell the language of');
    expect(unknown.stderr).toContain('--lang');
    const refused = await cli(['run', path, '--lang', 'cobol']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^codeexec run: unknown_language: /m);
  });

  it('exits 3 when no runner offers the language', async () => {
    const path = await program('prog.rb', 'puts 1\n');
    const result = await cli(['run', path]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^codeexec run: no_runner: /m);
  });
});

describe('codeexec jobs and runners', () => {
  it('jobs --json lists the jobs just run', async () => {
    const path = await program('listed.py', 'print("listed")\n');
    const run = await cli(['run', path, '--json']);
    const id = JSON.parse(run.stdout).id as string;
    const result = await cli(['jobs', '--json', '--limit', '50']);
    expect(result.code).toBe(0);
    const jobs = (JSON.parse(result.stdout) as { jobs: JobStatus[] }).jobs;
    expect(jobs.find((job) => job.id === id)).toMatchObject({
      lang: 'python',
      status: 'done',
      runner_id: runnerName,
    });
    const table = await cli(['jobs']);
    expect(table.stdout).toContain(id.slice(0, 8));
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+LANG\s+STATUS\s+ATTEMPT\s+RUNNER\s+CREATED$/);
  });

  it('runners --json lists the runner', async () => {
    const result = await cli(['runners', '--json']);
    expect(result.code).toBe(0);
    const runners = (JSON.parse(result.stdout) as { runners: RunnerView[] }).runners;
    expect(runners.map((runner) => runner.name)).toEqual([runnerName]);
    const table = await cli(['runners']);
    expect(table.stdout).toContain(runnerName);
    expect(table.stdout).toMatch(/\/2\s+\d+\s+python/);
  });
});
