// The runner endpoint (/runners/connect): handshake with a token, heartbeats, and the frames of
// the runner protocol, each parsed against its shared schema. Who is connected is the registry's
// business; what the frames mean for jobs is the dispatcher's.
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  CLOSE_CODES,
  type CodeexecError,
  closeCodeFor,
  type ErrorCode,
  type GatewayToRunner,
  type Logger,
  PROTOCOL_VERSION,
  parse,
  parseJson,
  type RunnerToGateway,
  RunnerToGatewayFrame,
} from '../../shared/index.js';
import { checkOutputFrame } from '../../shared/output-frame.js';
import type { Dispatcher } from '../jobs/dispatcher.js';
import type { SessionBroker } from '../sessions/session-broker.js';
import type { SocketHandler, SocketLike } from '../transport/transport.js';
import { RunnerConnection } from './runner-connection.js';
import type { RunnerRegistry } from './runner-registry.js';

export interface RunnerHubOptions {
  dispatcher: Dispatcher;
  registry: RunnerRegistry;
  /** Client sessions whose sandboxes runners hold. */
  sessions: SessionBroker;
  log: Logger;
  /** Tokens a `trusted` runner (the operator's) may enroll with. */
  tokens: readonly string[];
  /** Tokens `donor` runners enroll with: each token is one donor identity. */
  donorTokens?: readonly string[];
  heartbeatMs: number;
  leaseMs: number;
  /** The ping interval the welcome asks the runner to keep (the transport's own, CODEEXEC_PING_MS). */
  pingMs?: number;
  /** How long a new socket has to say hello. */
  helloTimeoutMs?: number;
}

/** What shutdown() tells runners to wait before they dial a lone gateway again, at least. */
export const DEFAULT_GOAWAY_RECONNECT_MS = 1000;

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export class RunnerHub implements SocketHandler {
  readonly #options: RunnerHubOptions;
  readonly #sessions = new Map<SocketLike, RunnerConnection>();
  readonly #timers = new Map<RunnerConnection, NodeJS.Timeout>();
  readonly #sweep: NodeJS.Timeout;

  constructor(options: RunnerHubOptions) {
    this.#options = options;
    // A runner silent for three heartbeats is gone, whatever its TCP connection says.
    this.#sweep = setInterval(() => this.#dropSilent(), options.heartbeatMs);
    this.#sweep.unref();
  }

  get runnerCount(): number {
    return this.#options.registry.size;
  }

  open(socket: SocketLike): void {
    const session = new RunnerConnection(socket);
    this.#sessions.set(socket, session);
    const timer = setTimeout(() => {
      if (session.state === 'handshaking') this.#fail(session, 'invalid_frame', 'no hello in time');
    }, this.#options.helloTimeoutMs ?? 10_000);
    timer.unref();
    this.#timers.set(session, timer);
  }

  message(socket: SocketLike, text: string): void {
    const session = this.#sessions.get(socket);
    if (!session || session.state === 'closed') return;
    session.lastSeen = Date.now();
    let frame: RunnerToGateway;
    try {
      const value = parseJson(text, 'invalid_frame');
      // The hot frame (one per output chunk) checked by hand; any other frame, or a bad output
      // frame, by the schema, which accepts it or says what is wrong.
      frame = checkOutputFrame(value) ?? parse(RunnerToGatewayFrame, value, 'invalid_frame');
    } catch (err) {
      const error = err as CodeexecError;
      if (session.state === 'handshaking') this.#fail(session, error.code, error.message);
      else this.#send(session, { type: 'error', code: error.code, message: error.message });
      return;
    }
    if (session.state === 'handshaking') {
      if (frame.type !== 'hello') this.#fail(session, 'invalid_frame', `expected hello, got ${frame.type}`);
      else this.#hello(session, frame);
      return;
    }
    const { dispatcher } = this.#options;
    switch (frame.type) {
      case 'hello':
        this.#send(session, { type: 'error', code: 'invalid_frame', message: 'hello was already received' });
        return;
      case 'accept':
        dispatcher.accepted(session, frame.job_id);
        return;
      case 'reject':
        dispatcher.rejected(session, frame.job_id, frame.reason);
        return;
      case 'release':
        dispatcher.handedBack(session, frame.job_id, frame.reason);
        return;
      case 'output':
        dispatcher.output(session, frame.job_id, frame);
        return;
      case 'stage':
        dispatcher.stage(session, frame.job_id, frame.stage, frame.compile);
        return;
      case 'session_opened':
        this.#options.sessions.runnerOpened(session, frame.session_id);
        return;
      case 'session_ended':
        this.#options.sessions.runnerEnded(session, frame.session_id, frame.code, frame.message);
        return;
      case 'session_files_result':
        this.#options.sessions.runnerListed(session, frame);
        return;
      case 'done':
        dispatcher.done(session, frame.job_id, frame.result, frame.error);
        return;
      case 'heartbeat':
        this.#send(session, { type: 'heartbeat', jobs: [] });
        return;
      case 'drain':
        this.#drain(session);
        return;
      case 'error':
        this.#options.log.warn(
          { runner_id: session.name, job_id: frame.job_id, code: frame.code, message: frame.message },
          'runner reported an error',
        );
        return;
      case 'languages':
        this.#options.registry.setLanguages(session, frame.languages, frame.building);
        dispatcher.pump();
        return;
      case 'capacity':
        this.#options.registry.setCapacity(session, frame.slots, frame.paused);
        dispatcher.pump();
        return;
      default: {
        const never: never = frame;
        throw new Error(`unhandled frame ${JSON.stringify(never)}`);
      }
    }
  }

  close(socket: SocketLike, code: number, reason: string): void {
    const session = this.#sessions.get(socket);
    if (!session) return;
    this.#sessions.delete(socket);
    clearTimeout(this.#timers.get(session));
    this.#timers.delete(session);
    const wasLive = session.live;
    session.moveTo('closed');
    if (wasLive && this.#options.registry.get(session.name) === session) {
      // 1000 is the runner closing on purpose (GatewayConnection.close): it gave up its jobs and
      // is not coming back for them, so waiting out their lease would only delay them.
      const final = code === CLOSE_CODES.normal;
      this.#options.dispatcher.runnerGone(session, final, reason || `closed with ${code}`);
      this.#options.sessions.runnerGone(session);
    }
  }

  /**
   * Gateway shutdown: tells every runner socket `goaway`, then closes it with 1001. A runner with
   * another gateway in its list moves there at once; one with only this gateway dials it again
   * after the frame's reconnect_after_ms, which each socket gets drawn from [reconnectAfterMs,
   * 2 × reconnectAfterMs), so the runners of a restarted gateway do not all come back at once.
   */
  shutdown(reconnectAfterMs: number = DEFAULT_GOAWAY_RECONNECT_MS): void {
    if (!Number.isInteger(reconnectAfterMs) || reconnectAfterMs < 0) {
      throw new RangeError(`reconnectAfterMs must be an integer ≥ 0, got ${reconnectAfterMs}`);
    }
    clearInterval(this.#sweep);
    for (const session of [...this.#sessions.values()]) {
      const jittered = reconnectAfterMs + Math.floor(Math.random() * reconnectAfterMs);
      this.#send(session, { type: 'goaway', reconnect_after_ms: jittered });
      session.socket.close(CLOSE_CODES.going_away, 'gateway going away');
    }
  }

  #hello(session: RunnerConnection, hello: Extract<RunnerToGateway, { type: 'hello' }>): void {
    const enrolled = this.#enroll(hello.token);
    if (enrolled === null) {
      this.#fail(session, 'unauthorized', 'the runner token is not valid');
      return;
    }
    if (hello.protocol !== PROTOCOL_VERSION) {
      this.#fail(session, 'invalid_frame', `protocol ${hello.protocol} is not supported`);
      return;
    }
    if (this.#options.registry.get(hello.name) !== undefined) {
      this.#fail(session, 'duplicate_runner', `a runner named ${hello.name} is already connected`);
      return;
    }
    clearTimeout(this.#timers.get(session));
    this.#timers.delete(session);
    session.moveTo(hello.draining ? 'draining' : 'ready');
    session.name = hello.name;
    session.tier = enrolled.tier;
    session.identity = enrolled.identity ?? hello.name;
    session.version = hello.version;
    session.slots = hello.slots;
    session.labels = hello.labels;
    session.languages = new Map(hello.languages.map((lang) => [lang.name, lang]));
    session.building = hello.building.filter((name) => !session.languages.has(name));
    session.paused = hello.paused;
    this.#send(session, {
      type: 'welcome',
      runner_id: session.name,
      heartbeat_ms: this.#options.heartbeatMs,
      lease_ms: this.#options.leaseMs,
      ...(this.#options.pingMs === undefined ? {} : { ping_ms: this.#options.pingMs }),
    });
    this.#options.dispatcher.runnerReady(session, hello.held);
  }

  /** The runner takes no more offers; what it holds, it finishes and reports as usual. */
  #drain(session: RunnerConnection): void {
    this.#options.registry.drain(session);
  }

  /**
   * The tier a token enrolls in, and for a donor its identity (the token's fingerprint, never the
   * token); null for a token neither list has.
   */
  #enroll(token: string): { tier: 'trusted' | 'donor'; identity: string | null } | null {
    const given = digest(token);
    let found: { tier: 'trusted' | 'donor'; identity: string | null } | null = null;
    // Compare with every token of both lists, as digests of equal length, in constant time: the
    // time taken reveals neither which token matched nor how much of one did.
    for (const allowed of this.#options.tokens) {
      if (timingSafeEqual(digest(allowed), given)) found = { tier: 'trusted', identity: null };
    }
    for (const allowed of this.#options.donorTokens ?? []) {
      if (timingSafeEqual(digest(allowed), given)) {
        found = { tier: 'donor', identity: `donor:${given.toString('hex').slice(0, 12)}` };
      }
    }
    return found;
  }

  #dropSilent(): void {
    const deadline = Date.now() - 3 * this.#options.heartbeatMs;
    for (const session of [...this.#sessions.values()]) {
      if (session.live && session.lastSeen < deadline) {
        this.#options.log.warn(
          { runner_id: session.name },
          'runner silent for three heartbeats; dropping it',
        );
        session.socket.close(CLOSE_CODES.going_away, 'heartbeat timeout');
      }
    }
  }

  #send(session: RunnerConnection, frame: GatewayToRunner): void {
    session.send(frame);
  }

  /** Tells the runner why, then closes with the matching close code. */
  #fail(session: RunnerConnection, code: ErrorCode, message: string): void {
    this.#send(session, { type: 'error', code, message });
    session.socket.close(closeCodeFor(code), message.slice(0, 120));
  }
}
