// The client WebSocket (/execute/ws): many jobs on one socket, each named by the client's id;
// live output relayed as the runner produces it; resuming a job after a lost connection (its kept
// chunks, then the live rest); cancel; sessions and their file listings; goaway when the gateway
// stops. Every frame is parsed against shared/client-protocol.ts, and every problem is answered
// with an error frame, never a drop.
import {
  CLIENT_HIGH_WATER_BYTES,
  CLIENT_MAX_BUFFERED_BYTES,
  CLOSE_CODES,
  type ClientToGateway,
  ClientToGatewayFrame,
  CodeexecError,
  DEFAULT_SESSION_IDLE_MS,
  type GatewayToClient,
  type JobRecord,
  type Logger,
  MAX_CLIENT_FRAME_BYTES,
  MAX_JOBS_PER_SOCKET,
  MAX_SESSIONS_PER_SOCKET,
  parse,
  parseJson,
} from '../../shared/index.js';
import { toExecuteResponse } from '../http/routes.js';
import type { Dispatcher } from '../jobs/dispatcher.js';
import type { JobBook } from '../jobs/job-book.js';
import { checkLimits, type JobIntake } from '../jobs/job-intake.js';
import type { OutputLogs } from '../output/output-log.js';
import { replayFor } from '../output/output-replay.js';
import type { ClientSession, SessionBroker } from '../sessions/session-broker.js';
import { clientErrorOf } from '../store/store-errors.js';
import type { SocketHandler, SocketLike, UpgradeInfo } from '../transport/transport.js';

interface ClientJob {
  jobId: string;
  interactive: boolean;
  /** The highest seq sent on this socket: a chunk at or below it is not sent twice. */
  sentSeq: number;
  /** Live chunks not sent because the client was not reading (the exit frame has everything). */
  dropped: number;
  unwatch: () => void;
}

/** One client socket and its jobs. */
class ClientConnection {
  readonly jobs = new Map<string, ClientJob>();
  /** Open (or opening) sessions, by the client's id. */
  readonly sessions = new Map<string, ClientSession>();
  /** The ids of session_files and resume requests not answered yet. */
  readonly listings = new Set<string>();
  closed = false;
  /** Who submits this socket's jobs: they count against that client's cap and are its own. */
  client: string | null = null;
  readonly socket: SocketLike;

  constructor(socket: SocketLike) {
    this.socket = socket;
  }

  /** `buffered`: the socket's bufferedAmount, when the caller has just read it. */
  send(frame: GatewayToClient, buffered = this.socket.bufferedAmount): boolean {
    if (this.closed) return false;
    // Frames that must arrive (exit, error) are never dropped; a client that leaves this much
    // unread is cut off instead, and its jobs' results wait in the store.
    if (buffered > CLIENT_MAX_BUFFERED_BYTES) {
      this.socket.close(CLOSE_CODES.too_slow, 'the client does not read its socket');
      return false;
    }
    return this.socket.send(JSON.stringify(frame));
  }

  /** Live output is best-effort past the high-water mark: a slow reader cannot grow our memory. */
  sendLive(job: ClientJob, frame: GatewayToClient): void {
    // Read once: this runs for every chunk.
    const buffered = this.socket.bufferedAmount;
    if (buffered > CLIENT_HIGH_WATER_BYTES) {
      job.dropped++;
      return;
    }
    this.send(frame, buffered);
  }

  error(id: string | null, err: CodeexecError): void {
    const details = err.details === undefined ? {} : { details: err.details };
    this.send({ type: 'error', id, code: err.code, message: err.message, ...details });
  }
}

export interface ClientSocketsOptions {
  dispatcher: Dispatcher;
  /** Finds the job a resume names (finished ones are in the store). */
  book: JobBook;
  /** Every job's kept output, for resume. */
  output: OutputLogs;
  /** With API keys a client may resume only its own jobs. */
  ownJobsOnly: boolean;
  intake: JobIntake;
  sessions: SessionBroker;
  log: Logger;
  /** The caller's identity (its key, or its address); throws CodeexecError('unauthorized'). */
  authorize?: (upgrade: UpgradeInfo, remoteAddress: string) => string;
  /** Counts an execute or session_open against the client's rate limit; throws rate_limited. */
  admit?: (client: string | null) => void;
}

export class ClientSockets implements SocketHandler {
  readonly maxFrameBytes = MAX_CLIENT_FRAME_BYTES;
  readonly #options: ClientSocketsOptions;
  readonly #connections = new Map<SocketLike, ClientConnection>();

  /** Client sockets open now. */
  get size(): number {
    return this.#connections.size;
  }

  constructor(options: ClientSocketsOptions) {
    this.#options = options;
  }

  open(socket: SocketLike, upgrade: UpgradeInfo): void {
    const connection = new ClientConnection(socket);
    try {
      connection.client = this.#options.authorize?.(upgrade, socket.remoteAddress) ?? null;
    } catch (err) {
      const error = err instanceof CodeexecError ? err : new CodeexecError('unauthorized');
      connection.error(null, error);
      socket.close(4000 + error.status, error.message.slice(0, 120));
      return;
    }
    this.#connections.set(socket, connection);
  }

  message(socket: SocketLike, text: string): void {
    const connection = this.#connections.get(socket);
    if (!connection) return;
    let frame: ClientToGateway;
    try {
      frame = parse(ClientToGatewayFrame, parseJson(text, 'invalid_frame'), 'invalid_frame');
    } catch (err) {
      connection.error(idOf(text), err as CodeexecError);
      return;
    }
    try {
      this.#handle(connection, frame);
    } catch (err) {
      this.#failed(connection, frame, err);
    }
  }

  /** A frame was refused (a CodeexecError) or its handling broke: the client gets an error frame. */
  #failed(connection: ClientConnection, frame: ClientToGateway, err: unknown): void {
    connection.error(frame.id, this.#clientError(connection, frame.type, err));
  }

  /** A CodeexecError as it is; an unreachable store as store_unavailable; anything else, logged. */
  #clientError(connection: ClientConnection, what: string, err: unknown): CodeexecError {
    if (err instanceof CodeexecError) return err;
    const known = clientErrorOf(err);
    this.#options.log[known ? 'warn' : 'error'](
      { client: connection.client, frame: what, err },
      'client frame failed',
    );
    return known ?? new CodeexecError('internal');
  }

  /**
   * The gateway is going away: every socket hears `goaway` (reconnect after about
   * `reconnectAfterMs`, spread so clients do not all come back at once), then closes with 1001.
   */
  goaway(reconnectAfterMs: number): void {
    for (const connection of [...this.#connections.values()]) {
      connection.send({
        type: 'goaway',
        id: null,
        reconnect_after_ms: Math.round(reconnectAfterMs * (1 + Math.random())),
        message: 'The gateway is going away: reconnect, and resume unfinished jobs with resume frames',
      });
      connection.socket.close(CLOSE_CODES.going_away, 'gateway going away');
    }
  }

  close(socket: SocketLike): void {
    const connection = this.#connections.get(socket);
    if (!connection) return;
    this.#connections.delete(socket);
    connection.closed = true;
    for (const job of connection.jobs.values()) {
      job.unwatch();
      // Nobody can type into an interactive program any more: end it. Other jobs finish and
      // stay in the store, where GET /execute/{job_id}/result finds them.
      if (job.interactive) this.#options.dispatcher.cancel(job.jobId);
    }
    connection.jobs.clear();
    // A session's sandbox dies with the socket that opened it.
    for (const session of connection.sessions.values()) {
      this.#options.sessions.close(session, 'closed', 'The client socket closed');
    }
    connection.sessions.clear();
  }

  #handle(connection: ClientConnection, frame: ClientToGateway): void {
    switch (frame.type) {
      case 'execute':
        this.#options.admit?.(connection.client);
        this.#execute(connection, frame);
        return;
      case 'cancel':
        this.#options.dispatcher.cancel(this.#job(connection, frame.id).jobId);
        return;
      case 'resume':
        this.#resume(connection, frame);
        return;
      case 'session_open':
        this.#options.admit?.(connection.client);
        this.#openSession(connection, frame);
        return;
      case 'session_close':
        this.#options.sessions.close(this.#session(connection, frame.id));
        return;
      case 'session_files':
        this.#listFiles(connection, frame);
        return;
      case 'stdin':
      case 'stdin_eof':
      case 'signal': {
        const job = this.#job(connection, frame.id);
        if (!job.interactive && frame.type !== 'signal') {
          throw new CodeexecError('invalid_frame', `job ${frame.id} was not started with interactive: true`);
        }
        const { id: _id, ...input } = frame;
        // The job may be held by another gateway: its answer comes later, as an error if refused.
        this.#options.dispatcher
          .control(job.jobId, input)
          .catch((err) => this.#failed(connection, frame, err));
        return;
      }
      default: {
        const never: never = frame;
        throw new CodeexecError('invalid_frame', `unhandled frame ${JSON.stringify(never)}`);
      }
    }
  }

  #openSession(
    connection: ClientConnection,
    frame: Extract<ClientToGateway, { type: 'session_open' }>,
  ): void {
    const { id } = frame;
    checkUnusedId(connection, id);
    if (connection.sessions.size >= MAX_SESSIONS_PER_SOCKET) {
      throw new CodeexecError(
        'too_many_sessions',
        `at most ${MAX_SESSIONS_PER_SOCKET} open sessions per socket`,
      );
    }
    const lang = this.#options.intake.resolveLanguage(frame.lang);
    checkLimits(frame.limits);
    const idleMs = frame.idle_timeout_ms ?? DEFAULT_SESSION_IDLE_MS;
    const session = this.#options.sessions.open(
      { lang, limits: frame.limits ?? null, idleMs, trust: frame.trust ?? 'any' },
      {
        opened: (opened) => {
          connection.send({
            type: 'session_opened',
            id,
            session_id: opened.id,
            runner: opened.runner?.name ?? '',
            lang,
            idle_timeout_ms: idleMs,
          });
        },
        failed: (_session, error) => {
          connection.sessions.delete(id);
          connection.error(id, error);
        },
        ended: (_session, reason, message) => {
          connection.sessions.delete(id);
          connection.send({ type: 'session_closed', id, reason, message });
        },
      },
    );
    connection.sessions.set(id, session);
  }

  #execute(connection: ClientConnection, frame: Extract<ClientToGateway, { type: 'execute' }>): void {
    const { id, type: _type, interactive, session: sessionName, ...request } = frame;
    checkUnusedId(connection, id);
    if (connection.jobs.size >= MAX_JOBS_PER_SOCKET) {
      throw new CodeexecError('too_many_jobs', `at most ${MAX_JOBS_PER_SOCKET} unfinished jobs per socket`);
    }
    const record = this.#submit(connection, sessionName, request, interactive);
    const job: ClientJob = { jobId: record.id, interactive, sentSeq: -1, dropped: 0, unwatch: () => {} };
    connection.jobs.set(id, job);
    connection.send({ type: 'accepted', id, job_id: record.id });
    this.#follow(connection, id, job);
  }

  /**
   * resume: the job's kept chunks after after_seq (a gap first for any no longer kept), then the
   * live rest and exit. The id is taken at once; the job is looked up in the store, and from there
   * to following it live nothing waits, so no chunk falls between the replay and the live rest.
   */
  #resume(connection: ClientConnection, frame: Extract<ClientToGateway, { type: 'resume' }>): void {
    const { id, job_id: jobId, after_seq: afterSeq } = frame;
    checkUnusedId(connection, id);
    if (connection.jobs.size >= MAX_JOBS_PER_SOCKET) {
      throw new CodeexecError('too_many_jobs', `at most ${MAX_JOBS_PER_SOCKET} unfinished jobs per socket`);
    }
    // Pending until the job is found (and is the caller's): the id is taken, cancel does not see it.
    connection.listings.add(id);
    const { book, output, ownJobsOnly } = this.#options;
    void book.find(jobId).then(
      (record) => {
        if (connection.closed || !connection.listings.delete(id)) return;
        if (record === undefined || (ownJobsOnly && record.client !== connection.client)) {
          connection.error(id, new CodeexecError('not_found', `No job ${jobId}`));
          return;
        }
        const job: ClientJob = {
          jobId,
          interactive: false,
          sentSeq: afterSeq,
          dropped: 0,
          unwatch: () => {},
        };
        connection.jobs.set(id, job);
        connection.send({
          type: 'resumed',
          id,
          job_id: jobId,
          status: record.status,
          attempt: record.attempt,
        });
        for (const entry of replayFor(output, record, afterSeq)) {
          if (entry.kind === 'gap') connection.send({ type: 'gap', id, ...entry.gap });
          else this.#sendChunk(connection, id, job, entry.event, false);
        }
        this.#follow(connection, id, job);
      },
      (err: unknown) => {
        if (connection.listings.delete(id))
          connection.error(id, this.#clientError(connection, 'resume', err));
      },
    );
  }

  /** Relays the job's live events to the socket until its exit. */
  #follow(connection: ClientConnection, id: string, job: ClientJob): void {
    job.unwatch = this.#options.dispatcher.watch(job.jobId, {
      start: (started: JobRecord) => {
        connection.send({ type: 'started', id, runner: started.runner_id ?? '', attempt: started.attempt });
      },
      output: (event) => this.#sendChunk(connection, id, job, event, true),
      gap: (gap) => {
        if (gap.to_seq === null || gap.to_seq > job.sentSeq) connection.send({ type: 'gap', id, ...gap });
      },
      end: (ended) => {
        connection.jobs.delete(id);
        connection.send({ type: 'exit', id, result: toExecuteResponse(ended), dropped_chunks: job.dropped });
      },
    });
  }

  /** A chunk not sent yet: live ones may be dropped for a slow reader, replayed ones are not. */
  #sendChunk(
    connection: ClientConnection,
    id: string,
    job: ClientJob,
    event: { stream: 'stdout' | 'stderr'; seq: number; data: string },
    live: boolean,
  ): void {
    if (event.seq <= job.sentSeq) return;
    job.sentSeq = event.seq;
    const frame: GatewayToClient = { type: event.stream, id, seq: event.seq, data: event.data };
    if (live) connection.sendLive(job, frame);
    else connection.send(frame);
  }

  #submit(
    connection: ClientConnection,
    sessionName: string | undefined,
    request: Omit<Extract<ClientToGateway, { type: 'execute' }>, 'type' | 'id' | 'interactive' | 'session'>,
    interactive: boolean,
  ) {
    const { intake, sessions } = this.#options;
    if (sessionName === undefined) {
      const { lang } = request;
      if (lang === undefined) throw new CodeexecError('invalid_frame', 'lang is required outside a session');
      return intake.submit({ ...request, lang }, interactive, connection.client).job;
    }
    if (request.labels !== undefined) {
      throw new CodeexecError(
        'invalid_frame',
        "labels do not apply in a session: its executions run on the session's runner",
      );
    }
    const session = this.#session(connection, sessionName);
    return sessions.execute(
      session,
      intake.sessionRequest(session.spec, request),
      interactive,
      connection.client,
    );
  }

  /** session_files: answered with session_files (the session's id, the files) or an error frame. */
  #listFiles(connection: ClientConnection, frame: Extract<ClientToGateway, { type: 'session_files' }>): void {
    const { id } = frame;
    checkUnusedId(connection, id);
    const session = this.#session(connection, frame.session);
    connection.listings.add(id);
    this.#options.sessions.listFiles(session, (answer) => {
      connection.listings.delete(id);
      if (answer instanceof CodeexecError) connection.error(id, answer);
      else connection.send({ type: 'session_files', id, session_id: session.id, ...answer });
    });
  }

  #session(connection: ClientConnection, id: string): ClientSession {
    const session = connection.sessions.get(id);
    if (!session) throw new CodeexecError('not_found', `no open session ${id} on this socket`);
    return session;
  }

  #job(connection: ClientConnection, id: string): ClientJob {
    const job = connection.jobs.get(id);
    if (!job) throw new CodeexecError('not_found', `no unfinished job ${id} on this socket`);
    return job;
  }
}

/**
 * Job, session and listing ids share one namespace per socket, so an error frame's id names one
 * thing.
 */
function checkUnusedId(connection: ClientConnection, id: string): void {
  if (connection.jobs.has(id) || connection.sessions.has(id) || connection.listings.has(id)) {
    throw new CodeexecError(
      'duplicate_id',
      `id ${id} is already used by an unfinished job, open session or pending listing on this socket`,
    );
  }
}

/** The id of a frame that failed validation, if it has a usable one, so the error names the job. */
function idOf(text: string): string | null {
  try {
    const value = JSON.parse(text) as { id?: unknown };
    return typeof value?.id === 'string' ? value.id.slice(0, 64) : null;
  } catch {
    return null;
  }
}
