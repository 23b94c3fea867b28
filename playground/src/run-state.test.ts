import { describe, expect, it } from 'vitest';
import type { GatewayToClient } from '../../shared/client-protocol.js';
import { result } from './run-fixtures.js';
import {
  acceptsInput,
  append,
  isActive,
  isReconnecting,
  newRun,
  RESUME_WINDOW_MS,
  type RunEvent,
  type RunState,
  reconnectDelay,
  runReducer,
  skippedBefore,
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
      { type: 'lost', failure: { code: 'connection_lost', message: 'closed with 1006' }, now: 0 },
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

type Lost = Extract<RunEvent, { type: 'lost' }>;
const dropped = (now: number): Lost => ({
  type: 'lost',
  failure: { code: 'connection_lost', message: 'the socket closed with code 1006' },
  now,
});
const chunk = (seq: number, data: string, stream: 'stdout' | 'stderr' = 'stdout'): RunEvent =>
  frame({ type: stream, id: 'r1', seq, data });
const resumed = (status = 'running'): RunEvent =>
  frame({ type: 'resumed', id: 'r1', job_id: 'job-1', status, attempt: 1 });

/** A plain run, accepted and started, that has shown lines 0, 1 and 2. */
function running(interactive = false, session: string | null = null): RunState {
  return play(newRun('r1', 'python', interactive, session), [
    { type: 'sent' },
    frame({ type: 'accepted', id: 'r1', job_id: 'job-1' }),
    frame({ type: 'started', id: 'r1', runner: 'runner-a', attempt: 1 }),
    chunk(0, 'line 0\n'),
    chunk(1, 'line 1\n'),
    chunk(2, 'line 2\n'),
  ]);
}

describe('a run whose socket is lost', () => {
  it('stays active and reconnects: the wait doubles from 250 ms to 5 s, counted from the first loss', () => {
    let run = runReducer(running(), dropped(1_000));
    expect(run).toMatchObject({ phase: 'running', lastSeq: 2, failure: null });
    expect(run.reconnect).toEqual({
      since: 1_000,
      tries: 0,
      waitMs: 250,
      failure: { code: 'connection_lost', message: 'the socket closed with code 1006' },
    });
    expect(isReconnecting(run)).toBe(true);
    const waits: number[] = [];
    for (let now = 2_000; now <= 9_000; now += 1_000) {
      run = runReducer(run, dropped(now)); // each try that fails
      waits.push(run.reconnect?.waitMs ?? -1);
    }
    expect(waits).toEqual([500, 1_000, 2_000, 4_000, 5_000, 5_000, 5_000, 5_000]);
    expect(run.reconnect?.since).toBe(1_000);
    expect(reconnectDelay(0, null)).toBe(250);
    expect(reconnectDelay(9, 2_650)).toBe(2_650);
  });

  it('waits as long as goaway asks, once', () => {
    let run = play(running(), [
      frame({ type: 'goaway', id: null, reconnect_after_ms: 2_650, message: 'The gateway is going away' }),
      dropped(0),
    ]);
    expect(run.reconnect?.waitMs).toBe(2_650);
    run = runReducer(run, dropped(2_700));
    expect(run.reconnect?.waitMs).toBe(500);
  });

  it('resumed: back to following the job; chunks already shown are not shown twice', () => {
    const run = play(running(), [
      dropped(0),
      dropped(300),
      resumed(),
      chunk(1, 'line 1\n'),
      chunk(2, 'line 2\n'),
      chunk(3, 'line 3\n'),
      chunk(3, 'line 3\n'),
      chunk(4, 'oops\n', 'stderr'),
      frame({
        type: 'exit',
        id: 'r1',
        result: result({ stdout: 'line 0\nline 1\nline 2\nline 3\n' }),
        dropped_chunks: 0,
      }),
    ]);
    expect(run.pieces).toEqual([
      { stream: 'stdout', text: 'line 0\nline 1\nline 2\nline 3\n' },
      { stream: 'stderr', text: 'oops\n' },
    ]);
    expect(run).toMatchObject({ phase: 'ended', reconnect: null, lastSeq: 4, droppedChunks: 0 });
  });

  it.each([
    ['queued', 'queued'],
    ['running', 'running'],
    ['done', 'running'],
  ])('resumed with the job %s: the run is %s', (status, phase) => {
    expect(play(running(), [dropped(0), resumed(status)]).phase).toBe(phase);
  });

  it.each([
    ['an interactive run (the gateway cancels it)', running(true), dropped(0)],
    ['a run in a session (its sandbox is gone)', running(false, 'session-1'), dropped(0)],
    [
      'a run not accepted yet (there is no job to resume)',
      runReducer(newRun('r1', 'python', false), { type: 'sent' }),
      dropped(0),
    ],
    [
      'a refused key',
      running(),
      { type: 'lost', failure: { code: 'unauthorized', message: 'The API key is not valid' }, now: 0 },
    ],
  ] satisfies [string, RunState, Lost][])('ends %s', (_name, run, event) => {
    const lost = runReducer(run, event);
    expect(lost).toMatchObject({ phase: 'ended', reconnect: null, failure: event.failure });
  });

  it(`gives up ${RESUME_WINDOW_MS / 1000} s after the loss: at a failed try, or when the time comes`, () => {
    const lost = runReducer(running(), dropped(1_000));
    expect(runReducer(lost, { type: 'tick', now: 1_000 + RESUME_WINDOW_MS - 1 })).toBe(lost);
    for (const event of [
      dropped(1_000 + RESUME_WINDOW_MS),
      { type: 'tick', now: 1_000 + RESUME_WINDOW_MS } as const,
    ]) {
      const gone = runReducer(lost, event);
      expect(gone).toMatchObject({ phase: 'ended', reconnect: null, failure: { code: 'connection_lost' } });
      expect(gone.failure?.message).toBe(
        'the socket closed with code 1006, and the page could not get back to the job in 60 s',
      );
      expect(gone.pieces).toEqual(lost.pieces);
    }
    // Once back, a later loss has its own window.
    const back = play(lost, [resumed(), dropped(1_000 + RESUME_WINDOW_MS)]);
    expect(back.reconnect?.since).toBe(1_000 + RESUME_WINDOW_MS);
    expect(runReducer(running(), { type: 'tick', now: 10 ** 9 }).phase).toBe('running');
  });

  it('Stop while reconnecting: stopping, still reconnecting (the cancel goes once resumed)', () => {
    const stopping = play(running(), [dropped(0), { type: 'stop' }]);
    expect(stopping).toMatchObject({ phase: 'stopping', reconnect: { tries: 0 } });
    expect(play(stopping, [resumed()])).toMatchObject({ phase: 'stopping', reconnect: null });
  });

  it('a resume refused (the gateway no longer knows the job) ends it', () => {
    const run = play(running(), [
      dropped(0),
      frame({ type: 'error', id: 'r1', code: 'not_found', message: 'No job job-1' }),
    ]);
    expect(run).toMatchObject({ phase: 'ended', reconnect: null, failure: { code: 'not_found' } });
  });
});

describe('missed chunks', () => {
  it.each([
    [-1, 0, 0],
    [-1, 3, 3],
    [4, 5, 0],
    [4, 9, 4],
    // A retry's first chunk (attempt 2: from 2³²): only that attempt's chunks before it count.
    [7, 2 ** 32, 0],
    [7, 2 ** 32 + 2, 2],
  ])('after %i, chunk %i: %i skipped', (last, seq, skipped) => {
    expect(skippedBefore(last, seq)).toBe(skipped);
  });

  it('a gap or a skipped seq shows the whole streams at the end, and counts what is missing', () => {
    const exit = frame({
      type: 'exit',
      id: 'r1',
      result: result({ stdout: 'line 0\nline 1\nline 2\n… line 9\n' }),
      dropped_chunks: 0,
    });
    const cases: [RunEvent[], number][] = [
      [[frame({ type: 'gap', id: 'r1', from_seq: 3, to_seq: 5, reason: 'not_retained' }), chunk(6, 'x')], 3],
      // to_seq unknown: up to the next chunk that comes.
      [
        [frame({ type: 'gap', id: 'r1', from_seq: 3, to_seq: null, reason: 'not_retained' }), chunk(8, 'x')],
        5,
      ],
      [[frame({ type: 'gap', id: 'r1', from_seq: 3, to_seq: null, reason: 'not_received' })], 1],
      // Dropped for a slow reader on the lost socket: the resume starts after the last chunk shown.
      [[chunk(5, 'x'), dropped(0), resumed(), chunk(6, 'y')], 2],
      // A gap for chunks already shown changes nothing.
      [[frame({ type: 'gap', id: 'r1', from_seq: 1, to_seq: 2, reason: 'not_retained' })], 0],
    ];
    for (const [events, missed] of cases) {
      const run = play(running(), [...events, exit]);
      expect(run.droppedChunks).toBe(missed);
      expect(run.pieces.map((piece) => piece.text).join('')).toBe(
        missed > 0 ? 'line 0\nline 1\nline 2\n… line 9\n' : 'line 0\nline 1\nline 2\n',
      );
    }
  });
});
