// One run of the program, as the page follows it: a pure state machine fed the gateway's frames for
// the run's id and the user's actions, and the output assembled from them (stdout, stderr and the
// input the user typed, in arrival order, consecutive pieces of one stream merged).
//
//   connecting → sent → queued → running → ended
//        └──────────┴───────┴────────┴→ stopping → ended     (Stop; the exit frame ends it)
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

export interface RunState {
  readonly id: string;
  readonly lang: string;
  readonly interactive: boolean;
  readonly phase: RunPhase;
  readonly jobId: string | null;
  readonly runner: string | null;
  readonly pieces: readonly OutputPiece[];
  /** The next live chunk's seq; a larger one means the gateway dropped chunks (see exit). */
  readonly nextSeq: number;
  readonly result: ExecuteResponse | null;
  /** Live chunks the gateway dropped: the output shown is then the result's, stream by stream. */
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
  | { type: 'lost'; failure: RunFailure };

export function newRun(id: string, lang: string, interactive: boolean): RunState {
  return {
    id,
    lang,
    interactive,
    phase: 'connecting',
    jobId: null,
    runner: null,
    pieces: [],
    nextSeq: 0,
    result: null,
    droppedChunks: 0,
    failure: null,
    inputClosed: false,
    stopBeforeSend: false,
  };
}

export const isActive = (run: RunState | null): boolean => run !== null && run.phase !== 'ended';

/** Whether typed input can go to the program now. */
export const acceptsInput = (run: RunState | null): boolean =>
  run?.interactive === true && !run.inputClosed && ['sent', 'queued', 'running'].includes(run.phase);

export function runReducer(run: RunState, event: RunEvent): RunState {
  if (run.phase === 'ended') return run;
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
      return { ...run, phase: 'ended', failure: event.failure };
    case 'frame':
      return onFrame(run, event.frame);
    default: {
      const never: never = event;
      throw new Error(`unknown run event ${JSON.stringify(never)}`);
    }
  }
}

const stoppedBeforeSend: RunFailure = { code: 'cancelled', message: 'Stopped before it was sent' };

function onFrame(run: RunState, frame: GatewayToClient): RunState {
  const moving = run.phase === 'stopping' ? 'stopping' : null;
  switch (frame.type) {
    case 'accepted':
      return { ...run, jobId: frame.job_id, phase: moving ?? 'queued' };
    case 'started':
      return { ...run, runner: frame.runner, phase: moving ?? 'running' };
    case 'stdout':
    case 'stderr':
      return {
        ...run,
        pieces: append(run.pieces, frame.type, frame.data),
        nextSeq: Math.max(run.nextSeq, frame.seq + 1),
      };
    case 'exit':
      return ended(run, frame.result, frame.dropped_chunks);
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
