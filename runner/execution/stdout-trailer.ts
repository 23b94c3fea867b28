// Splits the run stage's stdout into the program's output and the trailer the stage script appends
// after the program ended (a marker, then a tar of /workspace/out). The marker is random per job, so
// no program writes it by accident; one that writes it on purpose only garbles its own result: what
// follows is parsed as an untrusted tar, the same bytes it could have written to out/ anyway.

export class StdoutTrailer {
  private readonly marker: Buffer;
  private readonly onProgram: (data: Buffer) => boolean;
  private readonly onTrailer: (data: Buffer) => void;
  /** The end of the last chunk, when it could be the start of the marker: not the program's yet. */
  private held: Buffer = Buffer.alloc(0);
  private found = false;

  /**
   * onProgram gets the program's bytes (live, held back only while they could be the marker's start)
   * and returns false past the output cap; onTrailer gets every byte after the marker.
   */
  constructor(marker: string, onProgram: (data: Buffer) => boolean, onTrailer: (data: Buffer) => void) {
    this.marker = Buffer.from(marker, 'utf8');
    this.onProgram = onProgram;
    this.onTrailer = onTrailer;
  }

  /** Whether the marker came: the program ended by itself and /workspace/out existed. */
  get seen(): boolean {
    return this.found;
  }

  /** Take a chunk of stdout. Returns false once the program's part went past its cap. */
  push(data: Buffer): boolean {
    if (this.found) {
      this.onTrailer(data);
      return true;
    }
    const buf = this.held.length === 0 ? data : Buffer.concat([this.held, data]);
    this.held = Buffer.alloc(0);
    const at = buf.indexOf(this.marker);
    if (at >= 0) {
      this.found = true;
      const ok = at === 0 || this.onProgram(buf.subarray(0, at));
      const rest = buf.subarray(at + this.marker.length);
      if (rest.length > 0) this.onTrailer(rest);
      return ok;
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

  /** Length of the longest proper prefix of the marker that `buf` ends with. */
  private partialMarkerAtEnd(buf: Buffer): number {
    for (let k = Math.min(this.marker.length - 1, buf.length); k > 0; k--) {
      if (buf.subarray(buf.length - k).equals(this.marker.subarray(0, k))) return k;
    }
    return 0;
  }
}
