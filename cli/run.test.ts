import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import type { ExecuteResponse } from '../shared/rest.js';
import { tempDir } from '../test/helpers.js';
import {
  exitCodeOf,
  exitCodeOfError,
  gatewayUrl,
  languageOf,
  parseRunArgs,
  type RunArgs,
  runJob,
  signalNumber,
  socketUrl,
  UsageError,
} from './run.js';

function result(fields: Partial<ExecuteResponse>): ExecuteResponse {
  return {
    output: '',
    exit_code: 0,
    status: 'done',
    id: 'job',
    stdout: '',
    stderr: '',
    signal: null,
    reason: 'exited',
    compile: null,
    error: null,
    output_files: [],
    timings: { queue_ms: 1, compile_ms: null, run_ms: 1, total_ms: 2 },
    ...fields,
  };
}

describe('languageOf', () => {
  it.each([
    ['prog.py', 'python'],
    ['dir/a.b/prog.js', 'javascript'],
    ['x.ts', 'typescript'],
    ['main.go', 'go'],
    ['a.c', 'c'],
    ['a.cpp', 'cpp'],
    ['a.cc', 'cpp'],
    ['lib.rs', 'rust'],
    ['Main.java', 'java'],
    ['s.rb', 'ruby'],
    ['run.sh', 'bash'],
    ['UPPER.PY', 'python'],
  ])('%s is %s', (file, lang) => {
    expect(languageOf(file)).toBe(lang);
  });

  it('asks for --lang when it cannot tell', () => {
    expect(() => languageOf('prog.xyz')).toThrow(/unknown extension \.xyz.*--lang/);
    expect(() => languageOf('Makefile')).toThrow(/no extension.*--lang/);
    expect(() => languageOf('prog.xyz')).toThrow(UsageError);
  });
});

describe('parseRunArgs', () => {
  const env = {};

  it('has defaults: the language from the extension, stdin live, the local gateway', () => {
    expect(parseRunArgs(['prog.py'], env)).toEqual({
      kind: 'run',
      file: 'prog.py',
      lang: 'python',
      stdin: { from: 'live' },
      args: [],
      timeoutMs: null,
      gateway: 'http://127.0.0.1:8080',
      key: null,
      json: false,
      pingMs: 25_000,
    });
  });

  it('pings at CODEEXEC_PING_MS, and refuses one that is not whole milliseconds ≥ 100', () => {
    expect(parseRunArgs(['a.py'], { CODEEXEC_PING_MS: '1000' })).toMatchObject({ pingMs: 1000 });
    expect(() => parseRunArgs(['a.py'], { CODEEXEC_PING_MS: '50' })).toThrow(/CODEEXEC_PING_MS .* ≥ 100/);
    expect(() => parseRunArgs(['a.py'], { CODEEXEC_PING_MS: '1e4' })).toThrow(UsageError);
  });

  it('takes the gateway and key from the environment, options first', () => {
    const fromEnv = { CODEEXEC_GATEWAY_URL: 'https://gw.example/', CODEEXEC_API_KEY: 'k1' };
    expect(parseRunArgs(['a.py'], fromEnv)).toMatchObject({ gateway: 'https://gw.example', key: 'k1' });
    expect(parseRunArgs(['a.py', '--gateway', 'http://h:1', '--key', 'k2'], fromEnv)).toMatchObject({
      gateway: 'http://h:1',
      key: 'k2',
    });
  });

  it('reads every option', () => {
    const args = parseRunArgs(
      [
        'x',
        '--lang',
        'ruby',
        '--stdin',
        'in.txt',
        '--arg',
        'a',
        '--arg',
        'b c',
        '--timeout-ms',
        '500',
        '--json',
      ],
      env,
    );
    expect(args).toMatchObject({
      file: 'x',
      lang: 'ruby',
      stdin: { from: 'file', path: 'in.txt' },
      args: ['a', 'b c'],
      timeoutMs: 500,
      json: true,
    });
    expect(parseRunArgs(['a.py', '--stdin', '-'], env)).toMatchObject({ stdin: { from: 'stdin' } });
    expect(parseRunArgs(['-', '--lang', 'python'], env)).toMatchObject({ file: '-', stdin: null });
    expect(parseRunArgs(['--help'], env)).toEqual({ kind: 'help' });
  });

  it.each([
    [[], /give the program/],
    [['a.py', 'b.py'], /one FILE only/],
    [['-'], /--lang/],
    [['-', '--lang', 'python', '--stdin', '-'], /cannot both/],
    [['a.py', '--bogus'], /bogus/],
    [['a.py', '--timeout-ms', '1.5'], /--timeout-ms/],
    [['a.py', '--timeout-ms', '0'], /--timeout-ms/],
    [['a.py', '--gateway', 'ftp://x'], /--gateway/],
    [['a.py', '--gateway', 'nope'], /--gateway/],
    [['a.py', '--lang', ' '], /--lang is empty/],
    [['a.unknown'], /--lang/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseRunArgs(argv, env)).toThrow(UsageError);
    expect(() => parseRunArgs(argv, env)).toThrow(message);
  });
});

describe('urls', () => {
  it('maps the gateway to its socket', () => {
    expect(socketUrl('http://127.0.0.1:8080')).toBe('ws://127.0.0.1:8080/execute/ws');
    expect(socketUrl('https://gw.example/api')).toBe('wss://gw.example/api/execute/ws');
    expect(gatewayUrl(undefined, { CODEEXEC_GATEWAY_URL: ' ' })).toBe('http://127.0.0.1:8080');
  });
});

describe('exit codes', () => {
  it.each<[string, Partial<ExecuteResponse>, number]>([
    ['a clean exit', {}, 0],
    ['an exit code', { exit_code: 3 }, 3],
    ['a large exit code, as the shell sees it', { exit_code: 300 }, 44],
    ['the wall time', { reason: 'wall_time', exit_code: null, signal: 'SIGKILL' }, 124],
    ['the CPU time', { reason: 'cpu_time', exit_code: null }, 124],
    ['memory', { reason: 'memory', exit_code: null, signal: 'SIGKILL' }, 137],
    ['a signal', { reason: 'signal', exit_code: null, signal: 'SIGSEGV' }, 139],
    ['SIGTERM', { reason: 'signal', exit_code: null, signal: 'SIGTERM' }, 143],
    ['an unknown signal', { reason: 'signal', exit_code: null, signal: 'SIGWHAT' }, 1],
    ['a compile failure', { reason: 'compile_failed', exit_code: null }, 1],
    ['the output limit', { reason: 'output_limit', exit_code: null }, 1],
    ['a cancelled job', { status: 'cancelled', reason: 'cancelled', exit_code: null }, 130],
    [
      'a failed job',
      { status: 'failed', reason: null, exit_code: null, error: { code: 'runner_lost', message: 'gone' } },
      3,
    ],
  ])('%s', (_what, fields, code) => {
    expect(exitCodeOf(result(fields)).code).toBe(code);
  });

  it('says why a job did not exit by itself', () => {
    expect(exitCodeOf(result({})).message).toBeNull();
    expect(exitCodeOf(result({ reason: 'wall_time', exit_code: null })).message).toMatch(/^wall_time: /);
    expect(
      exitCodeOf(result({ status: 'failed', reason: null, error: { code: 'no_runner', message: 'none' } }))
        .message,
    ).toBe('no_runner: none');
  });

  it('maps gateway errors: 2 for a refused request, 3 for the rest', () => {
    expect(exitCodeOfError('unknown_language')).toBe(2);
    expect(exitCodeOfError('invalid_frame')).toBe(2);
    expect(exitCodeOfError('limit_exceeded')).toBe(2);
    expect(exitCodeOfError('unauthorized')).toBe(3);
    expect(exitCodeOfError('no_runner')).toBe(3);
    expect(exitCodeOfError('something_new')).toBe(3);
  });

  it('names signals by number', () => {
    expect(signalNumber('SIGKILL')).toBe(9);
    expect(signalNumber('kill')).toBe(9);
    expect(signalNumber('15')).toBe(15);
    expect(signalNumber(null)).toBeNull();
    expect(signalNumber('SIGNOPE')).toBeNull();
  });
});

/** runJob's arguments: `file` in python, run on the scripted gateway `server`. */
function runArgs(file: string, server: WebSocketServer, over: Pick<RunArgs, 'json' | 'pingMs'>): RunArgs {
  return {
    kind: 'run',
    file,
    lang: 'python',
    stdin: null,
    args: [],
    timeoutMs: null,
    gateway: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    key: null,
    ...over,
  };
}

describe('runJob keepalive', () => {
  it('exits 3, saying so, when the gateway stops answering pings', async () => {
    // A "gateway" that takes the socket and the execute frame and then answers nothing, pongs
    // included: what a dead link (or a wedged proxy) looks like from the client.
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong: false });
    await once(server, 'listening');
    const dir = await tempDir();
    const file = join(dir, 'quiet.py');
    await writeFile(file, 'import time; time.sleep(60)\n');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await runJob(runArgs(file, server, { json: true, pingMs: 200 }));
      expect(code).toBe(3);
      expect(stderr.mock.calls.map(([text]) => String(text)).join('')).toMatch(
        /codeexec run: the gateway at http:\/\/127\.0\.0\.1:\d+ stopped answering \(no pong within 200 ms\)/,
      );
    } finally {
      stderr.mockRestore();
      for (const ws of server.clients) ws.terminate();
      server.close();
    }
  });
});

describe('runJob resume', () => {
  it('resumes after a cut connection and after goaway, printing every chunk once', async () => {
    // A scripted gateway: the first socket accepts the job, sends two chunks and is cut (no close
    // frame); the second must resume after seq 1, gets one chunk and a goaway; the third resumes
    // after seq 2 and gets a repeat (skipped), the last chunk and the exit.
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(server, 'listening');
    const received: Record<string, unknown>[] = [];
    let connections = 0;
    server.on('connection', (ws) => {
      const n = ++connections;
      const out = (frame: object) => ws.send(JSON.stringify(frame));
      ws.on('message', (raw) => {
        const frame = JSON.parse(raw.toString()) as Record<string, unknown>;
        received.push(frame);
        if (n === 1) {
          out({ type: 'accepted', id: 'run', job_id: 'j1' });
          out({ type: 'stdout', id: 'run', seq: 0, data: 'a' });
          out({ type: 'stderr', id: 'run', seq: 1, data: 'b' });
          setImmediate(() => ws.terminate());
        } else if (n === 2) {
          out({ type: 'resumed', id: 'run', job_id: 'j1', status: 'running', attempt: 1 });
          out({ type: 'stdout', id: 'run', seq: 2, data: 'c' });
          out({ type: 'goaway', id: null, reconnect_after_ms: 50, message: 'bye' });
          ws.close(1001, 'gateway going away');
        } else {
          out({ type: 'resumed', id: 'run', job_id: 'j1', status: 'running', attempt: 1 });
          out({ type: 'stdout', id: 'run', seq: 2, data: 'c' });
          out({ type: 'stdout', id: 'run', seq: 3, data: 'd' });
          out({
            type: 'exit',
            id: 'run',
            result: result({ id: 'j1', stdout: 'acd', stderr: 'b' }),
            dropped_chunks: 0,
          });
        }
      });
    });
    const dir = await tempDir();
    const file = join(dir, 'p.py');
    await writeFile(file, 'print(1)\n');
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await runJob(runArgs(file, server, { json: false, pingMs: 10_000 }));
      const printed = (spy: typeof stdout) => spy.mock.calls.map(([text]) => String(text)).join('');
      expect(code).toBe(0);
      expect(printed(stdout)).toBe('acd');
      expect(printed(stderr)).toContain('b');
      expect(printed(stderr)).toMatch(/resuming job j1 in \d+ ms/);
      expect(printed(stderr)).toContain('resuming job j1 in 50 ms');
      expect(received.map((f) => `${f.type}:${f.after_seq ?? ''}`)).toEqual([
        'execute:',
        'resume:1',
        'resume:2',
      ]);
      expect(received[1]).toMatchObject({ id: 'run', job_id: 'j1' });
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
      for (const ws of server.clients) ws.terminate();
      server.close();
    }
  });
});
