// The load of the relay benchmark: one synthetic runner and N client sockets in this process.
// Each client submits one job; once all N are running, the runner sends the jobs' output chunks
// round-robin for a fixed time, then, once the clients have every chunk, the results. The clients
// time every chunk (runner send → client receive). Two paces:
// - `window`: as fast as bounded windows of chunks in flight allow (throughput);
// - `rate`: a fixed number of chunks per second, well below saturation (latency).
import { performance } from 'node:perf_hooks';
import type { ClientToGateway, GatewayToClient } from '../shared/index.js';
import { cpuMs } from './processes.js';
import { closeRawClients, openRawClients, type RawClient } from './raw-client.js';
import { SyntheticRunner, syntheticResult } from './synthetic-runner.js';

export type RelayPace =
  /** At most `perJob` chunks of a job, and `total` in all, sent and not yet received. */
  | { kind: 'window'; perJob: number; total: number }
  /** Chunks per second, all jobs together, sent in 1 ms ticks. */
  | { kind: 'rate'; perSecond: number };

export interface RelayParams {
  /** http://host:port */
  gatewayUrl: string;
  token: string;
  runnerName: string;
  /** Concurrent client sockets, one job each. */
  sockets: number;
  /** How long the runner sends; the chunks still in flight then are awaited, not counted in msgs/s. */
  durationMs: number;
  /** Bytes of `data` in each chunk (a timestamp, then padding). */
  chunkBytes: number;
  pace: RelayPace;
  /** The gateway's pid, for its CPU time while the runner sends. */
  gatewayPid: number;
  timeoutMs: number;
}

export interface RelayResult {
  sockets: number;
  /** Chunks received while the runner was sending, per second. */
  msgsPerSec: number;
  /** Over every chunk. */
  p50Ms: number;
  p99Ms: number;
  /** Chunks the gateway reports it dropped for a slow reader (0: the paces keep buffers small). */
  dropped: number;
  /** The gateway's CPU use while the runner sent (100 = one core), and per chunk received then. */
  gatewayCpuPct: number;
  gatewayUsPerMsg: number;
  /** This process's CPU use (runner and clients): near 100 means the load, not the gateway, limits. */
  loadCpuPct: number;
  /** This process's CPU time per chunk received: below the gateway's, the gateway is what is measured. */
  loadUsPerMsg: number;
}

interface RelayJob {
  id: string;
  sent: number;
  received: number;
  /** In the ready queue (in the window pace: it has room in its window). */
  ready: boolean;
}

/** Output frames written together (one system call), so a timestamp precedes its write by little. */
const BATCH = 32;

const now = (): number => performance.timeOrigin + performance.now();

/** How the gateway writes a chunk of the job every client here runs (its id is `bench`). */
const CHUNK_PREFIX = Buffer.from('{"type":"stdout","id":"bench","seq":');
const CHUNK_DATA = Buffer.from(',"data":"');
const DIGIT_0 = 0x30;
const SPACE = 0x20;

/** The last chunk `readChunk` read (one object, reused: it is read at once). */
const chunkRead = { seq: 0, sentAt: 0 };

/**
 * `{"type":"stdout","id":"bench","seq":<digits>,"data":"<send time> …` read in place: its seq and
 * send time, or null for any other text (which is then parsed as JSON).
 */
function readChunk(buffer: Buffer, start: number, end: number): typeof chunkRead | null {
  let at = start + CHUNK_PREFIX.length;
  if (at > end || buffer.compare(CHUNK_PREFIX, 0, CHUNK_PREFIX.length, start, at) !== 0) return null;
  let seq = 0;
  const digitsAt = at;
  while (at < end) {
    const digit = buffer[at]! - DIGIT_0;
    if (digit < 0 || digit > 9) break;
    seq = seq * 10 + digit;
    at++;
  }
  const timeAt = at + CHUNK_DATA.length;
  if (at === digitsAt || timeAt > end || buffer.compare(CHUNK_DATA, 0, CHUNK_DATA.length, at, timeAt) !== 0) {
    return null;
  }
  const space = buffer.indexOf(SPACE, timeAt);
  if (space < 0 || space >= end) return null;
  chunkRead.seq = seq;
  chunkRead.sentAt = Number(buffer.toString('latin1', timeAt, space));
  return chunkRead;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(p * (sorted.length - 1))]!;
}

export async function relay(params: RelayParams): Promise<RelayResult> {
  const { sockets: n, pace } = params;
  const jobs = new Map<string, RelayJob>();
  const jobOf = (id: string): RelayJob => {
    let job = jobs.get(id);
    if (!job) {
      job = { id, sent: 0, received: 0, ready: false };
      jobs.set(id, job);
    }
    return job;
  };
  const runner = await SyntheticRunner.connect({
    gatewayUrl: params.gatewayUrl,
    token: params.token,
    name: params.runnerName,
    slots: Math.min(1024, Math.max(16, n)),
    onJob: (offered) => void jobOf(offered.id),
  });
  const wsUrl = `${params.gatewayUrl.replace(/^http/, 'ws')}/execute/ws`;
  let socketError: Error | undefined;
  let clients: RawClient[] = [];
  try {
    clients = await openRawClients(wsUrl, n);
    for (const client of clients) {
      client.onError = (err) => {
        socketError ??= err;
      };
    }
  } catch (err) {
    await runner.close();
    throw err;
  }

  const padding = 'x'.repeat(Math.max(0, params.chunkBytes - 18));
  const latencies: number[] = [];
  let sent = 0;
  let received = 0;
  let started = 0;
  let exits = 0;
  let dropped = 0;
  let sending = false;
  let ticker: NodeJS.Timeout | undefined;
  let stopTimer: NodeJS.Timeout | undefined;

  // Jobs that may send, round-robin; `head` walks the array, which is compacted now and then.
  const ready: RelayJob[] = [];
  let head = 0;
  const enqueue = (job: RelayJob): void => {
    if (job.ready || (pace.kind === 'window' && job.sent - job.received >= pace.perJob)) return;
    job.ready = true;
    ready.push(job);
  };
  let t0 = 0;
  /** Chunks that may be sent now. */
  const budget = (): number => {
    if (!sending) return 0;
    if (pace.kind === 'window') return pace.total - (sent - received);
    return Math.floor(((performance.now() - t0) * pace.perSecond) / 1000) - sent;
  };
  const sendGroup = (): void => {
    // One time for the group: its frames go out in one write at its end.
    const data = `${now().toFixed(3)} ${padding}`;
    for (let i = 0; i < BATCH && head < ready.length && budget() > 0; i++) {
      const job = ready[head++]!;
      job.ready = false;
      runner.output(job.id, job.sent++, data);
      sent++;
      enqueue(job);
    }
  };
  let pumpScheduled = false;
  const pump = (): void => {
    pumpScheduled = false;
    while (head < ready.length && budget() > 0) runner.batch(sendGroup);
    if (head === ready.length) {
      ready.length = 0;
      head = 0;
    } else if (head > 4096) {
      ready.splice(0, head);
      head = 0;
    }
  };
  // In the window pace, send after a batch of receives rather than once per chunk received.
  const schedulePump = (): void => {
    if (pumpScheduled || pace.kind === 'rate') return;
    pumpScheduled = true;
    setImmediate(pump);
  };

  let finish: (value: RelayResult) => void = () => {};
  let fail: (err: Error) => void = () => {};
  const finished = new Promise<RelayResult>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const timer = setTimeout(() => {
    fail(
      new Error(
        `relay with ${n} sockets: no end within ${params.timeoutMs} ms (started ${started}/${n}, ` +
          `chunks ${received}/${sent} (missing ones: dropped by the gateway?), exits ${exits}/${n}` +
          `${runner.failure ? `, runner: ${runner.failure.message}` : ''}` +
          `${socketError ? `, socket: ${socketError.message}` : ''})`,
      ),
    );
  }, params.timeoutMs);

  // Accepting N jobs made the gateway write its job store; a request it answers only after that
  // write began (and its synchronous part ran) keeps the write out of the measured time.
  const settled = async (): Promise<void> => {
    const response = await fetch(`${params.gatewayUrl}/execute/health`);
    if (!response.ok) throw new Error(`GET /execute/health answered ${response.status}`);
  };

  let measured: Omit<RelayResult, 'dropped'> | undefined;
  let gatewayCpu0 = 0;
  let loadCpu0 = process.cpuUsage();
  const begin = (): void => {
    sending = true;
    t0 = performance.now();
    gatewayCpu0 = cpuMs(params.gatewayPid);
    loadCpu0 = process.cpuUsage();
    for (const job of jobs.values()) enqueue(job);
    if (pace.kind === 'rate') ticker = setInterval(pump, 1);
    stopTimer = setTimeout(stop, params.durationMs);
    pump();
  };
  // The runner stops sending: what arrived so far is the throughput.
  const stop = (): void => {
    sending = false;
    clearInterval(ticker);
    const seconds = (performance.now() - t0) / 1000;
    const gatewayCpu = cpuMs(params.gatewayPid) - gatewayCpu0;
    const load = process.cpuUsage(loadCpu0);
    measured = {
      sockets: n,
      msgsPerSec: received / seconds,
      p50Ms: Number.NaN,
      p99Ms: Number.NaN,
      gatewayCpuPct: gatewayCpu / seconds / 10,
      gatewayUsPerMsg: (gatewayCpu * 1000) / received,
      loadCpuPct: (load.user + load.system) / 1000 / seconds / 10,
      loadUsPerMsg: (load.user + load.system) / received,
    };
    if (received === sent) drained();
  };
  // Every chunk sent has arrived: now the results (storing results is not relaying).
  const drained = (): void => {
    runner.batch(() => {
      for (const job of jobs.values()) runner.done(job.id, syntheticResult(job.sent));
    });
  };

  /** A chunk arrived for `job`: `seq` must be the next one (no chunk lost, none out of order). */
  const onChunk = (index: number, job: RelayJob | undefined, seq: number, sentAt: number): void => {
    latencies.push(now() - sentAt);
    if (!job || seq !== job.received) {
      fail(new Error(`client ${index}: chunk seq ${seq}, expected ${job?.received} (lost or out of order)`));
      return;
    }
    received++;
    job.received++;
    enqueue(job);
    if (sending) schedulePump();
    else if (received === sent) drained();
  };

  clients.forEach((client, index) => {
    let job: RelayJob | undefined;
    client.onText = (buffer, start, end) => {
      // A chunk as the gateway writes it (client-socket.ts) is read in place: its seq and send
      // time, without decoding or parsing the frame, so that this process costs less per chunk
      // than the gateway it measures. Anything else (or a chunk written otherwise) is parsed.
      const chunk = readChunk(buffer, start, end);
      if (chunk) {
        onChunk(index, job, chunk.seq, chunk.sentAt);
        return;
      }
      const text = buffer.toString('utf8', start, end);
      // Not validated against the schema (valibot on every frame would make this process the
      // bottleneck); the frame's type is checked below.
      const frame = JSON.parse(text) as GatewayToClient;
      switch (frame.type) {
        case 'accepted':
          job = jobOf(frame.job_id);
          return;
        case 'started':
          if (++started === n) void settled().then(begin, fail);
          return;
        case 'stdout':
          onChunk(index, job, frame.seq, Number(frame.data.slice(0, frame.data.indexOf(' '))));
          return;
        case 'exit': {
          if (frame.result.status !== 'done') {
            fail(new Error(`client ${index}: the job ended ${JSON.stringify(frame.result).slice(0, 300)}`));
            return;
          }
          dropped += frame.dropped_chunks;
          if (++exits < n || !measured) return;
          const sorted = Float64Array.from(latencies).sort();
          finish({ ...measured, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), dropped });
          return;
        }
        case 'stderr':
        case 'error':
        case 'gap':
        case 'resumed':
        case 'goaway':
        case 'session_opened':
        case 'session_closed':
        case 'session_files':
          fail(new Error(`client ${index} got ${JSON.stringify(frame)}`));
          return;
        default: {
          const never: never = frame;
          fail(new Error(`client ${index} got an unknown frame ${JSON.stringify(never)}`));
        }
      }
    };
    const execute: ClientToGateway = {
      type: 'execute',
      id: 'bench',
      lang: 'python',
      code: '# bench',
      interactive: false,
    };
    client.send(JSON.stringify(execute));
  });

  try {
    return await finished;
  } finally {
    clearTimeout(timer);
    clearTimeout(stopTimer);
    clearInterval(ticker);
    await closeRawClients(clients);
    await runner.close();
  }
}
