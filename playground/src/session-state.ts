// Session mode's state: off → opening → open, back to off when the user leaves session mode, the
// gateway ends the session (idle, sandbox or runner gone) or refuses it, or the socket drops. While
// open, the files of its workspace are listed after each run (a session_files request, answered
// with the files, sorted). Pure: the page feeds it the frames for the session's id and its
// listing's id.
import type { GatewayToClient, WorkspaceFile } from '../../shared/client-protocol.js';
import { describeError } from './run-summary.js';

export type SessionPhase = 'off' | 'opening' | 'open';

export interface SessionState {
  readonly phase: SessionPhase;
  /** The session's id on the socket (the session_open frame's). */
  readonly id: string | null;
  readonly lang: string | null;
  readonly runner: string | null;
  /** The workspace's files as last listed; null before the first listing. */
  readonly files: readonly WorkspaceFile[] | null;
  /** The last listing left files out (the gateway lists at most 1000). */
  readonly truncated: boolean;
  /** The session_files request's id while one is unanswered. */
  readonly listing: string | null;
  /** Why the last listing failed, or why the session ended (shown until the next change). */
  readonly note: string | null;
}

export type SessionEvent =
  | { type: 'open'; id: string; lang: string }
  | { type: 'close'; note?: string }
  | { type: 'frame'; frame: GatewayToClient }
  | { type: 'list'; id: string };

export const SESSION_OFF: SessionState = {
  phase: 'off',
  id: null,
  lang: null,
  runner: null,
  files: null,
  truncated: false,
  listing: null,
  note: null,
};

const CLOSED_BECAUSE: Record<string, string> = {
  closed: 'The session was closed',
  idle_timeout: 'The session ended after being idle: its files are gone',
  sandbox_ended: 'The session’s sandbox ended: its files are gone',
  runner_lost: 'The session’s runner went away: its files are gone',
};

export function sessionReducer(state: SessionState, event: SessionEvent): SessionState {
  switch (event.type) {
    case 'open':
      return { ...SESSION_OFF, phase: 'opening', id: event.id, lang: event.lang };
    case 'close':
      return { ...SESSION_OFF, note: event.note ?? null };
    case 'list':
      return state.phase === 'open' ? { ...state, listing: event.id, note: null } : state;
    case 'frame':
      return onFrame(state, event.frame);
    default: {
      const never: never = event;
      throw new Error(`unknown session event ${JSON.stringify(never)}`);
    }
  }
}

/** Whether the frame is about this session or its listing (the page routes it here then). */
export function concernsSession(state: SessionState, frame: GatewayToClient): boolean {
  return frame.id !== null && (frame.id === state.id || frame.id === state.listing);
}

function onFrame(state: SessionState, frame: GatewayToClient): SessionState {
  if (frame.id === null) return state;
  if (frame.id === state.listing) return onListingFrame(state, frame);
  if (frame.id !== state.id) return state;
  switch (frame.type) {
    case 'session_opened':
      return { ...state, phase: 'open', runner: frame.runner, lang: frame.lang, files: [] };
    case 'session_closed':
      return { ...SESSION_OFF, note: `${CLOSED_BECAUSE[frame.reason] ?? frame.message}.` };
    case 'error':
      return { ...SESSION_OFF, note: `No session: ${describeError(frame)}` };
    default:
      return state;
  }
}

function onListingFrame(state: SessionState, frame: GatewayToClient): SessionState {
  switch (frame.type) {
    case 'session_files':
      return { ...state, listing: null, files: frame.files, truncated: frame.truncated, note: null };
    case 'error':
      return { ...state, listing: null, note: `Could not list the files: ${describeError(frame)}` };
    default:
      return state;
  }
}
