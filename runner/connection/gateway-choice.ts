// Which gateway a runner dials next, and after how long: the list of gateway URLs (one, or several
// comma-separated, as CODEEXEC_GATEWAY_URL holds them) and the pure decision taken each time a
// socket ends. The connection (gateway-connection.ts) only carries the decision out.

/** A hop to another gateway waits a random time under this: runners moved together spread out. */
export const HOP_JITTER_MS = 250;
/** The longest a `goaway` may make a runner wait, whatever the gateway asks. */
export const MAX_GOAWAY_WAIT_MS = 600_000;

const PROTOCOLS = new Set(['http:', 'https:', 'ws:', 'wss:']);

/**
 * The gateway URLs in `text`, separated by commas (whitespace around each is dropped). Throws an
 * Error naming `name` (the variable or option it came from) for an empty entry or one that is not
 * an http(s):// or ws(s):// URL: a runner must not start with a list it cannot dial.
 */
export function parseGatewayUrls(text: string, name: string): string[] {
  const entries = text.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    if (entry === '') {
      throw new Error(`${name} must list gateway URLs separated by commas, got an empty entry in "${text}"`);
    }
    let url: URL | null = null;
    try {
      url = new URL(entry);
    } catch {
      // Not a URL at all: said below, like a URL of the wrong scheme.
    }
    if (url === null || !PROTOCOLS.has(url.protocol) || url.hostname === '') {
      throw new Error(`${name} must hold http(s)://host:port or ws(s)://host:port URLs, got "${entry}"`);
    }
  }
  return entries;
}

export interface Backoff {
  /** The first wait's scale, ms (CODEEXEC_RECONNECT_MIN_MS). */
  minMs: number;
  /** The cap, ms (CODEEXEC_RECONNECT_MAX_MS). */
  maxMs: number;
}

/** How a socket ended: a failed attempt or a lost link, or a close the gateway announced. */
export type Ending = { kind: 'failed' } | { kind: 'goaway'; reconnectAfterMs: number };

export interface ChoiceInput {
  /** How many gateway URLs the runner has (at least one). */
  count: number;
  /** The index of the URL whose socket just ended. */
  current: number;
  /** Failed attempts in a row before this ending (a welcome resets it to 0). */
  failures: number;
  ending: Ending;
  backoff: Backoff;
  /** A random number in [0, 1): the jitter (tests pass a fixed one). */
  random: number;
}

export interface Choice {
  /** The index of the URL to dial next. */
  index: number;
  delayMs: number;
  /** Failed attempts in a row after this ending. */
  failures: number;
  /**
   * `hop`: on to the next URL at once (jitter only); `backoff`: every URL failed in a row, so the
   * capped exponential backoff; `wait`: the only gateway said when to come back.
   */
  why: 'hop' | 'backoff' | 'wait';
}

/**
 * The next attempt after a socket ended.
 *
 * - A failure (an attempt that did not get through, or a lost link) moves on to the next URL in
 *   the list, round robin. While some URL of this round has not failed yet it hops at once (under
 *   HOP_JITTER_MS); once every URL failed in a row it waits the full-jitter backoff, whose ceiling
 *   doubles with each round that failed whole. With one URL every failure ends a round: the same
 *   waits as a runner always had (min/2 + random × min(max, min × 2^(failures so far))).
 * - A `goaway` is no failure (the count stays): with another URL, hop to it; with one, wait what
 *   the gateway asked (at most MAX_GOAWAY_WAIT_MS) and dial it again.
 */
export function chooseNext(input: ChoiceInput): Choice {
  const { count, current, failures, ending, backoff, random } = input;
  const next = (current + 1) % count;
  if (ending.kind === 'goaway') {
    if (count > 1) return { index: next, delayMs: Math.floor(random * HOP_JITTER_MS), failures, why: 'hop' };
    const delayMs = Math.min(Math.max(0, ending.reconnectAfterMs), MAX_GOAWAY_WAIT_MS);
    return { index: current, delayMs, failures, why: 'wait' };
  }
  const inRow = failures + 1;
  if (inRow % count !== 0) {
    return { index: next, delayMs: Math.floor(random * HOP_JITTER_MS), failures: inRow, why: 'hop' };
  }
  // Full jitter: many runners cut off together do not come back together.
  const roundsFailed = inRow / count;
  const ceiling = Math.min(backoff.maxMs, backoff.minMs * 2 ** (roundsFailed - 1));
  const delayMs = Math.round(backoff.minMs / 2 + random * ceiling);
  return { index: next, delayMs, failures: inRow, why: 'backoff' };
}
