// The job store's append-only journal: one JSON line per change since the last snapshot, read back
// on open (a torn last line dropped, any other bad line refused) and appended a batch at a time.
import { type FileHandle, open, readFile, truncate } from 'node:fs/promises';
import * as v from 'valibot';
import { describeIssues, JobRecordSchema } from '../../shared/index.js';
import { writeAll } from './fs-sync.js';
import { StoreCorruptError } from './store-errors.js';

/** A line: a job's whole record as it now is, or its removal. Replaying either twice is harmless. */
export const JournalEntrySchema = v.variant('op', [
  v.strictObject({ op: v.literal('put'), job: JobRecordSchema }),
  v.strictObject({ op: v.literal('del'), id: v.string() }),
]);
export type JournalEntry = v.InferOutput<typeof JournalEntrySchema>;

export function journalLine(entry: JournalEntry): string {
  return `${JSON.stringify(entry)}\n`;
}

export interface JournalContents {
  entries: JournalEntry[];
  /** Bytes up to the end of the last whole line: where the next append must start. */
  goodBytes: number;
  /** Bytes after it: a line cut short by a crash mid-append, ignored. */
  tornBytes: number;
}

/** Reads a journal; null when there is none. Every whole line must be a valid entry. */
export async function readJournal(file: string): Promise<JournalContents | null> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  // An append that was cut short (kill -9 mid-write, power loss) can only leave an unterminated
  // last line: only that is forgiven. '\n' never occurs inside a multi-byte UTF-8 character.
  const goodBytes = bytes.lastIndexOf(0x0a) + 1;
  const lines = bytes.toString('utf8', 0, goodBytes).split('\n');
  lines.pop(); // the empty string after the final '\n'
  const entries = lines.map((line, i) => parseLine(file, i + 1, line));
  return { entries, goodBytes, tornBytes: bytes.length - goodBytes };
}

function parseLine(file: string, number: number, line: string): JournalEntry {
  const refuse = (problem: string) =>
    new StoreCorruptError(
      `${file} line ${number} ${problem}. Refusing to start: a damaged line before the last is not ` +
        'a torn write; repair or move the journal away (losing its changes), then start again.',
    );
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (err) {
    throw refuse(`is not valid JSON (${(err as Error).message})`);
  }
  const parsed = v.safeParse(JournalEntrySchema, json);
  if (!parsed.success) {
    const problems = describeIssues(parsed.issues)
      .slice(0, 3)
      .map((p) => `${p.path}: ${p.message}`);
    throw refuse(`is not a journal entry (${problems.join('; ')})`);
  }
  return parsed.output;
}

/** The journal open for appending. One append at a time (the store's writer loop sees to it). */
export class JournalWriter {
  readonly #handle: FileHandle;
  readonly #fsync: boolean;
  #bytes: number;

  private constructor(handle: FileHandle, fsync: boolean, bytes: number) {
    this.#handle = handle;
    this.#fsync = fsync;
    this.#bytes = bytes;
  }

  /**
   * Opens (creating) the journal to append after its first `goodBytes`: a torn tail is cut off
   * first, or the next append would turn it into a damaged line in the middle.
   */
  static async open(file: string, options: { fsync: boolean; goodBytes: number }): Promise<JournalWriter> {
    await truncate(file, options.goodBytes).catch(ignoreMissing);
    // O_APPEND: every write lands at the end, whatever any position says.
    const handle = await open(file, 'a');
    return new JournalWriter(handle, options.fsync, options.goodBytes);
  }

  /** Bytes in the journal. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Appends whole lines. Resolves once written (and, with fsync, on the disk). */
  async append(text: string): Promise<void> {
    const buffer = Buffer.from(text, 'utf8');
    await writeAll(this.#handle, buffer);
    this.#bytes += buffer.length;
    // fdatasync, not fsync: the data and the size, without timestamps nobody reads back.
    if (this.#fsync) await this.#handle.datasync();
  }

  close(): Promise<void> {
    return this.#handle.close();
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
