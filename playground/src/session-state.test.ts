import { describe, expect, it } from 'vitest';
import { result } from './run-fixtures.js';
import {
  concernsSession,
  SESSION_OFF,
  type SessionEvent,
  type SessionState,
  sessionReducer,
} from './session-state.js';

const play = (events: SessionEvent[], from: SessionState = SESSION_OFF) =>
  events.reduce(sessionReducer, from);

const opened: SessionEvent[] = [
  { type: 'open', id: 'session-1', lang: 'python' },
  {
    type: 'frame',
    frame: {
      type: 'session_opened',
      id: 'session-1',
      session_id: 's-uuid',
      runner: 'runner-a',
      lang: 'python',
      idle_timeout_ms: 300_000,
    },
  },
];

describe('session mode', () => {
  it('opens, lists the files after a run, and closes', () => {
    const opening = play(opened.slice(0, 1));
    expect(opening).toMatchObject({ phase: 'opening', id: 'session-1', lang: 'python' });
    const open = play(opened);
    expect(open).toMatchObject({ phase: 'open', runner: 'runner-a', files: [] });
    const listing = sessionReducer(open, { type: 'list', id: 'files-3' });
    expect(listing.listing).toBe('files-3');
    const listingFrame = { type: 'stdout' as const, id: 'files-3', seq: 0, data: '4\tnotes.txt\n' };
    expect(concernsSession(listing, listingFrame)).toBe(true);
    expect(concernsSession(listing, { ...listingFrame, id: 'run-2' })).toBe(false);
    const listed = sessionReducer(listing, {
      type: 'frame',
      frame: {
        type: 'exit',
        id: 'files-3',
        result: result({ stdout: '4\tnotes.txt\n31\tmain.py\n7\tdata/b.csv\n' }),
        dropped_chunks: 0,
      },
    });
    expect(listed).toMatchObject({
      listing: null,
      files: [
        { path: 'data/b.csv', size: 7 },
        { path: 'notes.txt', size: 4 },
      ],
    });
    expect(sessionReducer(listed, { type: 'close' })).toEqual(SESSION_OFF);
  });

  it.each([
    ['idle_timeout', /idle: its files are gone/],
    ['sandbox_ended', /sandbox ended/],
    ['runner_lost', /runner went away/],
  ] as const)('ends when the gateway closes it (%s), saying so', (reason, note) => {
    const state = play([
      ...opened,
      { type: 'frame', frame: { type: 'session_closed', id: 'session-1', reason, message: 'm' } },
    ]);
    expect(state.phase).toBe('off');
    expect(state.note).toMatch(note);
  });

  it('ends when the gateway refuses it', () => {
    const state = play([
      opened[0] as SessionEvent,
      {
        type: 'frame',
        frame: { type: 'error', id: 'session-1', code: 'no_runner', message: 'No runner had a free slot' },
      },
    ]);
    expect(state).toMatchObject({
      phase: 'off',
      note: expect.stringMatching(/^No session: No runner can run/),
    });
  });

  it('says when a listing fails, and keeps the session', () => {
    const state = play([
      ...opened,
      { type: 'list', id: 'files-2' },
      {
        type: 'frame',
        frame: {
          type: 'exit',
          id: 'files-2',
          result: result({ exit_code: 1, stderr: 'permission denied\n' }),
          dropped_chunks: 0,
        },
      },
    ]);
    expect(state).toMatchObject({
      phase: 'open',
      listing: null,
      note: 'Could not list the files: permission denied',
    });
  });

  it('ignores frames of a session it has closed, and listings outside an open session', () => {
    const closed = play([...opened, { type: 'close' }]);
    const late = sessionReducer(closed, {
      type: 'frame',
      frame: { type: 'session_closed', id: 'session-1', reason: 'closed', message: 'm' },
    });
    expect(late).toEqual(SESSION_OFF);
    expect(sessionReducer(SESSION_OFF, { type: 'list', id: 'files-1' })).toBe(SESSION_OFF);
    expect(concernsSession(SESSION_OFF, { type: 'error', id: null, code: 'x', message: 'y' })).toBe(false);
  });
});
