// The bus over core NATS, for gateways that share a NATS server (CODEEXEC_BUS=nats://…). The one
// file that imports `nats`. Subjects are in nats-subjects.ts, the bytes in ../bus-codec.ts.
// - A job's events go on codeexec.job.<id>. This process's own subscribers get them at once, in
//   process, as on the in-process bus (the connection has noEcho: the server does not send them
//   back); other gateways' get them through the server.
// - Order: one connection per gateway, so every subscriber gets one gateway's messages for a job
//   in the order it published them. Between two gateways publishing for one job (its runner moved
//   to another gateway) nothing is ordered: each subscriber gets them as they arrive.
// - Control: this process's handlers first, with no round trip; then a request on
//   codeexec.control.<id>, answered by the gateway whose handler takes it. No answer within
//   controlTimeoutMs: nobody took it.
// - A message larger than the server takes in one (a job's end, with its stored output) goes in
//   parts (fragments.ts).
// - Wake: coalesced per event-loop turn; this process's handlers run, and one message on
//   codeexec.wake makes every other gateway's run (coalesced there too).
// - Core NATS delivers at most once. While the connection is down, what would be published is
//   dropped (counted, and logged when it comes back), control for a job held elsewhere answers
//   false at once, and nats.js reconnects, without end; the subscriptions come back with it, and
//   one wake goes out for those that were lost.
import { randomBytes } from 'node:crypto';
import {
  connect,
  ErrorCode,
  Events,
  type Msg,
  type NatsConnection,
  NatsError,
  type Subscription,
} from 'nats';
import { CodeexecError, type Logger } from '../../../shared/index.js';
import type { Bus, ControlHandler, ControlMessage, JobMessage } from '../bus.js';
import {
  type ControlReply,
  ControlReplySchema,
  ControlRequestSchema,
  decode,
  encode,
  JobMessageSchema,
} from '../bus-codec.js';
import { Reassembly, split } from './fragments.js';
import {
  CONTROL_SUBJECTS,
  controlSubject,
  gatewaySubject,
  jobSubject,
  WAKE_SUBJECT,
} from './nats-subjects.js';

export interface NatsBusOptions {
  /** nats://host:port of one NATS system (nats.js tries them in turn). */
  servers: string[];
  log: Logger;
  /** How long control waits for another gateway to take a job's input. */
  controlTimeoutMs?: number;
  /** Between two reconnect attempts; nats.js's default is 2 s. */
  reconnectTimeWaitMs?: number;
  /** The connection's name on the server's monitoring pages. */
  name?: string;
}

/** Long enough for a loaded gateway on a LAN to answer; a miss tells the client not_found. */
export const DEFAULT_CONTROL_TIMEOUT_MS = 1_000;
/** How long close() lets the connection drain before it just closes it. */
const DRAIN_TIMEOUT_MS = 5_000;
/** What a NATS server takes in one message unless configured otherwise. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

export type NatsBusState = 'connected' | 'reconnecting' | 'closed';

/** One job's subscribers here, and the one NATS subscription they share. */
interface JobSubscription {
  handlers: Set<(message: JobMessage) => void>;
  subscription: Subscription;
  parts: Reassembly;
}

export class NatsBus implements Bus {
  readonly #nc: NatsConnection;
  readonly #log: Logger;
  readonly #controlTimeoutMs: number;
  /** Names this process's large messages apart from other gateways' (fragments.ts). */
  readonly #id = randomBytes(4).toString('hex');
  #sent = 0;
  readonly #jobs = new Map<string, JobSubscription>();
  readonly #controlHandlers = new Set<ControlHandler>();
  readonly #wakeHandlers = new Set<() => void>();
  /** Nudge handlers by gateway id, with their subscription. */
  readonly #nudges = new Map<string, { handlers: Set<() => void>; subscription: Subscription }>();
  /** A pass of this process's wake handlers is due; `#wakeOthers`: and a wake message. */
  #wakePending = false;
  #wakeOthers = false;
  #state: NatsBusState = 'connected';
  /** Messages not sent since the connection went down. */
  #dropped = 0;
  readonly #stateHandlers = new Set<(state: NatsBusState) => void>();

  /** Connects (it fails when no server answers: the gateway should not start without its bus). */
  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    const nc = await connect({
      servers: options.servers,
      name: options.name ?? 'codeexec-gateway',
      noEcho: true,
      maxReconnectAttempts: -1,
      ...(options.reconnectTimeWaitMs === undefined
        ? {}
        : { reconnectTimeWait: options.reconnectTimeWaitMs }),
    });
    return new NatsBus(nc, options);
  }

  private constructor(nc: NatsConnection, options: NatsBusOptions) {
    this.#nc = nc;
    this.#log = options.log;
    this.#controlTimeoutMs = options.controlTimeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS;
    nc.subscribe(WAKE_SUBJECT, { callback: () => this.#scheduleWake() });
    nc.subscribe(CONTROL_SUBJECTS, {
      callback: (err, msg) => this.#guard(() => (err ? this.#logError(err) : this.#answer(msg))),
    });
    void this.#followStatus();
    void nc.closed().then((err) => {
      if (err) this.#log.error({ err }, 'bus connection closed for good');
      this.#setState('closed');
    });
  }

  get state(): NatsBusState {
    return this.#state;
  }

  publish(jobId: string, message: JobMessage): void {
    if (this.#state === 'closed') return;
    this.#send(jobSubject(jobId), encode(message));
    const local = this.#jobs.get(jobId);
    if (local !== undefined) for (const handler of [...local.handlers]) handler(message);
  }

  subscribe(jobId: string, handler: (message: JobMessage) => void): () => void {
    if (this.#state === 'closed') return () => {};
    let entry = this.#jobs.get(jobId);
    if (entry === undefined) {
      const parts = new Reassembly();
      const handlers = new Set<(message: JobMessage) => void>();
      const subscription = this.#nc.subscribe(jobSubject(jobId), {
        callback: (err, msg) =>
          this.#guard(() => (err ? this.#logError(err) : this.#receive(jobId, parts, handlers, msg))),
      });
      entry = { handlers, subscription, parts };
      this.#jobs.set(jobId, entry);
    }
    const subscribed = entry;
    subscribed.handlers.add(handler);
    return () => {
      subscribed.handlers.delete(handler);
      if (subscribed.handlers.size === 0 && this.#jobs.get(jobId) === subscribed) {
        this.#jobs.delete(jobId);
        subscribed.subscription.unsubscribe();
      }
    };
  }

  async control(jobId: string, message: ControlMessage): Promise<boolean> {
    // Before any await: a job held here gets its input before this returns, in order.
    if (this.#takeHere(jobId, message)) return true;
    if (this.#state !== 'connected') return false;
    let answer: Msg;
    try {
      answer = await this.#nc.request(controlSubject(jobId), encode({ job_id: jobId, message }), {
        timeout: this.#controlTimeoutMs,
      });
    } catch (err) {
      if (
        err instanceof NatsError &&
        (err.code === ErrorCode.Timeout || err.code === ErrorCode.NoResponders)
      ) {
        return false;
      }
      if (err instanceof NatsError && err.code === ErrorCode.MaxPayloadExceeded) {
        throw new CodeexecError(
          'invalid_frame',
          'The input is too large to pass to the gateway holding the job',
        );
      }
      this.#log.warn({ job_id: jobId, err }, 'bus control request failed');
      return false;
    }
    const reply = decode(ControlReplySchema, answer.data);
    if (!reply.ok) {
      this.#log.warn({ job_id: jobId, reason: reply.reason }, 'malformed bus control reply dropped');
      return false;
    }
    if (reply.value.type === 'refused') throw new CodeexecError(reply.value.code, reply.value.message);
    return true;
  }

  onControl(handler: ControlHandler): () => void {
    this.#controlHandlers.add(handler);
    return () => this.#controlHandlers.delete(handler);
  }

  wake(): void {
    if (this.#state === 'closed') return;
    this.#wakeOthers = true;
    this.#scheduleWake();
  }

  onWake(handler: () => void): () => void {
    this.#wakeHandlers.add(handler);
    return () => this.#wakeHandlers.delete(handler);
  }

  nudge(gatewayId: string): void {
    if (this.#state === 'closed') return;
    const local = this.#nudges.get(gatewayId);
    if (local !== undefined) {
      queueMicrotask(() => {
        for (const handler of [...local.handlers]) this.#guard(handler);
      });
      return;
    }
    this.#send(gatewaySubject(gatewayId), new Uint8Array(0));
  }

  onNudge(gatewayId: string, handler: () => void): () => void {
    if (this.#state === 'closed') return () => {};
    let entry = this.#nudges.get(gatewayId);
    if (entry === undefined) {
      const handlers = new Set<() => void>();
      const subscription = this.#nc.subscribe(gatewaySubject(gatewayId), {
        callback: () => {
          for (const each of [...handlers]) this.#guard(each);
        },
      });
      entry = { handlers, subscription };
      this.#nudges.set(gatewayId, entry);
    }
    const { handlers, subscription } = entry;
    handlers.add(handler);
    return () => {
      handlers.delete(handler);
      if (handlers.size > 0 || this.#nudges.get(gatewayId) !== entry) return;
      this.#nudges.delete(gatewayId);
      if (this.#state !== 'closed') subscription.unsubscribe();
    };
  }

  /** Resolves once the server has seen everything sent before (subscriptions included). */
  async flush(): Promise<void> {
    await this.#nc.flush();
  }

  /** Hears every change of `state` (for health checks, metrics and tests). */
  onState(handler: (state: NatsBusState) => void): () => void {
    this.#stateHandlers.add(handler);
    return () => this.#stateHandlers.delete(handler);
  }

  /** Stops sending, lets what was sent reach the server and what came in reach its handlers. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const connected = this.#state === 'connected';
    this.#setState('closed');
    if (connected) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no drain in ${DRAIN_TIMEOUT_MS} ms`)), DRAIN_TIMEOUT_MS);
      });
      try {
        await Promise.race([this.#nc.drain(), late]);
      } catch (err) {
        this.#log.warn({ err }, 'bus connection did not drain');
      } finally {
        clearTimeout(timer);
      }
    }
    // Down (nothing to drain into) or a drain that did not finish: just close.
    if (!this.#nc.isClosed()) await this.#nc.close();
    this.#jobs.clear();
    this.#controlHandlers.clear();
    this.#wakeHandlers.clear();
    this.#nudges.clear();
    this.#stateHandlers.clear();
  }

  /** Publishes now, in parts if it is large; drops it while the connection is down. */
  #send(subject: string, payload: Uint8Array): void {
    if (this.#state !== 'connected') {
      this.#dropped++;
      return;
    }
    try {
      const maxBytes = this.#nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
      for (const part of split(payload, maxBytes, `${this.#id}:${++this.#sent}`)) {
        this.#nc.publish(subject, part);
      }
    } catch (err) {
      // Never into the dispatcher: the job goes on here, its watchers elsewhere miss this message.
      this.#log.warn({ subject, bytes: payload.byteLength, err }, 'bus message not published');
    }
  }

  /** A job's message from another gateway: decoded, or logged and dropped. */
  #receive(jobId: string, parts: Reassembly, handlers: Set<(message: JobMessage) => void>, msg: Msg): void {
    const accepted = parts.accept(msg.data);
    if (accepted.kind === 'partial') return;
    const decoded =
      accepted.kind === 'whole'
        ? decode(JobMessageSchema, accepted.bytes)
        : { ok: false as const, reason: accepted.reason };
    if (!decoded.ok) {
      this.#log.warn({ job_id: jobId, reason: decoded.reason }, 'malformed bus message dropped');
      return;
    }
    for (const handler of [...handlers]) handler(decoded.value);
  }

  /** Another gateway's control request: answered only when a handler here takes the job. */
  #answer(msg: Msg): void {
    const request = decode(ControlRequestSchema, msg.data);
    if (!request.ok || msg.subject !== controlSubject(request.value.job_id)) {
      const reason = request.ok ? `job_id does not match ${msg.subject}` : request.reason;
      this.#log.warn({ subject: msg.subject, reason }, 'malformed bus control request dropped');
      return;
    }
    const { job_id: jobId, message } = request.value;
    let reply: ControlReply | undefined;
    try {
      if (this.#takeHere(jobId, message)) reply = { type: 'taken' };
    } catch (err) {
      if (!(err instanceof CodeexecError))
        this.#log.error({ job_id: jobId, err }, 'bus control handler failed');
      const refusal = err instanceof CodeexecError ? err : new CodeexecError('internal');
      reply = { type: 'refused', code: refusal.code, message: refusal.message };
    }
    if (reply !== undefined) msg.respond(encode(reply));
  }

  #takeHere(jobId: string, message: ControlMessage): boolean {
    for (const handler of this.#controlHandlers) if (handler(jobId, message)) return true;
    return false;
  }

  /** One pass of this process's wake handlers per event-loop turn, and one wake message at most. */
  #scheduleWake(): void {
    if (this.#wakePending || this.#state === 'closed') return;
    this.#wakePending = true;
    queueMicrotask(() => {
      this.#wakePending = false;
      if (this.#state === 'closed') return;
      if (this.#wakeOthers) {
        this.#wakeOthers = false;
        this.#send(WAKE_SUBJECT, new Uint8Array(0));
      }
      for (const handler of this.#wakeHandlers) this.#guard(handler);
    });
  }

  /** The connection's ups and downs, as nats.js reports them. */
  async #followStatus(): Promise<void> {
    try {
      for await (const status of this.#nc.status()) {
        if (status.type === Events.Disconnect && this.#state === 'connected') {
          this.#log.warn({ server: status.data }, 'bus connection lost; reconnecting');
          this.#setState('reconnecting');
        } else if (status.type === Events.Reconnect && this.#state === 'reconnecting') {
          this.#log.info({ server: status.data, dropped: this.#dropped }, 'bus connection back');
          this.#dropped = 0;
          this.#setState('connected');
          // Wakes sent while it was down were lost: every scheduler takes another look.
          this.wake();
        } else if (status.type === Events.Error) {
          this.#log.warn({ error: status.data }, 'bus server reported an error');
        }
      }
    } catch (err) {
      this.#log.error({ err }, 'bus status stream failed');
    }
  }

  #setState(state: NatsBusState): void {
    if (this.#state === state || this.#state === 'closed') return;
    this.#state = state;
    for (const handler of this.#stateHandlers) this.#guard(() => handler(state));
  }

  #logError(err: Error): void {
    this.#log.warn({ err }, 'bus subscription error');
  }

  /** Runs a callback from nats.js: what it throws would stop the connection's reader. */
  #guard(run: () => void): void {
    try {
      run();
    } catch (err) {
      this.#log.error({ err }, 'bus message handler failed');
    }
  }
}
