// Noticing chunks that never arrived, for a watcher of a job: a job's output is numbered without
// holes (output-log.ts; a hole the runner's link made is announced as a gap), so a number skipped
// on the way here — a bus that lost messages while its server restarted — is a gap the watcher
// is told of, never a silent one. Pure: fed what the watcher receives, in order.
import type { OutputGap } from '../../shared/index.js';

/** seq = (attempt − 1) × ATTEMPT_SPAN + the runner's chunk number (output-log.ts). */
const ATTEMPT_SPAN = 2 ** 32;

export class SeqGaps {
  /** The seq expected next; null until known (the watcher joined mid-stream, or after a gap to null). */
  #next: number | null = null;

  /** An attempt started: its chunks count from its base. */
  started(attempt: number): void {
    this.#next = (attempt - 1) * ATTEMPT_SPAN;
  }

  /** A gap announced by the job's gateway: the next chunk comes after it. */
  announced(gap: OutputGap): void {
    this.#next = gap.to_seq === null ? null : gap.to_seq + 1;
  }

  /** Chunk `seq` arrived: the chunks skipped before it, or null when none were. */
  arrived(seq: number): OutputGap | null {
    const next = this.#next;
    if (next !== null && seq < next) return null; // a chunk seen already (a replay): no news
    this.#next = seq + 1;
    if (next === null) return null;
    // A later attempt whose start was missed too: its chunks begin at its base.
    const base = Math.floor(seq / ATTEMPT_SPAN) * ATTEMPT_SPAN;
    const from = Math.max(next, base);
    return seq > from ? { from_seq: from, to_seq: seq - 1, reason: 'not_received' } : null;
  }
}
