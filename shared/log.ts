// A tiny structured logger: one line per event, so operators can grep and machines can parse.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

export const consoleLogger: Logger = (level, message, fields) => {
  const line = JSON.stringify({ time: new Date().toISOString(), level, message, ...fields });
  (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(`${line}\n`);
};

export const silentLogger: Logger = () => {};

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function isLogLevel(value: string): value is LogLevel {
  return Object.hasOwn(RANK, value);
}

/** `logger`, keeping only lines at `min` or above. */
export function atLevel(logger: Logger, min: LogLevel): Logger {
  return (level, message, fields) => {
    if (RANK[level] >= RANK[min]) logger(level, message, fields);
  };
}
