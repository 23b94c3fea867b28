// Splits a stage's stdout into the program's output and the trailer the stage's waiter appends once
// the program ended (stage-command.ts): a marker, the end record (exit code or signal, CPU time),
// then a tar of /workspace/out when one follows. The marker is random per job, so no program writes
// it by accident; one that writes it on purpose only garbles its own result: what follows is read
// as its end record and an untrusted tar, which say no more than it could have done itself.
import type { ProgramEnd } from './end-reason.js';

/** `x CODE CPU_MS F` or `s SIGNAL CPU_MS F`, F `f` (a tar follows) or `-`. */
const RECORD = /^([xs]) (\d{1,3}) (\d{1,15}) ([f-])$/;
/** A record is far shorter; past this without a newline it is not one. */
const MAX_RECORD_BYTES = 64;

/** The end record's text, read; null when it is not one. */
export function parseEndRecord(line: string): { end: ProgramEnd; files: boolean } | null {
  const match = RECORD.exec(line);
  if (match === null) return null;
  const [, kind, number, cpu, files] = match;
  const n = Number(number);
  const cpuMs = Number(cpu);
  if (kind === 's' && (n < 1 || n > 64)) return null;
  if (kind === 'x' && n > 255) return null;
  const end: ProgramEnd =
    kind === 's' ? { exited: null, signal: n, cpuMs } : { exited: n, signal: null, cpuMs };
  return { end, files: files === 'f' };
}

export class StdoutTrailer {
  private readonly marker: Buffer;
  private readonly onProgram: (data: Buffer) => boolean;
  private readonly onArchive: (data: Buffer) => void;
  /** The end of the last chunk, when it could be the start of the marker: not the program's yet. */
  private held: Buffer = Buffer.alloc(0);
  /** program: before the marker; record: reading the end record; archive/after: past it. */
  private state: 'program' | 'record' | 'archive' | 'after' = 'program';
  private record = '';
  private parsed: { end: ProgramEnd; files: boolean } | null = null;

  /**
   * onProgram gets the program's bytes (live, held back only while they could be the marker's start)
   * and returns false past the output cap; onArchive gets the tar that follows the end record.
   */
  constructor(marker: string, onProgram: (data: Buffer) => boolean, onArchive: (data: Buffer) => void) {
    this.marker = Buffer.from(marker, 'utf8');
    this.onProgram = onProgram;
    this.onArchive = onArchive;
  }

  /** How the program ended, as the waiter reported it; null until (or unless) a valid record came. */
  get programEnd(): ProgramEnd | null {
    return this.parsed?.end ?? null;
  }

  /** Whether a tar of /workspace/out followed the end record. */
  get filesFollow(): boolean {
    return this.parsed?.files === true;
  }

  /** Take a chunk of stdout. Returns false once the program's part went past its cap. */
  push(data: Buffer): boolean {
    if (this.state === 'archive') {
      this.onArchive(data);
      return true;
    }
    // Output of the program's background processes, written after it ended, when no tar follows.
    if (this.state === 'after') return this.onProgram(data);
    if (this.state === 'record') return this.pushRecord(data);
    const buf = this.held.length === 0 ? data : Buffer.concat([this.held, data]);
    this.held = Buffer.alloc(0);
    const at = buf.indexOf(this.marker);
    if (at >= 0) {
      this.state = 'record';
      const ok = at === 0 || this.onProgram(buf.subarray(0, at));
      const rest = buf.subarray(at + this.marker.length);
      return (rest.length === 0 || this.pushRecord(rest)) && ok;
    }
    const keep = this.partialMarkerAtEnd(buf);
    // Copied, so a large chunk is not kept alive by its last few bytes.
    if (keep > 0) this.held = Buffer.from(buf.subarray(buf.length - keep));
    return keep === buf.length || this.onProgram(buf.subarray(0, buf.length - keep));
  }

  /** The stream ended: bytes held back were the program's after all. */
  end(): boolean {
    const rest = this.held;
    this.held = Buffer.alloc(0);
    return rest.length === 0 || this.onProgram(rest);
  }

  private pushRecord(data: Buffer): boolean {
    const newline = data.indexOf(0x0a);
    const part = newline >= 0 ? data.subarray(0, newline) : data;
    this.record += part.toString('latin1');
    if (newline < 0 && this.record.length <= MAX_RECORD_BYTES) return true;
    this.parsed = newline >= 0 ? parseEndRecord(this.record) : null;
    this.state = this.filesFollow ? 'archive' : 'after';
    const rest = newline >= 0 ? data.subarray(newline + 1) : Buffer.alloc(0);
    return rest.length === 0 || this.push(rest);
  }

  /** Length of the longest proper prefix of the marker that `buf` ends with. */
  private partialMarkerAtEnd(buf: Buffer): number {
    for (let k = Math.min(this.marker.length - 1, buf.length); k > 0; k--) {
      if (buf.subarray(buf.length - k).equals(this.marker.subarray(0, k))) return k;
    }
    return 0;
  }
}
