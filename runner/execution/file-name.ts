// The one rule for a file name that crosses the sandbox boundary, in either direction: a relative
// path that can only ever mean a place inside /workspace, and that prints as itself.
import { INPUT_FILE_LIMITS } from '../../shared/limits.js';

// C0 controls (NUL, newline, tab, escape, …) and DEL: a name with one is never what it looks like.
const CONTROL = /[\u0000-\u001f\u007f]/;
// A lone UTF-16 surrogate cannot be written as UTF-8: the name on disk would differ from the request's.
const LONE_SURROGATE = /\p{Cs}/u;

/** Why `name` is not a safe relative file name, or null when it is. */
export function fileNameProblem(name: string): string | null {
  if (name.length === 0) return 'is empty';
  if (Buffer.byteLength(name, 'utf8') > INPUT_FILE_LIMITS.name_bytes) {
    return `is longer than ${INPUT_FILE_LIMITS.name_bytes} bytes`;
  }
  if (CONTROL.test(name)) return 'contains a control character (NUL, newline, …)';
  if (LONE_SURROGATE.test(name)) return 'is not valid Unicode';
  if (name.includes('\\')) return 'contains a backslash';
  if (name.startsWith('/')) return 'is an absolute path';
  const segments = name.split('/');
  if (segments.length > INPUT_FILE_LIMITS.depth) return `is deeper than ${INPUT_FILE_LIMITS.depth} levels`;
  if (segments.includes('..')) return 'contains a `..` segment';
  if (segments.some((part) => part === '' || part === '.')) return 'contains an empty or `.` segment';
  return null;
}

export function isSafeFileName(name: string): boolean {
  return fileNameProblem(name) === null;
}
