// How a failure of the PostgreSQL client becomes a StoreError: a database that cannot be reached,
// is shutting down or did not answer in time is `unavailable` (worth retrying later); anything
// else the server refused is `database_error`. The store's own guards (StoreError) pass through.
import { StoreError } from '../store-errors.js';

/** Socket errors of a server that is down, unreachable or gone mid-conversation. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENOENT', // a Unix socket that is not there
]);

/**
 * SQLSTATEs of a server that cannot serve now: class 08 (connection exception), 57P01–57P03
 * (shutting down, crashed, starting up) and 53300 (too many connections).
 */
const UNAVAILABLE_STATE = /^(08...|57P0[123]|53300)$/;

/** pg's own failures carry no code, only these messages (pg 8: client.js, pg-pool). */
const CLIENT_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|not queryable/;

/** The SQLSTATE of a server error (`23505` a unique violation…), or undefined. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // Node gives an AggregateError when every address of a host refused.
  if (err instanceof AggregateError && err.errors.length > 0 && err.errors.every(isUnavailable)) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  const state = sqlState(err);
  if (state !== undefined) return UNAVAILABLE_STATE.test(state);
  return CLIENT_MESSAGES.test(err.message);
}

/**
 * The StoreError for a failure while `doing` something with the database `where` (a URL without
 * its password). A StoreError passes through unchanged.
 */
export function storeErrorOf(err: unknown, doing: string, where: string): StoreError {
  if (err instanceof StoreError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const options = { cause: err };
  if (isUnavailable(err)) {
    return new StoreError(
      'unavailable',
      `${doing}: the job database ${where} is unavailable (${message})`,
      options,
    );
  }
  const state = sqlState(err);
  const what = state
    ? `the job database ${where} refused it (${state} ${message})`
    : `${message} (the job database ${where})`;
  return new StoreError('database_error', `${doing}: ${what}`, options);
}

/** A postgres:// URL fit for messages and logs: its password (either way of giving one) as `***`. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***');
    return parsed.toString();
  } catch {
    return '(an unparsable URL)';
  }
}
