// The logger: pino's JSON lines in our shape (level as a label, ISO time, msg, the fields), level
// filtering, child bindings, errors under err, the environment's level and format, and pretty
// lines that are not JSON. Lines are captured by a destination: no stdout, no timers.
import { describe, expect, it } from 'vitest';
import { createLogger, type LogLevel, logOptionsFromEnv, silentLogger } from './log.js';

/** A logger whose lines (each one write) are kept, raw. */
function capture(level: LogLevel, pretty = false) {
  const writes: string[] = [];
  const log = createLogger({ level, pretty, destination: { write: (line) => void writes.push(line) } });
  return { log, writes, lines: () => writes.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('createLogger (JSON)', () => {
  it('writes one JSON object per line: level label, ISO time, the fields, msg', () => {
    const { log, writes, lines } = capture('info');
    log.info({ job_id: 'j1', runner_id: 'r1', client: 'addr:127.0.0.1', total_ms: 12 }, 'job finished');
    log.warn('no fields');
    expect(writes).toHaveLength(2);
    for (const write of writes) expect(write).toMatch(/^\{.*\}\n$/);
    expect(lines()).toEqual([
      {
        level: 'info',
        time: expect.stringMatching(ISO),
        job_id: 'j1',
        runner_id: 'r1',
        client: 'addr:127.0.0.1',
        total_ms: 12,
        msg: 'job finished',
      },
      { level: 'warn', time: expect.stringMatching(ISO), msg: 'no fields' },
    ]);
  });

  it('serializes an Error under err with its type, message and stack', () => {
    const { log, lines } = capture('info');
    log.error({ err: new TypeError('boom') }, 'request failed');
    const [line] = lines();
    expect(line).toMatchObject({
      level: 'error',
      msg: 'request failed',
      err: { type: 'TypeError', message: 'boom' },
    });
    const err = line?.err as { stack?: string } | undefined;
    expect(err?.stack).toContain('TypeError: boom');
  });

  it.each<{ level: LogLevel; kept: LogLevel[] }>([
    { level: 'debug', kept: ['debug', 'info', 'warn', 'error'] },
    { level: 'info', kept: ['info', 'warn', 'error'] },
    { level: 'warn', kept: ['warn', 'error'] },
    { level: 'error', kept: ['error'] },
  ])('at $level keeps $kept', ({ level, kept }) => {
    const { log, lines } = capture(level);
    for (const each of ['debug', 'info', 'warn', 'error'] as const) log[each](`a ${each} line`);
    expect(lines().map((line) => line.level)).toEqual(kept);
  });

  it("puts a child's bindings on each of its lines, and not on its parent's", () => {
    const { log, lines } = capture('debug');
    const job = log.child({ job_id: 'j1', client: 'key:ab12' });
    job.child({ runner_id: 'r1' }).info({ reason: 'exited' }, 'job finished');
    job.debug('job queued');
    log.info('gateway listening');
    expect(lines()).toEqual([
      expect.objectContaining({ job_id: 'j1', client: 'key:ab12', runner_id: 'r1', reason: 'exited' }),
      expect.objectContaining({ job_id: 'j1', client: 'key:ab12', msg: 'job queued' }),
      expect.not.objectContaining({ job_id: 'j1' }),
    ]);
  });
});

describe('createLogger (pretty)', () => {
  it('writes lines for a person: the level, the message and the fields, not JSON', () => {
    const { log, writes } = capture('info', true);
    log.info({ job_id: 'j1' }, 'job finished');
    log.debug('below the level');
    const text = writes.join('');
    expect(text).toMatch(/INFO.*job finished/);
    expect(text).toContain('job_id: "j1"');
    expect(text).not.toContain('below the level');
    expect(() => JSON.parse(writes[0] ?? '')).toThrow();
  });
});

describe('logOptionsFromEnv', () => {
  it.each<{ env: Record<string, string>; terminal: boolean; expected: { level: LogLevel; pretty: boolean } }>(
    [
      { env: {}, terminal: false, expected: { level: 'info', pretty: false } },
      { env: {}, terminal: true, expected: { level: 'info', pretty: true } },
      { env: { CODEEXEC_LOG_FORMAT: 'json' }, terminal: true, expected: { level: 'info', pretty: false } },
      { env: { CODEEXEC_LOG_FORMAT: 'pretty' }, terminal: false, expected: { level: 'info', pretty: true } },
      { env: { CODEEXEC_LOG_FORMAT: ' ' }, terminal: false, expected: { level: 'info', pretty: false } },
      { env: { CODEEXEC_LOG_LEVEL: 'debug' }, terminal: false, expected: { level: 'debug', pretty: false } },
      { env: { CODEEXEC_LOG_LEVEL: ' warn ' }, terminal: false, expected: { level: 'warn', pretty: false } },
      { env: { CODEEXEC_LOG_LEVEL: '' }, terminal: false, expected: { level: 'info', pretty: false } },
    ],
  )('$env (terminal: $terminal)', ({ env, terminal, expected }) => {
    expect(logOptionsFromEnv(env, terminal)).toEqual(expected);
  });

  it.each([
    [
      { CODEEXEC_LOG_LEVEL: 'verbose' },
      /CODEEXEC_LOG_LEVEL must be debug, info, warn or error, not "verbose"/,
    ],
    [{ CODEEXEC_LOG_FORMAT: 'text' }, /CODEEXEC_LOG_FORMAT must be json or pretty, not "text"/],
  ])('refuses %o, naming the variable', (env, message) => {
    expect(() => logOptionsFromEnv(env, false)).toThrow(message);
  });
});

describe('silentLogger', () => {
  it('takes every call, its children too', () => {
    const child = silentLogger.child({ job_id: 'j1' });
    expect(() => {
      child.info({ a: 1 }, 'x');
      child.error('y');
      silentLogger.debug('z');
    }).not.toThrow();
  });
});
