// GET /execute/{id}/output: a job's output as server-sent events, for clients that cannot keep a
// WebSocket (or would rather not). The same stream a `resume` frame gets — the kept chunks after
// `after_seq` (or the Last-Event-ID an EventSource sends when it reconnects), a gap for any no
// longer kept, then the live rest — and last the result, after which the response ends:
//
//   event: stdout            event: gap                         event: exit
//   id: 12                   data: {"from_seq":3,"to_seq":4,…}  data: {ExecuteResponse}
//   data: {"seq":12,"data":"hello\n"}
//
// A comment line every `heartbeatMs` (the gateway's CODEEXEC_PING_MS, as for sockets) keeps
// proxies from cutting a quiet job's response. A reader that falls more than MAX_BUFFERED_BYTES behind is cut off rather
// than grow our memory: it reconnects with Last-Event-ID and loses nothing.
import { CodeexecError, type JobRecord } from '../../shared/index.js';
import type { Dispatcher } from '../jobs/dispatcher.js';
import type { OutputEntry, OutputLogs } from '../output/output-log.js';
import { replayFor } from '../output/output-replay.js';
import type { HttpRequest, HttpResponse, HttpStream } from '../transport/transport.js';
import { toExecuteResponse } from './routes.js';

/** Past this many bytes unread, the response is ended (the client resumes from its last id). */
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export interface OutputEventsDeps {
  dispatcher: Dispatcher;
  output: OutputLogs;
  /** A comment line this often, so a proxy does not take a quiet job's stream for dead. */
  heartbeatMs: number;
}

/** after_seq from the query, else Last-Event-ID, else -1 (from the start); 400 if malformed. */
export function afterSeqOf(req: HttpRequest): number {
  const raw = req.query.get('after_seq') ?? req.headers['last-event-id'] ?? null;
  if (raw === null || raw.trim() === '') return -1;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < -1) {
    throw new CodeexecError(
      'invalid_request',
      `after_seq (or Last-Event-ID) must be a whole number ≥ -1, got "${raw.slice(0, 40)}"`,
    );
  }
  return value;
}

/** The event-stream response for `job` (already checked to be the caller's). */
export function outputEvents(deps: OutputEventsDeps, job: JobRecord, afterSeq: number): HttpResponse {
  return {
    status: 200,
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // nginx would otherwise buffer the stream and hold events back.
      'x-accel-buffering': 'no',
    },
    body: '',
    stream: (out) => follow(deps, job, afterSeq, out),
  };
}

function follow(deps: OutputEventsDeps, job: JobRecord, afterSeq: number, out: HttpStream): void {
  let sentSeq = afterSeq;
  let unwatch = (): void => {};
  const heartbeat = setInterval(() => write(': keep-alive\n\n'), deps.heartbeatMs);
  const stop = (): void => {
    clearInterval(heartbeat);
    unwatch();
  };
  out.onClose(stop);
  // The head goes out with the first bytes (uWS sends it no sooner): a comment, at once.
  write(`: output of job ${job.id} after seq ${afterSeq}\n\n`);
  function write(text: string): void {
    if (out.closed) return;
    out.write(text);
    if (out.bufferedAmount > MAX_BUFFERED_BYTES) {
      stop();
      out.end();
    }
  }
  const send = (entry: OutputEntry): void => {
    if (entry.kind === 'gap') {
      if (entry.gap.to_seq !== null && entry.gap.to_seq <= sentSeq) return;
      write(`event: gap\ndata: ${JSON.stringify(entry.gap)}\n\n`);
      return;
    }
    const { stream, seq, data } = entry.event;
    if (seq <= sentSeq) return;
    sentSeq = seq;
    write(`event: ${stream}\nid: ${seq}\ndata: ${JSON.stringify({ seq, data })}\n\n`);
  };
  // Replayed and then followed with nothing awaited in between: no chunk falls between the two.
  for (const entry of replayFor(deps.output, job, afterSeq)) send(entry);
  if (out.closed) return;
  unwatch = deps.dispatcher.watch(job.id, {
    output: (event) => send({ kind: 'chunk', event }),
    gap: (gap) => send({ kind: 'gap', gap }),
    end: (ended) => {
      write(`event: exit\ndata: ${JSON.stringify(toExecuteResponse(ended))}\n\n`);
      stop();
      out.end();
    },
  });
}
