// Structured logs through pino: one JSON line per event on stdout, or pino-pretty's lines on a
// terminal. The one file that imports pino and pino-pretty; the rest of the code sees `Logger`.
import pino from 'pino';
import { prettyFactory } from 'pino-pretty';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One level's method, as pino has it: the fields first, then a short, stable message. */
export interface LogFn {
  (msg: string): void;
  (fields: object, msg: string): void;
}

/**
 * What the code logs through; pino's Logger is one. The message is what operators grep and alert
 * on, so it stays fixed: values go in the fields (`job_id`, `runner_id`, `client`, …), and an
 * Error goes under `err` (pino keeps its type, message and stack).
 */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  /** A logger whose every line also carries `bindings` (a job's, a runner's). */
  child(bindings: Record<string, unknown>): Logger;
}

/** Where the lines go, one write per line (tests capture them; the desktop app rotates a file). */
export interface LogDestination {
  write(line: string): void;
}

export interface LoggerOptions {
  level: LogLevel;
  /** pino-pretty's lines for a person at a terminal, instead of JSON. */
  pretty?: boolean;
  /** Default: stdout, written synchronously (nothing lost when the process exits). */
  destination?: LogDestination;
}

export function createLogger(options: LoggerOptions): Logger {
  const sink = options.destination ?? pino.destination({ dest: 1, sync: true });
  if (options.pretty) {
    // Each line prettified in this thread as it is written, not by a transport's worker: lines
    // come out in order with whatever else the process prints, and none is lost on exit.
    const prettify = prettyFactory({ translateTime: 'SYS:HH:MM:ss.l' });
    return pino({ level: options.level, base: null }, { write: (line) => sink.write(prettify(line)) });
  }
  return pino(
    {
      level: options.level,
      // No pid and hostname on every line: runner_id and the process's own output say where.
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    sink,
  );
}

const ignore = () => {};

/** Drops everything (tests, benchmarks, embedders that log nothing). */
export const silentLogger: Logger = {
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
  child: () => silentLogger,
};

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/**
 * The logger options of the environment: CODEEXEC_LOG_LEVEL (default info), and
 * CODEEXEC_LOG_FORMAT `json` or `pretty` (default: pretty when stdout is a terminal, else JSON).
 * Throws an Error naming the variable that is wrong.
 */
export function logOptionsFromEnv(
  env: Record<string, string | undefined>,
  terminal: boolean,
): { level: LogLevel; pretty: boolean } {
  const level = env.CODEEXEC_LOG_LEVEL?.trim() || 'info';
  if (!isLogLevel(level)) {
    throw new Error(`CODEEXEC_LOG_LEVEL must be debug, info, warn or error, not "${level}"`);
  }
  const format = env.CODEEXEC_LOG_FORMAT?.trim() || (terminal ? 'pretty' : 'json');
  if (format !== 'json' && format !== 'pretty') {
    throw new Error(`CODEEXEC_LOG_FORMAT must be json or pretty, not "${format}"`);
  }
  return { level, pretty: format === 'pretty' };
}
