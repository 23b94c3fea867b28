// What a runner tells its embedder (the CLI, the desktop app, tests), one payload type per event.
import type { RunnerLanguage } from '../shared/runner-protocol.js';
import type { ContainerOperation } from './docker/sandbox-driver.js';
import type { RunnerState } from './runner-state.js';

/** `gateway` is a base URL of the runner's list: the one connected, left, or to be dialled next. */
export type ConnectionEvent =
  | { state: 'connected'; gateway: string; runner_id: string }
  | { state: 'disconnected'; gateway: string; code: number; reason: string }
  | { state: 'retrying'; gateway: string; in_ms: number };

export interface JobStarted {
  id: string;
  lang: string;
  /** The session it runs in, for a session's execution. */
  session?: string;
}

export interface JobFinished {
  id: string;
  lang: string;
  session?: string;
  /** How the program ended (a result), or null when it could not run (see `error`). */
  reason: string | null;
  exit_code: number | null;
  /**
   * The error code when the runner could not run it (sandbox_failed, …), `handed_back` when
   * suspend() gave it back to the gateway unfinished, else null.
   */
  error: string | null;
  /** Run stage wall time; null without a result. */
  wall_ms: number | null;
  /** CPU time the job used, when the runner measured it. */
  cpu_ms: number | null;
  /** Whether the result reached the gateway now (else it is sent after the next welcome). */
  reported: boolean;
}

export interface RunnerEvents {
  /** The state changed, or the reason for it did. */
  state: { state: RunnerState; reason: string };
  /** The gateway welcomed the runner (after every connect). */
  ready: { runner_id: string };
  /** The gateway refused the runner for good (a bad token): it does not reconnect. */
  fatal: Error;
  /** The runner closed (its containers are removed). */
  stopped: undefined;
  connection: ConnectionEvent;
  'job.started': JobStarted;
  'job.finished': JobFinished;
  /**
   * The Docker engine cannot be reached: `message` says how to fix it. The runner keeps trying
   * every `retry_ms` and takes no job meanwhile.
   */
  'engine.missing': { message: string; retry_ms: number };
  /** The engine answers again (only after an `engine.missing`). */
  'engine.ready': undefined;
  /**
   * The Docker engine did one of the pool's operations (create, start, exec set-up, remove), in
   * this time. Only with the runner's own engine driver (not a driver passed in options).
   */
  'container.operation': ContainerOperation;
  /** What the runner offers changed (an image was built, or failed to). */
  languages: { languages: readonly RunnerLanguage[]; building: readonly string[] };
}
