// The runner's side of persistent sessions on one gateway socket: session_open and session_close
// frames, which session an execution offer may run in, session_files listings, and session_ended
// when a session's sandbox is lost or the runner drains. Each session holds one slot from
// session_open until it ends (as the gateway counts it: its sandbox is removed in the background,
// like a spent container's). A session never outlives its socket: when the socket drops, every
// session ends silently (the gateway ends them on its side).
import type { ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { GatewayToRunner, OfferedJob, RunnerToGateway } from '../../shared/runner-protocol.js';
import type { SandboxPool } from '../pool/sandbox-pool.js';
import type { FileListing } from './file-listing.js';
import type { PoolSession } from './pool-session.js';

type SessionOpen = Extract<GatewayToRunner, { type: 'session_open' }>;
type SessionFiles = Extract<GatewayToRunner, { type: 'session_files' }>;

export interface SessionEnd {
  code: ErrorCode;
  message: string;
}

interface Entry {
  id: string;
  lang: string;
  /** opening → open → ending (→ removed from the map once its sandbox is gone). */
  state: 'opening' | 'open' | 'ending';
  session: PoolSession | null;
  /** Aborts the wait for a container while opening. */
  opening: AbortController;
  /** The execution running in it (a job id), at most one. */
  running: string | null;
  /** The session_ended to send once the running execution's done has been sent. */
  pendingEnd: SessionEnd | null;
  /** Nothing more is said about it: the gateway closed it, or its socket is gone. */
  silent: boolean;
}

export interface RunnerSessionsOptions {
  pool: Pick<SandboxPool, 'openSession'>;
  send: (frame: RunnerToGateway) => boolean;
  log: Logger;
  /** A session left the map (its slot is free again). */
  onRemoved: () => void;
}

const SHUTTING_DOWN: SessionEnd = { code: 'shutting_down', message: 'The runner is shutting down' };

export class RunnerSessions {
  readonly #options: RunnerSessionsOptions;
  readonly #entries = new Map<string, Entry>();
  #draining = false;

  constructor(options: RunnerSessionsOptions) {
    this.#options = options;
  }

  /** Slots the sessions hold: one per session not yet ending. */
  get slots(): number {
    let open = 0;
    for (const entry of this.#entries.values()) if (entry.state !== 'ending') open++;
    return open;
  }

  /** Sessions not yet gone (ending ones wait for their execution's end, or their sandbox's removal). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * session_open: refused with session_ended when `refusal` says why (busy, draining, language),
   * else a container is leased and session_opened follows. A repeat of an open session's
   * session_open is answered again, one still opening once it is open, one ending is refused.
   */
  open(frame: SessionOpen, refusal: () => SessionEnd | null): void {
    const known = this.#entries.get(frame.session_id);
    if (known?.state === 'ending') {
      const message = 'A session with this id is still ending on this runner';
      this.#send({ type: 'session_ended', session_id: known.id, code: 'runner_rejected', message });
      return;
    }
    if (known !== undefined) {
      if (known.state === 'open') this.#send({ type: 'session_opened', session_id: known.id });
      return;
    }
    const refused = refusal();
    if (refused !== null) {
      this.#options.log.info({ session_id: frame.session_id, reason: refused.message }, 'session refused');
      this.#send({ type: 'session_ended', session_id: frame.session_id, ...refused });
      return;
    }
    const entry: Entry = {
      id: frame.session_id,
      lang: frame.lang,
      state: 'opening',
      session: null,
      opening: new AbortController(),
      running: null,
      pendingEnd: null,
      silent: false,
    };
    this.#entries.set(entry.id, entry);
    this.#options.pool.openSession(frame.lang, frame.limits, entry.opening.signal).then(
      (session) => this.#opened(entry, session),
      (err: unknown) => {
        if (this.#entries.get(entry.id) === entry) this.#entries.delete(entry.id);
        const code = (err as { code?: ErrorCode }).code ?? 'sandbox_failed';
        const message = (err as Error).message;
        this.#options.log.warn({ session_id: entry.id, err }, 'a session could not open');
        if (!entry.silent) this.#send({ type: 'session_ended', session_id: entry.id, code, message });
        this.#options.onRemoved();
      },
    );
  }

  /** session_close: cancel its running execution (its done still follows) and remove the sandbox. */
  close(sessionId: string): void {
    const entry = this.#entries.get(sessionId);
    if (entry === undefined) return; // already ended on our side: session_ended crossed the close
    entry.silent = true;
    this.#end(entry, null);
  }

  /**
   * The session an execution offer names, now running it; or why it cannot run there. The
   * gateway sends a session's executions one at a time.
   */
  claim(job: OfferedJob): PoolSession | string {
    const entry = job.session_id === null ? undefined : this.#entries.get(job.session_id);
    if (entry === undefined) return `no session ${job.session_id} on this runner`;
    if (entry.running !== null) return `session ${entry.id} is running another execution`;
    if (entry.state !== 'open' || entry.session?.state !== 'open') return `session ${entry.id} is not open`;
    if (job.lang !== entry.lang) return `session ${entry.id} runs ${entry.lang}, not ${job.lang}`;
    entry.running = job.id;
    return entry.session;
  }

  /** The execution running in the session has ended and its done is sent (or dropped). */
  executionEnded(sessionId: string): void {
    const entry = this.#entries.get(sessionId);
    if (entry === undefined) return;
    entry.running = null;
    if (entry.state === 'ending') this.#remove(entry);
    else if (this.#draining) this.#end(entry, SHUTTING_DOWN);
  }

  /**
   * session_files: list the session's workspace (an execution may be running in it) and answer
   * session_files_result, with `error` when the session is not open here or the listing failed.
   */
  listFiles(frame: SessionFiles): void {
    const { session_id, request_id } = frame;
    const answer = (listing: FileListing | SessionEnd) =>
      this.#send({
        type: 'session_files_result',
        session_id,
        request_id,
        ...('files' in listing ? listing : { files: [], truncated: false, error: listing }),
      });
    const entry = this.#entries.get(session_id);
    const session = entry?.state === 'open' ? entry.session : null;
    if (!session) {
      answer({ code: 'session_closed', message: `The session ${session_id} is not open on this runner` });
      return;
    }
    session.listFiles().then(answer, (err: unknown) => {
      this.#options.log.warn({ session_id, err }, "could not list a session's files");
      const code = (err as { code?: ErrorCode }).code ?? 'sandbox_failed';
      answer({ code, message: (err as Error).message });
    });
  }

  /** No new sessions (the caller refuses them); each ends, shutting_down, once its execution has. */
  drain(): void {
    this.#draining = true;
    for (const entry of this.#entries.values()) {
      if (entry.state === 'open' && entry.running === null) this.#end(entry, SHUTTING_DOWN);
    }
  }

  /** The socket dropped or the runner is closing: every session ends without a word. */
  endAll(): void {
    for (const entry of this.#entries.values()) {
      entry.silent = true;
      this.#end(entry, null);
    }
  }

  #opened(entry: Entry, session: PoolSession): void {
    entry.session = session;
    if (entry.state !== 'opening') {
      // Closed, or its socket gone, while it was opening.
      this.#remove(entry);
      return;
    }
    if (this.#draining) {
      entry.state = 'open';
      this.#end(entry, SHUTTING_DOWN);
      return;
    }
    entry.state = 'open';
    this.#options.log.info({ session_id: entry.id, lang: entry.lang }, 'session opened');
    this.#send({ type: 'session_opened', session_id: entry.id });
    void session.lost.then((error) => this.#end(entry, { code: error.code, message: error.message }));
  }

  /**
   * End a session: say why (`end`, unless silent) once its running execution's done is out, and
   * remove its sandbox. A gateway close or a lost socket cancels the running execution first.
   */
  #end(entry: Entry, end: SessionEnd | null): void {
    if (entry.state === 'ending') return;
    const opening = entry.state === 'opening';
    entry.state = 'ending';
    if (opening) {
      entry.opening.abort();
      return; // #opened or the open's failure removes it
    }
    if (end !== null && !entry.silent) {
      if (entry.running === null) this.#sendEnded(entry, end);
      else entry.pendingEnd = end;
    }
    // Cancel only when the gateway or the socket ends it; a lost or draining session's execution
    // ends by itself, and its done comes first.
    if (entry.running === null) this.#remove(entry);
    else if (entry.silent) void entry.session?.close();
  }

  #remove(entry: Entry): void {
    if (entry.pendingEnd !== null && !entry.silent) this.#sendEnded(entry, entry.pendingEnd);
    entry.pendingEnd = null;
    const closed = entry.session?.close() ?? Promise.resolve();
    void closed.then(() => {
      if (this.#entries.get(entry.id) === entry) this.#entries.delete(entry.id);
      this.#options.onRemoved();
    });
  }

  #sendEnded(entry: Entry, end: SessionEnd): void {
    this.#options.log.info({ session_id: entry.id, code: end.code, reason: end.message }, 'session ended');
    this.#send({ type: 'session_ended', session_id: entry.id, code: end.code, message: end.message });
  }

  #send(frame: RunnerToGateway): void {
    this.#options.send(frame);
  }
}
