import { describe, expect, it } from 'vitest';
import type { GatewayToClient } from '../../shared/client-protocol.js';
import { result } from './run-fixtures.js';
import {
  acceptsInput,
  append,
  isActive,
  newRun,
  type RunEvent,
  type RunState,
  runReducer,
} from './run-state.js';

const frame = (f: GatewayToClient): RunEvent => ({ type: 'frame', frame: f });
const play = (run: RunState, events: RunEvent[]) => events.reduce(runReducer, run);

describe('a run', () => {
  it('goes connecting → sent → queued → running → ended, assembling the output in arrival order', () => {
    const start = newRun('r1', 'python', false);
    expect(start.phase).toBe('connecting');
    const phases: string[] = [];
    const events: RunEvent[] = [
      { type: 'sent' },
      frame({ type: 'accepted', id: 'r1', job_id: 'job-1' }),
      frame({ type: 'started', id: 'r1', runner: 'runner-a', attempt: 1 }),
      frame({ type: 'stdout', id: 'r1', seq: 0, data: 'a' }),
      frame({ type: 'stdout', id: 'r1', seq: 1, data: 'b\n' }),
      frame({ type: 'stderr', id: 'r1', seq: 2, data: 'oops\n' }),
      frame({ type: 'stdout', id: 'r1', seq: 3, data: 'c\n' }),
      frame({ type: 'exit', id: 'r1', result: result(), dropped_chunks: 0 }),
    ];
    let run = start;
    for (const event of events) {
      run = runReducer(run, event);
      phases.push(run.phase);
    }
    expect(phases).toEqual([
      'sent',
      'queued',
      'running',
      'running',
      'running',
      'running',
      'running',
      'ended',
    ]);
    expect(run.jobId).toBe('job-1');
    expect(run.runner).toBe('runner-a');
    expect(run.pieces).toEqual([
      { stream: 'stdout', text: 'ab\n' },
      { stream: 'stderr', text: 'oops\n' },
      { stream: 'stdout', text: 'c\n' },
    ]);
    expect(run.result?.exit_code).toBe(0);
    expect(isActive(run)).toBe(false);
  });

  it('shows the whole streams of the result when live chunks were dropped', () => {
    const run = play(newRun('r1', 'python', false), [
      { type: 'sent' },
      frame({ type: 'stdout', id: 'r1', seq: 0, data: 'first ' }),
      frame({ type: 'stdout', id: 'r1', seq: 5, data: 'later' }),
      frame({
        type: 'exit',
        id: 'r1',
        result: result({ stdout: 'first middle later', stderr: 'warn\n' }),
        dropped_chunks: 4,
      }),
    ]);
    expect(run.droppedChunks).toBe(4);
    expect(run.pieces).toEqual([
      { stream: 'stdout', text: 'first middle later' },
      { stream: 'stderr', text: 'warn\n' },
    ]);
  });

  it('Stop: stopping until the exit frame comes; nothing changes once ended', () => {
    const stopped = play(newRun('r1', 'python', false), [
      { type: 'sent' },
      frame({ type: 'accepted', id: 'r1', job_id: 'job-1' }),
      { type: 'stop' },
      frame({ type: 'started', id: 'r1', runner: 'runner-a', attempt: 1 }),
    ]);
    expect(stopped.phase).toBe('stopping');
    const ended = play(stopped, [
      frame({
        type: 'exit',
        id: 'r1',
        result: result({ reason: 'cancelled', exit_code: null }),
        dropped_chunks: 0,
      }),
    ]);
    expect(ended.phase).toBe('ended');
    expect(play(ended, [{ type: 'stop' }, frame({ type: 'stdout', id: 'r1', seq: 9, data: 'x' })])).toBe(
      ended,
    );
  });

  it('Stop before the frame was sent ends the run at once, and it is never sent', () => {
    const run = runReducer(newRun('r1', 'python', false), { type: 'stop' });
    expect(run).toMatchObject({ phase: 'ended', stopBeforeSend: true, failure: { code: 'cancelled' } });
    expect(runReducer(run, { type: 'sent' })).toBe(run);
  });

  it('an error frame ends it with the failure', () => {
    const run = play(newRun('r1', 'cobol', false), [
      { type: 'sent' },
      frame({ type: 'error', id: 'r1', code: 'unknown_language', message: 'Unknown language "cobol"' }),
    ]);
    expect(run).toMatchObject({ phase: 'ended', failure: { code: 'unknown_language' }, result: null });
  });

  it('a lost socket ends it', () => {
    const run = play(newRun('r1', 'python', true), [
      { type: 'sent' },
      { type: 'lost', failure: { code: 'connection_lost', message: 'closed with 1006' } },
    ]);
    expect(run).toMatchObject({ phase: 'ended', failure: { code: 'connection_lost' } });
  });

  it('interactive: typed input is echoed among the output until EOF; a plain run takes none', () => {
    const running: RunEvent[] = [
      { type: 'sent' },
      frame({ type: 'started', id: 'r1', runner: 'runner-a', attempt: 1 }),
      frame({ type: 'stdout', id: 'r1', seq: 0, data: 'name? ' }),
      { type: 'input', data: 'Ada\n' },
      frame({ type: 'stdout', id: 'r1', seq: 1, data: 'hello Ada\n' }),
      { type: 'eof' },
      { type: 'input', data: 'ignored\n' },
    ];
    const run = play(newRun('r1', 'python', true), running);
    expect(run.pieces).toEqual([
      { stream: 'stdout', text: 'name? ' },
      { stream: 'stdin', text: 'Ada\n' },
      { stream: 'stdout', text: 'hello Ada\n' },
    ]);
    expect(run.inputClosed).toBe(true);
    expect(acceptsInput(run)).toBe(false);
    const plain = play(newRun('r2', 'python', false), [{ type: 'sent' }]);
    expect(acceptsInput(plain)).toBe(false);
    expect(runReducer(plain, { type: 'input', data: 'x' })).toEqual(plain);
  });

  it('merges only consecutive pieces of one stream, and skips empty text', () => {
    expect(append([], 'stdout', '')).toEqual([]);
    expect(append([{ stream: 'stdout', text: 'a' }], 'stdout', 'b')).toEqual([
      { stream: 'stdout', text: 'ab' },
    ]);
    expect(append([{ stream: 'stdout', text: 'a' }], 'stderr', 'b')).toHaveLength(2);
  });
});
