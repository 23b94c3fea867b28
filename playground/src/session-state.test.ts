import { describe, expect, it } from 'vitest';
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
    const files = [
      { path: 'data/b.csv', size: 7 },
      { path: 'main.py', size: 31 },
      { path: 'notes.txt', size: 4 },
    ];
    const listingFrame = {
      type: 'session_files' as const,
      id: 'files-3',
      session_id: 's-uuid',
      files,
      truncated: false,
    };
    expect(concernsSession(listing, listingFrame)).toBe(true);
    expect(concernsSession(listing, { ...listingFrame, id: 'run-2' })).toBe(false);
    const listed = sessionReducer(listing, { type: 'frame', frame: listingFrame });
    // Every file, the run's main file included, as the gateway sorted them.
    expect(listed).toMatchObject({ listing: null, files, truncated: false });
    const more = sessionReducer(sessionReducer(listed, { type: 'list', id: 'files-4' }), {
      type: 'frame',
      frame: { ...listingFrame, id: 'files-4', truncated: true },
    });
    expect(more).toMatchObject({ listing: null, truncated: true });
    // An answer that comes after another listing was asked for is not that one's.
    const stale = sessionReducer(sessionReducer(listed, { type: 'list', id: 'files-5' }), {
      type: 'frame',
      frame: { ...listingFrame, id: 'files-4', files: [] },
    });
    expect(stale).toMatchObject({ listing: 'files-5', files });
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
          type: 'error',
          id: 'files-2',
          code: 'sandbox_failed',
          message: "The runner did not list the session's files within 5 s",
        },
      },
    ]);
    expect(state).toMatchObject({
      phase: 'open',
      listing: null,
      note: "Could not list the files: sandbox_failed: The runner did not list the session's files within 5 s.",
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
