import { describe, expect, it } from 'vitest';
import type { ExecuteResponse } from '../../shared/rest.js';
import { result } from './run-fixtures.js';
import { newRun, type RunState, runReducer } from './run-state.js';
import { describeError, endReasonText, formatMs, summarize, timingsText } from './run-summary.js';

function ended(overrides: Partial<ExecuteResponse>): RunState {
  const run = runReducer(newRun('r', 'python', false), { type: 'sent' });
  return runReducer(run, {
    type: 'frame',
    frame: { type: 'exit', id: 'r', result: result(overrides), dropped_chunks: 0 },
  });
}

const compileStage = {
  stdout: '',
  stderr: "main.c:1:25: error: 'x' undeclared\n",
  output: "main.c:1:25: error: 'x' undeclared\n",
  exit_code: 1,
  signal: null,
  reason: 'exited' as const,
  wall_ms: 80,
  truncated: false,
};

describe('the status line', () => {
  it.each([
    ['exit 0', {}, 'ok', 'Exit code 0', ['exited', 'queue 12 ms', 'run 64 ms', 'total 80 ms']],
    [
      'exit 3',
      { exit_code: 3 },
      'failed',
      'Exit code 3',
      ['exited', 'queue 12 ms', 'run 64 ms', 'total 80 ms'],
    ],
    [
      'SIGKILL',
      { exit_code: 137, reason: 'signal', signal: 'SIGKILL' },
      'failed',
      'Exit code 137',
      ['killed by SIGKILL', 'queue 12 ms', 'run 64 ms', 'total 80 ms'],
    ],
    [
      'cancelled',
      { exit_code: null, reason: 'cancelled', status: 'cancelled' },
      'failed',
      'Cancelled',
      ['No exit code', 'queue 12 ms', 'run 64 ms', 'total 80 ms'],
    ],
    [
      'wall time',
      {
        exit_code: null,
        reason: 'wall_time',
        timings: { queue_ms: 3, compile_ms: null, run_ms: 10_012, total_ms: 10_020 },
      },
      'failed',
      'No exit code',
      ['time limit (wall clock)', 'queue 3 ms', 'run 10.0 s', 'total 10.0 s'],
    ],
    [
      'compile error',
      {
        exit_code: 1,
        reason: 'compile_failed',
        compile: compileStage,
        timings: { queue_ms: 1, compile_ms: 1234, run_ms: 0, total_ms: 1240 },
      },
      'failed',
      'Compile error',
      ['Compiler exit code 1', 'queue 1 ms', 'compile 1.23 s', 'total 1.24 s'],
    ],
    [
      'a failed job',
      {
        status: 'failed',
        exit_code: null,
        reason: null,
        error: { code: 'runner_lost', message: 'The runner went away' },
      },
      'failed',
      'Failed',
      [
        'The runner went away while running it: The runner went away.',
        'queue 12 ms',
        'run 64 ms',
        'total 80 ms',
      ],
    ],
  ] as const)('%s', (_name, overrides, tone, headline, details) => {
    expect(summarize(ended(overrides as Partial<ExecuteResponse>))).toEqual({ tone, headline, details });
  });

  it('says what a run waits for', () => {
    let run = newRun('r', 'python', true);
    expect(summarize(null).headline).toBe('Ready');
    expect(summarize(run).headline).toBe('Connecting…');
    run = runReducer(run, { type: 'sent' });
    run = runReducer(run, { type: 'frame', frame: { type: 'accepted', id: 'r', job_id: 'j' } });
    expect(summarize(run).headline).toBe('Queued: waiting for a runner…');
    run = runReducer(run, { type: 'frame', frame: { type: 'started', id: 'r', runner: 'rn', attempt: 1 } });
    expect(summarize(run)).toEqual({
      tone: 'busy',
      headline: 'Running: type input below',
      details: ['on rn'],
    });
    expect(summarize(runReducer(run, { type: 'stop' })).headline).toBe('Stopping…');
  });

  it('says quietly that it reconnects when the socket was lost under a running job', () => {
    let run = newRun('r', 'python', false);
    run = runReducer(run, { type: 'sent' });
    run = runReducer(run, { type: 'frame', frame: { type: 'accepted', id: 'r', job_id: 'j' } });
    const failure = { code: 'connection_lost', message: 'the socket closed with code 1006' };
    run = runReducer(run, { type: 'lost', failure, now: 0 });
    expect(summarize(run)).toEqual({
      tone: 'busy',
      headline: 'Reconnecting…',
      details: ['the connection dropped; the program runs on'],
    });
    expect(summarize(runReducer(run, { type: 'stop' })).details).toEqual([
      'the connection dropped; then the program is stopped',
    ]);
  });

  it('a run refused or lost says why in plain words', () => {
    const refused = runReducer(newRun('r', 'python', false), {
      type: 'lost',
      failure: { code: 'queue_full', message: 'The queue is full' },
      now: 0,
    });
    expect(summarize(refused)).toEqual({
      tone: 'failed',
      headline: 'Not run',
      details: ['The gateway’s queue is full: try again in a moment.'],
    });
  });

  it.each([
    ['no_runner', /No runner can run this language now/],
    ['unknown_language', /^Unknown language: /],
    ['unauthorized', /API key/],
    ['connection_lost', /Reconnect/],
    ['sandbox_failed', /^sandbox_failed: /],
  ])('describes %s', (code, text) => {
    expect(describeError({ code, message: 'the message' })).toMatch(text);
  });

  it('formats times and reasons', () => {
    expect(formatMs(0)).toBe('0 ms');
    expect(formatMs(999.6)).toBe('1000 ms');
    expect(formatMs(1500)).toBe('1.50 s');
    expect(formatMs(65_000)).toBe('65.0 s');
    expect(timingsText({ queue_ms: null, compile_ms: null, run_ms: null, total_ms: null })).toEqual([]);
    expect(endReasonText({ reason: 'signal', signal: null })).toBe('killed by a signal');
    expect(endReasonText({ reason: null, signal: null })).toBe('did not run');
  });
});
