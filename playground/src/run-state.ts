// One run of the program, as the page follows it: a pure state machine fed the gateway's frames for
// the run's id and the user's actions, and the output assembled from them (stdout, stderr and the
// input the user typed, in arrival order, consecutive pieces of one stream merged).
//
//   connecting → sent → queued → running → ended
//        └──────────┴───────┴────────┴→ stopping → ended     (Stop; the exit frame ends it)
//
// A lost socket ends a run, except a plain one the gateway has accepted: that job runs on, so the
// run stays in its phase with `reconnect` set while the page gets a new socket and resumes the
// job's output after the last chunk it has (docs/client-protocol.md, "Resuming output"). An
// interactive job is cancelled with its socket, and a session's sandbox dies with it: those end.
import type { GatewayToClient } from '../../shared/client-protocol.js';
import type { ExecuteResponse } from '../../shared/rest.js';

export type RunPhase = 'connecting' | 'sent' | 'queued' | 'running' | 'stopping' | 'ended';

/** `stdin`: what the user typed into a running interactive program (echoed, as a terminal does). */
export type Stream = 'stdout' | 'stderr' | 'stdin';

export interface OutputPiece {
  stream: Stream;
  text: string;
}

/** Why a run ended without a result: refused by the gateway, or the page lost it. */
export interface RunFailure {
  /** An error code of docs/errors.md, or `connection_lost`. */
  code: string;
  message: string;
}

/** How long the page keeps trying to get back to a job once its socket is lost. */
export const RESUME_WINDOW_MS = 60_000;

/** The page is getting back to its job after the socket was lost. */
export interface Reconnect {
  /** When the socket was lost (ms, the page's clock): the page gives up RESUME_WINDOW_MS later. */
  readonly since: number;
  /** Tries that failed so far: the wait doubles with each. */
  readonly tries: number;
  /** The wait before the next try: the gateway's goaway hint, else 250 ms doubling to 5 s. */
  readonly waitMs: number;
  /** Why the socket ended: what the run ends with if the page gives up. */
  readonly failure: RunFailure;
}

export interface RunState {
  readonly id: string;
  readonly lang: string;
  readonly interactive: boolean;
  /** The session it runs in (the session_open id), if any. */
  readonly session: string | null;
  readonly phase: RunPhase;
  readonly jobId: string | null;
  readonly runner: string | null;
  readonly pieces: readonly OutputPiece[];
  /**
   * The highest seq the page has had: shown, or said by a gap never to come (−1: none yet). A
   * resume asks for the chunks after it; a chunk at or below it is a repeat and is not shown.
   */
  readonly lastSeq: number;
  /** Chunks the page knows it missed: seq numbers skipped, and gaps. */
  readonly missedChunks: number;
  /** Set while the socket is lost and the page gets back to the job; null otherwise. */
  readonly reconnect: Reconnect | null;
  /** The gateway said it is going away and when to come back: the next reconnect waits that long. */
  readonly goawayMs: number | null;
  readonly result: ExecuteResponse | null;
  /**
   * Live chunks that did not reach the page (set at the end): the output shown is then the
   * result's, stream by stream.
   */
  readonly droppedChunks: number;
  readonly failure: RunFailure | null;
  /** An interactive run's stdin was closed (EOF sent). */
  readonly inputClosed: boolean;
  /** Stop was asked before the execute frame went out: it is never sent. */
  readonly stopBeforeSend: boolean;
}

export type RunEvent =
  | { type: 'sent' }
  | { type: 'frame'; frame: GatewayToClient }
  | { type: 'stop' }
  | { type: 'input'; data: string }
  | { type: 'eof' }
  /** The socket ended, or a try to get a new one failed (`now`: the page's clock, in ms). */
  | { type: 'lost'; failure: RunFailure; now: number }
  /** Time passed while reconnecting: past RESUME_WINDOW_MS the page gives up. */
  | { type: 'tick'; now: number };

export function newRun(
  id: string,
  lang: string,
  interactive: boolean,
  session: string | null = null,
): RunState {
  return {
    id,
    lang,
    interactive,
    session,
    phase: 'connecting',
    jobId: null,
    runner: null,
    pieces: [],
    lastSeq: -1,
    missedChunks: 0,
    reconnect: null,
    goawayMs: null,
    result: null,
    droppedChunks: 0,
    failure: null,
    inputClosed: false,
    stopBeforeSend: false,
  };
}

export const isActive = (run: RunState | null): boolean => run !== null && run.phase !== 'ended';

/** Whether the page is getting back to the run's job (no socket carries it now). */
export const isReconnecting = (run: RunState | null): boolean => isActive(run) && run?.reconnect != null;

/**
 * Whether a lost socket leaves the job running for the page to resume: accepted, neither
 * interactive (the gateway cancels it) nor in a session (its sandbox goes with the socket).
 */
export const resumable = (run: RunState): boolean =>
  run.jobId !== null && !run.interactive && run.session === null;

/** The wait before try number `tries` (from 0): the goaway hint, else 250 ms doubling to 5 s. */
export function reconnectDelay(tries: number, goawayMs: number | null): number {
  return goawayMs ?? Math.min(5_000, 250 * 2 ** tries);
}

/** Whether typed input can go to the program now. */
export const acceptsInput = (run: RunState | null): boolean =>
  run?.interactive === true && !run.inputClosed && ['sent', 'queued', 'running'].includes(run.phase);

export function runReducer(run: RunState, event: RunEvent): RunState {
  if (run.phase === 'ended') return run;
  const next = step(run, event);
  // An ended run (a resume refused, a key refused on the way back) reconnects no more.
  return next.phase === 'ended' && next.reconnect !== null ? { ...next, reconnect: null } : next;
}

function step(run: RunState, event: RunEvent): RunState {
  switch (event.type) {
    case 'sent':
      return run.phase === 'connecting' ? { ...run, phase: 'sent' } : run;
    case 'stop':
      if (run.phase === 'connecting') {
        return { ...run, phase: 'ended', stopBeforeSend: true, failure: stoppedBeforeSend };
      }
      return run.phase === 'stopping' ? run : { ...run, phase: 'stopping' };
    case 'input':
      return acceptsInput(run) ? { ...run, pieces: append(run.pieces, 'stdin', event.data) } : run;
    case 'eof':
      return acceptsInput(run) ? { ...run, inputClosed: true } : run;
    case 'lost':
      return onLost(run, event.failure, event.now);
    case 'tick':
      return run.reconnect !== null && event.now - run.reconnect.since >= RESUME_WINDOW_MS
        ? giveUp(run, run.reconnect)
        : run;
    case 'frame':
      return onFrame(run, event.frame);
    default: {
      const never: never = event;
      throw new Error(`unknown run event ${JSON.stringify(never)}`);
    }
  }
}

const stoppedBeforeSend: RunFailure = { code: 'cancelled', message: 'Stopped before it was sent' };

/** The socket is gone: reconnect to a job that runs on, else end (and so after the window). */
function onLost(run: RunState, failure: RunFailure, now: number): RunState {
  // A refused key (4401) is no connection problem: asking again with it would be refused too.
  if (failure.code !== 'connection_lost' || !resumable(run)) return { ...run, phase: 'ended', failure };
  const since = run.reconnect?.since ?? now;
  const tries = run.reconnect === null ? 0 : run.reconnect.tries + 1;
  const reconnect = { since, tries, waitMs: reconnectDelay(tries, run.goawayMs), failure };
  if (now - since >= RESUME_WINDOW_MS) return giveUp(run, reconnect);
  return { ...run, reconnect, goawayMs: null };
}

function giveUp(run: RunState, reconnect: Reconnect): RunState {
  const within = `${RESUME_WINDOW_MS / 1000} s`;
  const message = `${reconnect.failure.message}, and the page could not get back to the job in ${within}`;
  return { ...run, phase: 'ended', failure: { code: 'connection_lost', message } };
}

/**
 * How many chunks numbered between `lastSeq` and `seq` never came. A retry's chunks are numbered
 * from (attempt − 1) × 2³²: a chunk of a new attempt counts only that attempt's chunks before it.
 */
export function skippedBefore(lastSeq: number, seq: number): number {
  const attemptStart = Math.floor(seq / ATTEMPT_SEQ) * ATTEMPT_SEQ;
  return Math.max(0, seq - Math.max(lastSeq + 1, attemptStart));
}

const ATTEMPT_SEQ = 2 ** 32;

function onFrame(run: RunState, frame: GatewayToClient): RunState {
  const moving = run.phase === 'stopping' ? 'stopping' : null;
  switch (frame.type) {
    case 'accepted':
      return { ...run, jobId: frame.job_id, phase: moving ?? 'queued' };
    case 'started':
      return { ...run, runner: frame.runner, phase: moving ?? 'running' };
    case 'stdout':
    case 'stderr':
      // A repeat (the socket was lost after the gateway sent it): shown once.
      if (frame.seq <= run.lastSeq) return run;
      return {
        ...run,
        pieces: append(run.pieces, frame.type, frame.data),
        lastSeq: frame.seq,
        missedChunks: run.missedChunks + skippedBefore(run.lastSeq, frame.seq),
      };
    case 'gap':
      return onGap(run, frame.from_seq, frame.to_seq);
    case 'resumed':
      // Back on the job: its chunks after lastSeq follow, then the live rest and exit.
      return { ...run, reconnect: null, phase: moving ?? phaseOf(frame.status, run.phase) };
    case 'goaway':
      // The socket closes next: the reconnect waits as long as the gateway asks.
      return { ...run, goawayMs: frame.reconnect_after_ms };
    case 'exit':
      // The exit frame counts what this socket dropped; missedChunks also what earlier ones did
      // (the larger is exact on one socket, and the least that is missing after a resume).
      return ended(run, frame.result, Math.max(run.missedChunks, frame.dropped_chunks));
    case 'error':
      return { ...run, phase: 'ended', failure: { code: frame.code, message: frame.message } };
    case 'session_opened':
    case 'session_closed':
    case 'session_files':
      return run; // a session's frames never carry a run's id
    default: {
      const never: never = frame;
      throw new Error(`unknown frame ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Chunks that will not come: at the end the result's whole streams replace the live holes. With
 * to_seq unknown the gap counts its first chunk, and the next chunk that comes counts the rest.
 */
function onGap(run: RunState, fromSeq: number, toSeq: number | null): RunState {
  const last = toSeq ?? fromSeq;
  if (last <= run.lastSeq) return run;
  return { ...run, lastSeq: last, missedChunks: run.missedChunks + skippedBefore(run.lastSeq, last) + 1 };
}

/** The phase a resumed job is in: the gateway's status, as far as the page's phases tell it. */
function phaseOf(status: string, phase: RunPhase): RunPhase {
  if (status === 'queued') return 'queued';
  if (status === 'running') return 'running';
  return phase; // it ended: the exit frame follows
}

function ended(run: RunState, result: ExecuteResponse, dropped: number): RunState {
  // With chunks dropped the live output has holes: show the result's whole streams instead (their
  // interleaving is lost; each stream is complete up to the output limit).
  const pieces =
    dropped > 0
      ? [
          ...(result.stdout ? [{ stream: 'stdout' as const, text: result.stdout }] : []),
          ...(result.stderr ? [{ stream: 'stderr' as const, text: result.stderr }] : []),
        ]
      : run.pieces;
  return { ...run, phase: 'ended', result, droppedChunks: dropped, pieces };
}

/** `pieces` with `text` added: to the last piece when it is of the same stream. */
export function append(pieces: readonly OutputPiece[], stream: Stream, text: string): OutputPiece[] {
  if (text === '') return [...pieces];
  const last = pieces[pieces.length - 1];
  if (last?.stream === stream) return [...pieces.slice(0, -1), { stream, text: last.text + text }];
  return [...pieces, { stream, text }];
}
