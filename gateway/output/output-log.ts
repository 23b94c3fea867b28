// Every job's output as a numbered sequence the gateway keeps, so a client that lost its link can
// resume after the last chunk it saw (a `resume` frame, or GET /execute/{id}/output as server-sent
// events) and get exactly the rest: none twice, none missing, or a `gap` saying which are gone.
//
// Numbering: a chunk's seq is (attempt − 1) × 2^32 + the runner's own chunk number in that attempt.
// It is the same in every gateway process and across a gateway restart, with no state to persist,
// and it makes chunks the runner produced but never delivered (its link was down) visible as
// missing numbers: the log records them as a gap (`not_received`). A retry's chunks come after the
// previous attempt's, and seq tells them apart.
//
// Memory is bounded: each job's log keeps its newest `maxJobBytes`, and all logs together
// `maxBytes`, finished jobs' logs going first, oldest finished first. A trimmed or evicted part is
// reported to a replay as a gap (`not_retained`), never skipped silently. Pure: plain data in,
// entries out; the dispatcher feeds it, the client socket and the SSE route read it.
import type { OutputGap } from '../../shared/index.js';
import type { OutputEvent } from '../events/job-events.js';

/** How far apart the seq of two attempts' chunks start: an attempt has fewer chunks than this. */
export const ATTEMPT_SPAN = 2 ** 32;

/** A chunk's seq, from its attempt (1, 2, …) and the runner's number for it within the attempt. */
export function outputSeq(attempt: number, runnerSeq: number): number {
  return Math.max(0, attempt - 1) * ATTEMPT_SPAN + runnerSeq;
}

export type OutputEntry = { kind: 'chunk'; event: OutputEvent } | { kind: 'gap'; gap: OutputGap };

/** What a gap entry is taken to weigh (a chunk weighs its text's length). */
const GAP_WEIGHT = 64;
/** Evicted logs remember only where they ended; this many such notes at most. */
const MAX_TOMBSTONES = 100_000;

interface JobLog {
  entries: OutputEntry[];
  /** Entries before this index were trimmed (compacted now and then). */
  head: number;
  bytes: number;
  /** The lowest seq this log can still serve: a replay from before it starts with a gap. */
  knownFrom: number;
  /** The seq the next chunk should have. */
  next: number;
  finished: boolean;
}

export interface OutputLogLimits {
  /** Most text kept per job (its newest); older chunks are trimmed. */
  maxJobBytes: number;
  /** Most text kept for all jobs together; finished jobs' logs are evicted first. */
  maxBytes: number;
}

export class OutputLogs {
  readonly #limits: OutputLogLimits;
  readonly #logs = new Map<string, JobLog>();
  /** Finished jobs' logs in the order they finished: the first evicted. */
  readonly #finished = new Set<string>();
  /** Where an evicted log ended, so a replay can name the gap exactly. */
  readonly #tombstones = new Map<string, number>();
  #bytes = 0;

  constructor(limits: OutputLogLimits) {
    this.#limits = limits;
  }

  /** Text held now, for all jobs (metrics, tests). */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * An attempt starts in this process: its chunks are numbered from its base, and everything it
   * sends from its first chunk on is held. Earlier seqs this log never saw are not retained.
   */
  begin(jobId: string, attempt: number): void {
    const base = outputSeq(attempt, 0);
    const log = this.#logs.get(jobId);
    if (log === undefined) {
      this.#tombstones.delete(jobId);
      this.#logs.set(jobId, { entries: [], head: 0, bytes: 0, knownFrom: base, next: base, finished: false });
      return;
    }
    log.next = Math.max(log.next, base);
  }

  /**
   * A runner's chunk. Returns what its watchers should get, in order: a gap first when the runner's
   * numbers skipped some (lost on its way here), then the chunk with its seq; nothing for a repeat.
   */
  append(
    jobId: string,
    attempt: number,
    chunk: { stream: 'stdout' | 'stderr'; seq: number; data: string },
  ): OutputEntry[] {
    const seq = outputSeq(attempt, chunk.seq);
    const event: OutputEvent = { stream: chunk.stream, seq, data: chunk.data };
    let log = this.#logs.get(jobId);
    if (log === undefined) {
      // Its attempt began in another process (before a restart): what came before is not here.
      log = { entries: [], head: 0, bytes: 0, knownFrom: seq, next: seq, finished: false };
      this.#tombstones.delete(jobId);
      this.#logs.set(jobId, log);
    }
    if (seq < log.next) return [];
    const out: OutputEntry[] = [];
    if (seq > log.next) {
      const gap: OutputEntry = {
        kind: 'gap',
        gap: { from_seq: log.next, to_seq: seq - 1, reason: 'not_received' },
      };
      this.#push(log, gap, GAP_WEIGHT);
      out.push(gap);
    }
    const entry: OutputEntry = { kind: 'chunk', event };
    this.#push(log, entry, chunk.data.length);
    log.next = seq + 1;
    out.push(entry);
    this.#trimJob(log);
    this.#evict();
    return out;
  }

  /** The job ended: its log may now be evicted (oldest finished first) when memory is short. */
  finished(jobId: string): void {
    const log = this.#logs.get(jobId);
    if (log === undefined || log.finished) return;
    log.finished = true;
    this.#finished.add(jobId);
    this.#evict();
  }

  /**
   * Entries after `afterSeq`, as held now: a gap first if some of them are no longer held. Null
   * when this process holds nothing about the job (it restarted, or never saw the job run): the
   * caller knows from the job's record whether output may be missing.
   */
  replay(jobId: string, afterSeq: number): OutputEntry[] | null {
    const from = afterSeq + 1;
    const log = this.#logs.get(jobId);
    if (log === undefined) {
      const end = this.#tombstones.get(jobId);
      if (end === undefined) return null;
      return from < end ? [notRetained(from, end - 1)] : [];
    }
    const out: OutputEntry[] = [];
    if (from < log.knownFrom) out.push(notRetained(from, log.knownFrom - 1));
    for (let i = log.head; i < log.entries.length; i++) {
      const entry = log.entries[i]!;
      if (entry.kind === 'chunk') {
        if (entry.event.seq >= from) out.push(entry);
      } else if (entry.gap.to_seq !== null && entry.gap.to_seq >= from) {
        const clipped = { ...entry.gap, from_seq: Math.max(entry.gap.from_seq, from) };
        out.push({ kind: 'gap', gap: clipped });
      }
    }
    return out;
  }

  /** The seq the job's next chunk would have here (one past the last seen), or null if unknown. */
  nextSeq(jobId: string): number | null {
    return this.#logs.get(jobId)?.next ?? this.#tombstones.get(jobId) ?? null;
  }

  /** The job is gone from the store: nothing about it is kept. */
  forget(jobId: string): void {
    this.#drop(jobId);
    this.#tombstones.delete(jobId);
  }

  #push(log: JobLog, entry: OutputEntry, weight: number): void {
    log.entries.push(entry);
    log.bytes += weight;
    this.#bytes += weight;
  }

  /** Drops the log's oldest entry; what it held is no longer retained. */
  #shift(log: JobLog): void {
    const entry = log.entries[log.head++]!;
    const weight = entry.kind === 'chunk' ? entry.event.data.length : GAP_WEIGHT;
    log.bytes -= weight;
    this.#bytes -= weight;
    const last = entry.kind === 'chunk' ? entry.event.seq : (entry.gap.to_seq ?? log.next - 1);
    log.knownFrom = Math.max(log.knownFrom, last + 1);
    if (log.head > 1024 && log.head * 2 > log.entries.length) {
      log.entries = log.entries.slice(log.head);
      log.head = 0;
    }
  }

  #trimJob(log: JobLog): void {
    while (log.bytes > this.#limits.maxJobBytes && log.head < log.entries.length - 1) this.#shift(log);
  }

  #evict(): void {
    for (const jobId of this.#finished) {
      if (this.#bytes <= this.#limits.maxBytes) return;
      const log = this.#logs.get(jobId)!;
      this.#drop(jobId);
      this.#tombstones.set(jobId, log.next);
      if (this.#tombstones.size > MAX_TOMBSTONES) {
        this.#tombstones.delete(this.#tombstones.keys().next().value!);
      }
    }
    // Only running jobs' logs are left: the largest gives up its oldest entries.
    while (this.#bytes > this.#limits.maxBytes) {
      let largest: JobLog | undefined;
      for (const log of this.#logs.values()) {
        if (largest === undefined || log.bytes > largest.bytes) largest = log;
      }
      if (largest === undefined || largest.head >= largest.entries.length) return;
      this.#shift(largest);
    }
  }

  #drop(jobId: string): void {
    const log = this.#logs.get(jobId);
    if (log === undefined) return;
    this.#bytes -= log.bytes;
    this.#logs.delete(jobId);
    this.#finished.delete(jobId);
  }
}

function notRetained(from: number, to: number | null): OutputEntry {
  return { kind: 'gap', gap: { from_seq: from, to_seq: to, reason: 'not_retained' } };
}
