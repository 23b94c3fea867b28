// Tiny jobs (one chunk each): what each job costs the gateway besides the relay (storing it, the
// durable write before the offer, the offer, the result). One rig serves both drivers below:
// synthetic runners that answer every offer at once (accept, one chunk, a result), and client
// sockets on /execute/ws that submit jobs and time each one, execute → exit.
// - `tinyJobs`: a fixed number of jobs, a fixed number in flight per socket, one gateway
//   (bench/gateway.ts);
// - `timedJobs`: a timed window that starts at a wall-clock time shared by several load processes,
//   runners and sockets each on one of several gateways, closed-loop or at a fixed rate
//   (bench/gateways.ts).
import { performance } from 'node:perf_hooks';
import type { WebSocket } from 'ws';
import { type ClientToGateway, type GatewayToClient, MAX_JOBS_PER_SOCKET } from '../shared/index.js';
import { closeSockets, openSockets } from './client-sockets.js';
import { SyntheticRunner, syntheticResult } from './synthetic-runner.js';

export interface TinyJobsParams {
  gatewayUrl: string;
  token: string;
  runnerName: string;
  sockets: number;
  /** Unfinished jobs per socket at once (at most the gateway's MAX_JOBS_PER_SOCKET). */
  perSocket: number;
  jobs: number;
  timeoutMs: number;
}

export interface TinyJobsResult {
  jobs: number;
  seconds: number;
  jobsPerSec: number;
}

export interface TimedJobsParams {
  token: string;
  /** This process's synthetic runners, each connected to one gateway (a base URL). */
  runners: { name: string; gatewayUrl: string; slots: number }[];
  /** This process's client sockets: the gateway (base URL) of each. */
  sockets: string[];
  /**
   * `closed`: each socket keeps `perSocket` jobs unfinished (a new one as each ends). `rate`: this
   * many jobs a second from this process, round-robin over its sockets (one without room is
   * skipped; when none has room the job waits for the next tick, and `deferred` counts it).
   */
  pace: { kind: 'closed'; perSocket: number } | { kind: 'rate'; perSecond: number };
  /** Wall-clock time (ms since the epoch) to start submitting: the same in every load process. */
  startAt: number;
  /** Jobs that end before startAt + warmupMs are not counted (code gets compiled, pools fill). */
  warmupMs: number;
  /** The measured window after the warm-up; no job is submitted after it. */
  durationMs: number;
  timeoutMs: number;
}

export interface TimedJobsResult {
  /** Jobs that ended `done` within the window. */
  ended: number;
  /** Jobs that ended `done` in the whole run: warm-up, window and the unfinished ones after it. */
  endedAll: number;
  /** The same, per gateway base URL. */
  endedPerGateway: Record<string, number>;
  /** Execute → exit, of each job counted in `ended`. */
  latenciesMs: number[];
  /** Jobs that ended otherwise (an error frame, or an exit not `done`), anywhere in the run. */
  failed: number;
  firstFailure: string | null;
  /** How late this process was ready after `startAt` (0: in time). */
  lateMs: number;
  /** Times a job was due and every socket had MAX_JOBS_PER_SOCKET unfinished (rate pace only). */
  deferred: number;
}

/** Wall-clock milliseconds, comparable across processes on one machine. */
const now = (): number => performance.timeOrigin + performance.now();

interface RigSocket {
  ws: WebSocket;
  gatewayUrl: string;
  /** Jobs submitted on it and not ended. */
  inFlight: number;
}

/** A job of this rig that ended (`job` false: an error about the socket, not one of its jobs). */
type JobEnd = { socket: RigSocket; job: boolean; latencyMs: number; endedAt: number; failure: string | null };

/** The runners and sockets of one load process; `onEnd` hears of every job that ends. */
class TinyJobRig {
  readonly runners: SyntheticRunner[];
  readonly sockets: RigSocket[];
  /** Jobs submitted and not ended, by the id this process gave them: when each was submitted. */
  readonly #submitted = new Map<string, number>();
  #next = 0;

  private constructor(runners: SyntheticRunner[], sockets: RigSocket[]) {
    this.runners = runners;
    this.sockets = sockets;
  }

  static async open(
    token: string,
    runners: TimedJobsParams['runners'],
    socketUrls: string[],
    onEnd: (end: JobEnd) => void,
  ): Promise<TinyJobRig> {
    const result = syntheticResult(1);
    const connected: SyntheticRunner[] = [];
    const sockets: RigSocket[] = [];
    try {
      for (const spec of runners) {
        const runner: SyntheticRunner = await SyntheticRunner.connect({
          gatewayUrl: spec.gatewayUrl,
          token,
          name: spec.name,
          slots: spec.slots,
          onJob: (job) => {
            runner.output(job.id, 0, 'x\n');
            runner.done(job.id, result);
          },
        });
        connected.push(runner);
      }
      const byGateway = new Map<string, number>();
      for (const url of socketUrls) byGateway.set(url, (byGateway.get(url) ?? 0) + 1);
      for (const [url, count] of byGateway) {
        const opened = await openSockets(`${url.replace(/^http/, 'ws')}/execute/ws`, count);
        for (const ws of opened) sockets.push({ ws, gatewayUrl: url, inFlight: 0 });
      }
    } catch (err) {
      await closeSockets(sockets.map((socket) => socket.ws));
      await Promise.all(connected.map((runner) => runner.close()));
      throw err;
    }
    const rig = new TinyJobRig(connected, sockets);
    for (const socket of sockets) {
      socket.ws.on('message', (raw) => {
        const frame = JSON.parse(raw.toString()) as GatewayToClient;
        if (frame.type !== 'exit' && frame.type !== 'error') return;
        const submittedAt = frame.id === null ? undefined : rig.#submitted.get(frame.id);
        const failure =
          frame.type === 'error' || frame.result.status !== 'done'
            ? JSON.stringify(frame).slice(0, 300)
            : null;
        if (submittedAt === undefined) {
          // Not one of this rig's unfinished jobs (an error about the socket itself).
          if (failure !== null) onEnd({ socket, job: false, latencyMs: Number.NaN, endedAt: now(), failure });
          return;
        }
        rig.#submitted.delete(frame.id!);
        socket.inFlight--;
        const endedAt = now();
        onEnd({ socket, job: true, latencyMs: endedAt - submittedAt, endedAt, failure });
      });
    }
    return rig;
  }

  get unfinished(): number {
    return this.#submitted.size;
  }

  submit(socket: RigSocket): void {
    const id = `t${this.#next++}`;
    const frame: ClientToGateway = {
      type: 'execute',
      id,
      lang: 'python',
      code: '# bench',
      interactive: false,
    };
    this.#submitted.set(id, now());
    socket.inFlight++;
    socket.ws.send(JSON.stringify(frame));
  }

  /** The first runner that failed (the gateway sent an error, or closed it). */
  get runnerFailure(): Error | undefined {
    return this.runners.find((runner) => runner.failure)?.failure;
  }

  async close(): Promise<void> {
    await closeSockets(this.sockets.map((socket) => socket.ws));
    await Promise.all(this.runners.map((runner) => runner.close()));
  }
}

export async function tinyJobs(params: TinyJobsParams): Promise<TinyJobsResult> {
  let submitted = 0;
  let ended = 0;
  let t0 = 0;
  let settle: { resolve: (result: TinyJobsResult) => void; reject: (err: Error) => void } | undefined;
  const outcome = new Promise<TinyJobsResult>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const submit = (socket: RigSocket): void => {
    if (submitted >= params.jobs) return;
    submitted++;
    rig.submit(socket);
  };
  const rig = await TinyJobRig.open(
    params.token,
    [
      {
        name: params.runnerName,
        gatewayUrl: params.gatewayUrl,
        slots: Math.min(1024, params.sockets * params.perSocket),
      },
    ],
    Array.from({ length: params.sockets }, () => params.gatewayUrl),
    ({ socket, failure }) => {
      if (failure !== null) {
        settle?.reject(new Error(`tiny jobs: ${failure}`));
        return;
      }
      if (++ended === params.jobs) {
        const seconds = (performance.now() - t0) / 1000;
        settle?.resolve({ jobs: ended, seconds, jobsPerSec: ended / seconds });
        return;
      }
      submit(socket);
    },
  );
  const timer = setTimeout(
    () => settle?.reject(new Error(`tiny jobs: ${ended}/${params.jobs} ended within ${params.timeoutMs} ms`)),
    params.timeoutMs,
  );
  try {
    t0 = performance.now();
    for (const socket of rig.sockets) for (let i = 0; i < params.perSocket; i++) submit(socket);
    return await outcome;
  } finally {
    clearTimeout(timer);
    await rig.close();
  }
}

/**
 * Runs the window; resolves once every job this process submitted has ended. Its runners stay
 * connected until `close` is called: they serve the jobs of other load processes' sockets on the
 * same gateway too, so they may go only once every load process is done.
 */
export async function timedJobs(
  params: TimedJobsParams,
): Promise<{ result: TimedJobsResult; close: () => Promise<void> }> {
  const result: TimedJobsResult = {
    ended: 0,
    endedAll: 0,
    endedPerGateway: {},
    latenciesMs: [],
    failed: 0,
    firstFailure: null,
    lateMs: 0,
    deferred: 0,
  };
  const from = params.startAt + params.warmupMs;
  const until = from + params.durationMs;
  const closed = params.pace.kind === 'closed' ? params.pace.perSocket : 0;
  let drained: (() => void) | undefined;
  const rig = await TinyJobRig.open(params.token, params.runners, params.sockets, (end) => {
    if (end.failure !== null) {
      result.failed++;
      result.firstFailure ??= end.failure;
    } else if (end.job) result.endedAll++;
    if (end.failure === null && end.endedAt >= from && end.endedAt < until) {
      result.ended++;
      result.endedPerGateway[end.socket.gatewayUrl] =
        (result.endedPerGateway[end.socket.gatewayUrl] ?? 0) + 1;
      result.latenciesMs.push(end.latencyMs);
    }
    if (end.job && closed > 0 && now() < until) rig.submit(end.socket);
    if (drained && rig.unfinished === 0) drained();
  });
  try {
    const wait = params.startAt - now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    result.lateMs = Math.max(0, now() - params.startAt);
    if (params.pace.kind === 'closed') {
      for (const socket of rig.sockets) for (let i = 0; i < closed; i++) rig.submit(socket);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - now())));
    } else {
      await paced(rig, params.pace.perSecond, until, result);
    }
    // The window is over: nothing more is submitted; wait for what is still unfinished.
    if (rig.unfinished > 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(`timed jobs: ${rig.unfinished} unfinished ${params.timeoutMs} ms after the window`),
            ),
          params.timeoutMs,
        );
        drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const failure = rig.runnerFailure;
    if (failure) throw failure;
  } catch (err) {
    await rig.close();
    throw err;
  }
  return { result, close: () => rig.close() };
}

/** Submits `perSecond` jobs a second until `until`, in 1 ms ticks, round-robin over the sockets. */
async function paced(rig: TinyJobRig, perSecond: number, until: number, result: TimedJobsResult) {
  const begin = now();
  let submitted = 0;
  let next = 0;
  while (now() < until) {
    const due = Math.floor(((now() - begin) * perSecond) / 1000) - submitted;
    for (let i = 0; i < due; i++) {
      let socket: RigSocket | undefined;
      for (let tried = 0; tried < rig.sockets.length && socket === undefined; tried++) {
        const candidate = rig.sockets[next++ % rig.sockets.length]!;
        if (candidate.inFlight < MAX_JOBS_PER_SOCKET) socket = candidate;
      }
      if (socket === undefined) {
        result.deferred++;
        break;
      }
      rig.submit(socket);
      submitted++;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
