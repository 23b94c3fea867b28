// The app's log file: the CLI's JSON lines (shared/log.ts), appended synchronously (a few lines a
// minute; nothing lost when the app is killed), and rotated to `<file>.1` past a size so a
// long-running tray app never fills the disk.
import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { createLogger, type LogDestination, type Logger, type LogLevel } from '../shared/log.js';

export const DEFAULT_MAX_LOG_BYTES = 2 * 1024 * 1024;

/** A Logger writing to `file`; each line also to `echo` (stdout in development), if given. */
export function fileLogger(
  file: string,
  options: { maxBytes?: number; echo?: LogDestination; level?: LogLevel } = {},
): Logger {
  return createLogger({ level: options.level ?? 'info', destination: rotatingFile(file, options) });
}

/** Appends each line to `file`, moving it to `<file>.1` first when the line would pass maxBytes. */
export function rotatingFile(
  file: string,
  options: { maxBytes?: number; echo?: LogDestination } = {},
): LogDestination {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_LOG_BYTES;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  let size = sizeOf(file);
  return {
    write(line: string): void {
      options.echo?.write(line);
      const bytes = Buffer.byteLength(line);
      try {
        if (size + bytes > maxBytes && size > 0) {
          renameSync(file, `${file}.1`);
          size = 0;
        }
        appendFileSync(file, line, { mode: 0o600 });
        size += bytes;
      } catch {
        // A full disk or a removed directory must not take the app down; the console still has it.
      }
    },
  };
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
