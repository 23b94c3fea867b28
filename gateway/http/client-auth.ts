// Who is calling: with API keys (CODEEXEC_API_KEYS), the key in `Authorization: Bearer <key>`;
// without, the caller's address. The answer names the client for per-client caps and listing,
// and never contains the key itself.
import { createHash, timingSafeEqual } from 'node:crypto';
import { CodeexecError, keyFromProtocols } from '../../shared/index.js';

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export class ClientAuth {
  /** SHA-256 of each key: equal lengths, so every comparison is constant-time and complete. */
  readonly #keys: { digest: Buffer; id: string }[];

  constructor(keys: readonly string[]) {
    this.#keys = keys.map((key) => {
      const hash = digest(key);
      // A short fingerprint names the key in job records and logs without revealing it.
      return { digest: hash, id: `key:${hash.toString('hex').slice(0, 12)}` };
    });
  }

  /** Whether keys are configured (without them the gateway is open, and loopback-only by default). */
  get enabled(): boolean {
    return this.#keys.length > 0;
  }

  /**
   * The client's id: `key:<fingerprint>` with keys, `addr:<ip>` without. Throws `unauthorized`
   * when keys are configured and the request carries none of them. `queryKey`: the `?key=` of a
   * Piston route (whose clients cannot set headers), used only when no Authorization header came.
   */
  identify(
    headers: Readonly<Record<string, string>>,
    remoteAddress: string,
    queryKey: string | null = null,
  ): string {
    if (!this.enabled) return `addr:${remoteAddress || 'unknown'}`;
    const given = digest(keyOf(headers, queryKey));
    let found: string | null = null;
    // Compare against every key, always: the time taken says nothing about which one matched.
    for (const key of this.#keys) {
      if (timingSafeEqual(key.digest, given)) found = key.id;
    }
    if (found === null) throw new CodeexecError('unauthorized', 'The API key is not valid');
    return found;
  }
}

/**
 * The key a request carries: `Authorization: Bearer <key>`, or, on a WebSocket upgrade from a
 * browser (which cannot set that header), `codeexec.bearer.<base64url>` in Sec-WebSocket-Protocol,
 * or, where the route allows it, `?key=` (docs/piston.md: URLs end up in logs and histories).
 */
function keyOf(headers: Readonly<Record<string, string>>, queryKey: string | null): string {
  const header = headers.authorization;
  if (header === undefined) {
    const fromProtocol = keyFromProtocols(headers['sec-websocket-protocol']);
    if (fromProtocol !== null) return fromProtocol;
    if (queryKey !== null && queryKey !== '') return queryKey;
    throw new CodeexecError(
      'unauthorized',
      'This gateway requires an API key: send `Authorization: Bearer <key>`',
    );
  }
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (!match) throw new CodeexecError('unauthorized', 'The Authorization header must be `Bearer <key>`');
  return match[1]!;
}
