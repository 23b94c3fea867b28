// The app's log file: one JSON line per event (the CLI's format), appended synchronously (a few
// lines a minute; nothing lost when the app is killed), and rotated to `<file>.1` past a size so
// a long-running tray app never fills the disk.
import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../shared/log.js';

export const DEFAULT_MAX_LOG_BYTES = 2 * 1024 * 1024;

/** A Logger writing to `file`; also to `echo` (the console in development), if given. */
export function fileLogger(
  file: string,
  options: { maxBytes?: number; echo?: Logger; now?: () => Date } = {},
): Logger {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_LOG_BYTES;
  const now = options.now ?? (() => new Date());
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  let size = sizeOf(file);
  return (level, message, fields) => {
    options.echo?.(level, message, fields);
    const line = `${JSON.stringify({ time: now().toISOString(), level, message, ...fields })}\n`;
    try {
      if (size + line.length > maxBytes && size > 0) {
        renameSync(file, `${file}.1`);
        size = 0;
      }
      appendFileSync(file, line, { mode: 0o600 });
      size += Buffer.byteLength(line);
    } catch {
      // A full disk or a removed directory must not take the app down; the console still has it.
    }
  };
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
