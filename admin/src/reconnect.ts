// The dashboard's connection as the page shows it, and when it tries again: exponential backoff
// with jitter, so a restarted gateway is not met by every dashboard at once. Pure: unit-tested.
import { formatAge } from './format.js';

/** How the socket stands: what the indicator at the top says. */
export type ConnectionStatus =
  | { state: 'connecting' }
  | { state: 'live' }
  | { state: 'reconnecting'; retryAt: number; reason: string }
  /** The gateway wants an admin key (4401): `refused` when the page sent one and it was wrong. */
  | { state: 'key_needed'; refused: boolean };

export const FIRST_RETRY_MS = 500;
export const MAX_RETRY_MS = 15_000;

/**
 * How long to wait before attempt `failures` + 1: 0.5 s doubling up to 15 s, the second half of
 * each wait random (`random` in [0, 1)).
 */
export function retryDelay(failures: number, random: number): number {
  const full = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, failures));
  return Math.round(full / 2 + (full / 2) * random);
}

/** The indicator's words: "Live", "Connecting…", "Reconnecting in 4 s", "Admin key needed". */
export function statusText(status: ConnectionStatus, now: number): string {
  switch (status.state) {
    case 'connecting':
      return 'Connecting…';
    case 'live':
      return 'Live';
    case 'reconnecting': {
      const seconds = Math.ceil((status.retryAt - now) / 1000);
      return seconds > 0 ? `Reconnecting in ${seconds} s` : 'Reconnecting…';
    }
    case 'key_needed':
      return status.refused ? 'Key refused' : 'Admin key needed';
    default: {
      const never: never = status;
      return String(never);
    }
  }
}

/** Close codes the page treats apart: the gateway's 4401 (unauthorized) asks for a key. */
export const UNAUTHORIZED_CLOSE = 4401;

/** Why the socket closed, in a few words, for the reconnecting line's tooltip. */
export function closeReason(code: number, reason: string): string {
  if (reason) return `${reason} (${code})`;
  if (code === 1006) return 'the connection was lost (1006)';
  if (code === 1001) return 'the gateway is going away (1001)';
  return `closed (${code})`;
}

/**
 * The line above a dashboard that lost its gateway: why, and how old what it shows is (`lastFrameAt`:
 * when the last frame came, by the page's clock). Null while connected or asking for a key.
 */
export function staleNotice(
  status: ConnectionStatus,
  lastFrameAt: number | null,
  now: number,
): string | null {
  if (status.state !== 'reconnecting') return null;
  const age =
    lastFrameAt === null
      ? ''
      : ` The figures below are as the gateway sent them ${formatAge(now - lastFrameAt)}.`;
  return `Lost the connection to the gateway: ${status.reason}.${age}`;
}
