// Reads the files a program left in /workspace/out from the tar the stage script streams out of the
// sandbox. Only bytes are parsed here: nothing host-side opens a path, and the archive is treated
// as hostile. Kept: regular files under `out/` with safe names, up to the caps. Skipped: symlinks,
// hardlinks, devices, fifos, directories, names with `..`, control characters or invalid UTF-8.
import { extract, type Header } from 'tar-stream';
import type { OutputFile } from '../../shared/job.js';
import { OUTPUT_FILE_LIMITS } from '../../shared/limits.js';
import { fileNameProblem } from './file-name.js';

export type OutputFileCaps = { readonly [K in keyof typeof OUTPUT_FILE_LIMITS]: number };

const PREFIX = 'out/';
const FINISH_GUARD_MS = 2000;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The name relative to out/, or null when the entry must be skipped for its name. */
export function outputFileName(rawName: string): string | null {
  // Names are read as latin1 (byte for byte) so invalid UTF-8 is seen here, not replaced by U+FFFD.
  let name: string;
  try {
    name = utf8.decode(Buffer.from(rawName, 'latin1'));
  } catch {
    return null;
  }
  if (!name.startsWith(PREFIX)) return null;
  const relative = name.slice(PREFIX.length);
  return fileNameProblem(relative) === null ? relative : null;
}

interface FileInProgress {
  name: string;
  size: number;
  parts: Buffer[];
  kept: number;
}

export class OutputFilesCollector {
  private readonly caps: OutputFileCaps;
  // filenameEncoding is an option tar-stream reads but its types do not declare.
  private readonly reader = extract({ filenameEncoding: 'latin1' } as Parameters<typeof extract>[0]);
  private readonly files: OutputFile[] = [];
  private readonly names = new Set<string>();
  private current: FileInProgress | null = null;
  private received = 0;
  private keptTotal = 0;
  private readonly closed: Promise<void>;

  constructor(caps: OutputFileCaps = OUTPUT_FILE_LIMITS) {
    this.caps = caps;
    this.closed = new Promise((resolve) => {
      this.reader.on('close', () => resolve());
    });
    // A cut or forged archive ends the parse; what was read so far is kept.
    this.reader.on('error', () => {});
    this.reader.on('entry', (header, stream, next) => {
      stream.on('error', () => {});
      const file = this.start(header);
      if (file === null) {
        // Drained unread. next() at once, not on 'end': a forged directory entry with a size never
        // ends, and waiting for it would stall the parse for good.
        stream.resume();
        queueMicrotask(() => next());
        return;
      }
      stream.on('data', (data) => this.keep(file, data as Buffer));
      stream.on('end', () => {
        this.done(file);
        next();
      });
    });
  }

  /** Take the next bytes of the archive; past archive_bytes they are dropped unread. */
  push(chunk: Buffer): void {
    const room = this.caps.archive_bytes - this.received;
    if (room <= 0) return;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.received += part.length;
    this.reader.write(part);
  }

  /** The archive ended (or was cut): the files read, in name order. */
  async finish(): Promise<OutputFile[]> {
    // The parser hands an entry's bytes on in microtasks; ending it before they are out would drop
    // the part of a cut-off file that did arrive. setImmediate runs after every queued microtask.
    await new Promise((resolve) => setImmediate(resolve));
    this.reader.end(null);
    // Defence in depth against a parser stall on hostile input: the bytes are all here, so parsing
    // them never legitimately takes long; a stalled parse gives up with what it has.
    const guard = setTimeout(() => this.reader.destroy(), FINISH_GUARD_MS);
    await this.closed;
    clearTimeout(guard);
    // An entry cut off by the end of the stream comes back with what arrived of it.
    if (this.current !== null) this.done(this.current);
    return [...this.files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private start(header: Header): FileInProgress | null {
    if (header.type !== 'file') return null;
    const name = outputFileName(header.name);
    if (name === null || this.names.has(name) || this.names.size >= this.caps.files) return null;
    this.names.add(name);
    this.current = { name, size: header.size, parts: [], kept: 0 };
    return this.current;
  }

  private keep(file: FileInProgress, data: Buffer): void {
    const room = Math.min(this.caps.file_bytes - file.kept, this.caps.total_bytes - this.keptTotal);
    if (room <= 0) return;
    const part = data.length > room ? data.subarray(0, room) : data;
    // Copied: the parser's chunk may be a view of a much larger buffer.
    file.parts.push(Buffer.from(part));
    file.kept += part.length;
    this.keptTotal += part.length;
  }

  private done(file: FileInProgress): void {
    if (this.current === file) this.current = null;
    this.files.push({
      name: file.name,
      content: Buffer.concat(file.parts).toString('base64'),
      size: file.size,
      truncated: file.kept < file.size,
    });
  }
}
