import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { ClientToGatewayFrame, GatewayToClientFrame, MAX_LISTED_FILES } from './client-protocol.js';
import { CodeexecError, closeCodeFor, ERRORS } from './errors.js';
import { expandArgv, findLanguage, LANGUAGES } from './languages.js';
import { DEFAULT_LIMITS, MAX_LIMITS, resolveLimits } from './limits.js';
import { ExecuteRequestSchema } from './rest.js';
import { GatewayToRunnerFrame, RunnerToGatewayFrame } from './runner-protocol.js';
import { parse, parseJson } from './validate.js';

describe('ExecuteRequestSchema', () => {
  it.each([
    { input: { lang: 'python', code: 'print(1)' }, ok: true },
    {
      input: { lang: 'go', code: '', stdin: 'x', args: ['a'], task_id: 't1', limits: { wall_time_ms: 5 } },
      ok: true,
    },
    { input: { lang: 'python' }, ok: false, path: 'code' },
    { input: { code: 'x' }, ok: false, path: 'lang' },
    { input: { lang: '', code: 'x' }, ok: false, path: 'lang' },
    { input: { lang: 'python', code: 1 }, ok: false, path: 'code' },
    { input: { lang: 'python', code: 'x', args: 'a b' }, ok: false, path: 'args' },
    {
      input: { lang: 'python', code: 'x', limits: { wall_time_ms: 1.5 } },
      ok: false,
      path: 'limits.wall_time_ms',
    },
    { input: { lang: 'python', code: 'x', limits: { bogus: 1 } }, ok: false, path: 'limits.bogus' },
    { input: { lang: 'python', code: 'x', extra: 1 }, ok: false, path: 'extra' },
    { input: [], ok: false, path: 'lang' },
    { input: 'text', ok: false, path: '(root)' },
  ])('$input → ok=$ok', ({ input, ok, path }) => {
    const result = v.safeParse(ExecuteRequestSchema, input);
    expect(result.success).toBe(ok);
    if (!ok) {
      try {
        parse(ExecuteRequestSchema, input);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(CodeexecError);
        expect((err as CodeexecError).code).toBe('invalid_request');
        expect((err as CodeexecError).message).toContain(`${path}:`);
      }
    }
  });
});

describe('runner protocol frames', () => {
  it.each([
    {
      frame: {
        type: 'hello',
        protocol: 1,
        token: 't',
        name: 'r1',
        version: '1',
        languages: [{ name: 'python', version: '3.11', aliases: ['py'] }],
        slots: 2,
      },
      ok: true,
    },
    {
      frame: { type: 'hello', protocol: 1, token: 't', name: '', version: '1', languages: [], slots: 2 },
      ok: false,
    },
    { frame: { type: 'accept', job_id: 'j' }, ok: true },
    { frame: { type: 'reject', job_id: 'j' }, ok: false },
    { frame: { type: 'output', job_id: 'j', stream: 'stdout', seq: 0, data: 'x' }, ok: true },
    { frame: { type: 'output', job_id: 'j', stream: 'stdin', seq: 0, data: 'x' }, ok: false },
    { frame: { type: 'output', job_id: 'j', stream: 'stdout', seq: -1, data: 'x' }, ok: false },
    { frame: { type: 'done', job_id: 'j', error: { code: 'sandbox_failed', message: 'm' } }, ok: true },
    { frame: { type: 'heartbeat' }, ok: true },
    {
      frame: {
        type: 'session_files_result',
        session_id: 's',
        request_id: 'q',
        files: [{ path: 'notes.txt', size: 17 }],
        truncated: false,
      },
      ok: true,
    },
    {
      frame: {
        type: 'session_files_result',
        session_id: 's',
        request_id: 'q',
        error: { code: 'sandbox_failed', message: 'm' },
      },
      ok: true,
    },
    {
      frame: {
        type: 'session_files_result',
        session_id: 's',
        request_id: 'q',
        files: [{ path: '', size: 1 }],
      },
      ok: false,
    },
    {
      frame: {
        type: 'session_files_result',
        session_id: 's',
        request_id: 'q',
        files: [{ path: 'a', size: -1 }],
      },
      ok: false,
    },
    {
      frame: {
        type: 'session_files_result',
        session_id: 's',
        request_id: 'q',
        files: Array.from({ length: MAX_LISTED_FILES + 1 }, (_, i) => ({ path: `f${i}`, size: 0 })),
      },
      ok: false,
    },
    { frame: { type: 'welcome', runner_id: 'r' }, ok: false },
    { frame: { type: 'nonsense' }, ok: false },
  ])('runner → gateway $frame.type ok=$ok', ({ frame, ok }) => {
    expect(v.safeParse(RunnerToGatewayFrame, frame).success).toBe(ok);
  });

  it.each([
    { frame: { type: 'welcome', runner_id: 'r', heartbeat_ms: 5000, lease_ms: 15000 }, ok: true },
    {
      frame: {
        type: 'offer',
        job: { id: 'j', lang: 'python', code: '', stdin: null, args: [], limits: null },
      },
      ok: true,
    },
    { frame: { type: 'offer', job: { id: 'j' } }, ok: false },
    { frame: { type: 'cancel', job_id: 'j' }, ok: true },
    { frame: { type: 'session_files', session_id: 's', request_id: 'q' }, ok: true },
    { frame: { type: 'session_files', session_id: 's' }, ok: false },
    { frame: { type: 'accept', job_id: 'j' }, ok: false },
    { frame: { type: 'goaway', reconnect_after_ms: 0 }, ok: true },
    { frame: { type: 'goaway', reconnect_after_ms: 1500 }, ok: true },
    { frame: { type: 'goaway', reconnect_after_ms: -1 }, ok: false },
    { frame: { type: 'goaway', reconnect_after_ms: 2.5 }, ok: false },
    { frame: { type: 'goaway' }, ok: false },
  ])('gateway → runner $frame.type ok=$ok', ({ frame, ok }) => {
    expect(v.safeParse(GatewayToRunnerFrame, frame).success).toBe(ok);
  });
});

describe('client protocol frames', () => {
  it.each([
    { frame: { type: 'session_files', id: 'ls-1', session: 's' }, ok: true },
    { frame: { type: 'session_files', id: 'ls-1' }, ok: false },
    { frame: { type: 'session_files', id: '', session: 's' }, ok: false },
    { frame: { type: 'session_files', id: 'ls-1', session: 's', path: 'sub' }, ok: false },
  ])('client → gateway $frame ok=$ok', ({ frame, ok }) => {
    expect(v.safeParse(ClientToGatewayFrame, frame).success).toBe(ok);
  });

  it.each([
    {
      frame: {
        type: 'session_files',
        id: 'ls-1',
        session_id: 'uuid',
        files: [{ path: 'a\nb', size: 0 }],
        truncated: true,
      },
      ok: true,
    },
    { frame: { type: 'session_files', id: 'ls-1', session_id: 'uuid', files: [] }, ok: false },
    {
      frame: {
        type: 'session_files',
        id: 'ls-1',
        session_id: 'uuid',
        files: [{ path: 'a', size: 1.5 }],
        truncated: false,
      },
      ok: false,
    },
  ])('gateway → client $frame.type ok=$ok', ({ frame, ok }) => {
    expect(v.safeParse(GatewayToClientFrame, frame).success).toBe(ok);
  });
});

describe('limits', () => {
  it('fills defaults', () => {
    expect(resolveLimits(undefined)).toEqual({ limits: DEFAULT_LIMITS, tooHigh: [] });
  });

  it('names every limit above the maximum and clamps it', () => {
    const { limits, tooHigh } = resolveLimits({
      wall_time_ms: MAX_LIMITS.wall_time_ms + 1,
      pids: 10_000,
      cpu_time_ms: 5,
    });
    expect(tooHigh).toEqual(['wall_time_ms', 'pids']);
    expect(limits.wall_time_ms).toBe(MAX_LIMITS.wall_time_ms);
    expect(limits.pids).toBe(MAX_LIMITS.pids);
    expect(limits.cpu_time_ms).toBe(5);
  });

  it('a runner with lower caps clamps even the defaults', () => {
    const caps = { ...MAX_LIMITS, memory_bytes: 64 * 1024 * 1024 };
    expect(resolveLimits(undefined, caps).limits.memory_bytes).toBe(64 * 1024 * 1024);
  });
});

describe('languages', () => {
  it.each([
    ['python', 'python'],
    ['py', 'python'],
    ['JS', 'javascript'],
    ['node', 'javascript'],
    ['golang', 'go'],
    ['cobol', undefined],
  ])('%s → %s', (name, expected) => {
    expect(findLanguage(name)?.name).toBe(expected);
  });

  it('names and aliases are unique across the table', () => {
    const keys = LANGUAGES.flatMap((lang) => [lang.name, ...lang.aliases]);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('expands {main} only as a whole argument', () => {
    expect(expandArgv(['go', 'build', '{main}', 'x{main}'], 'main.go')).toEqual([
      'go',
      'build',
      'main.go',
      'x{main}',
    ]);
  });
});

describe('errors', () => {
  it('derive HTTP statuses and close codes from the table', () => {
    const err = new CodeexecError('unauthorized');
    expect(err.status).toBe(401);
    expect(closeCodeFor('unauthorized')).toBe(4401);
    expect(err.toJSON()).toEqual({ error: { code: 'unauthorized', message: ERRORS.unauthorized.message } });
  });

  it('parseJson names the parser error', () => {
    expect(() => parseJson('{')).toThrow(/not valid JSON/);
  });
});
