// What a session_files request runs in the session's container, and how its output is read: GNU
// find (findutils, in every image's Debian base) prints `<size>\t<path>\0` for each regular file
// under /workspace, so any byte a file name may hold (a newline, a tab) is kept apart from the
// next record. Pure: the exec lives in workspace-files.ts.
import { MAX_LISTED_FILES, MAX_LISTED_PATH_CHARS, type WorkspaceFile } from '../../shared/client-protocol.js';
import { WORKSPACE } from '../docker/sandbox-spec.js';

/** How long find may run, seconds (coreutils' timeout ends it with 124). */
export const LISTING_TIME_LIMIT_S = 2;
/** The most output a listing reads, bytes: past it the exec is abandoned and the answer truncated. */
export const LISTING_OUTPUT_CAP = 256 * 1024;
/** timeout's exit code when it ended find for its time. */
export const LISTING_TIMED_OUT = 124;

export interface FileListing {
  /** Sorted by path (UTF-16 code units), at most MAX_LISTED_FILES. */
  files: WorkspaceFile[];
  /** Some files are not listed: more than MAX_LISTED_FILES, or the output was cut short. */
  truncated: boolean;
}

/**
 * argv of the listing: -type f without -L is the entry itself, so a symlink is never listed (nor
 * followed), whatever it points at; -xdev stays on the workspace's tmpfs. find's -printf writes
 * `\t` and `\0` itself (argv cannot hold a NUL).
 */
export function listingArgv(): string[] {
  return [
    'timeout',
    String(LISTING_TIME_LIMIT_S),
    'find',
    WORKSPACE,
    '-xdev',
    '-type',
    'f',
    '-printf',
    '%s\\t%P\\0',
  ];
}

const TAB = 0x09;
const DIGITS = /^\d+$/;

/**
 * The files in find's output. `cut`: the output is not all of it (capped, timed out), so the last
 * record may be partial: a record counts only once its NUL came. Records that do not parse (no
 * tab, a size that is not digits, an empty or overlong path) are skipped. Names are decoded as
 * UTF-8 with U+FFFD for what is not, as the runner decodes program output.
 */
export function parseListing(output: Buffer, cut: boolean): FileListing {
  const files: WorkspaceFile[] = [];
  let start = 0;
  for (let end = output.indexOf(0, start); end !== -1; end = output.indexOf(0, start)) {
    const file = parseRecord(output.subarray(start, end));
    if (file !== null) files.push(file);
    start = end + 1;
  }
  // Bytes after the last NUL: a record cut off (with `cut`), or output that is not find's.
  const partial = start < output.length;
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    files: files.slice(0, MAX_LISTED_FILES),
    truncated: cut || partial || files.length > MAX_LISTED_FILES,
  };
}

function parseRecord(record: Buffer): WorkspaceFile | null {
  const tab = record.indexOf(TAB);
  if (tab <= 0) return null;
  const digits = record.subarray(0, tab).toString('latin1');
  if (!DIGITS.test(digits)) return null;
  const size = Number(digits);
  const path = record.subarray(tab + 1).toString('utf8');
  if (!Number.isSafeInteger(size) || path === '' || path.length > MAX_LISTED_PATH_CHARS) return null;
  return { path, size };
}
