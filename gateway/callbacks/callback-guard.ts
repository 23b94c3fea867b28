// Keeps callbacks off internal addresses (address-policy.ts), twice: when a job is submitted (the
// URL's host, resolved) and when each delivery connects (the addresses actually connected to, via
// the connection's own lookup), so a name that re-resolves to 127.0.0.1 later (DNS rebinding)
// is still refused, before any packet is sent.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import { CodeexecError } from '../../shared/index.js';
import { ADDRESS_CLASSES, CallbackAllowlist, checkAddress } from './address-policy.js';

export interface ResolvedAddress {
  address: string;
  family: number;
}
/** Every address a host name resolves to (tests inject one; the default asks the system). */
export type Resolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export interface CallbackGuardOptions {
  allow?: CallbackAllowlist;
  resolve?: Resolver;
  /** A submission waits this long for the host to resolve, then refuses it. */
  resolveTimeoutMs?: number;
}

const HINT = 'the operator may allow it with CODEEXEC_CALLBACK_ALLOW';

export class CallbackGuard {
  readonly #allow: CallbackAllowlist;
  readonly #resolve: Resolver;
  readonly #resolveTimeoutMs: number;

  constructor(options: CallbackGuardOptions = {}) {
    this.#allow = options.allow ?? CallbackAllowlist.none;
    this.#resolve = options.resolve ?? systemResolver;
    this.#resolveTimeoutMs = options.resolveTimeoutMs ?? 5_000;
  }

  /**
   * At submission: throws 400 callback_forbidden when the URL's host is, or resolves to, an
   * address the gateway may not call (any one of them), or does not resolve at all.
   */
  async check(url: string): Promise<void> {
    const host = hostOf(new URL(url));
    if (this.#allow.admitsHost(host)) return;
    if (isIP(host) !== 0) return this.#literal(host);
    let addresses: readonly ResolvedAddress[];
    try {
      addresses = await this.#resolveInTime(host);
      if (addresses.length === 0) throw Object.assign(new Error('no address'), { code: 'ENOTFOUND' });
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new CodeexecError(
        'callback_forbidden',
        `callback_url's host ${host} does not resolve (${why}); the gateway calls back only addresses it can check`,
        { host, error: why },
      );
    }
    this.#judge(host, addresses);
  }

  /**
   * At delivery: throws callback_forbidden for a forbidden IP literal (never connected to);
   * otherwise the lookup the connection must use (undefined: an IP literal or a host the
   * allowlist names, nothing to resolve or check). That lookup resolves, refuses the whole
   * attempt if any address is forbidden, and only then hands the addresses to the socket.
   */
  connectLookup(url: URL): LookupFunction | undefined {
    const host = hostOf(url);
    if (this.#allow.admitsHost(host)) return undefined;
    if (isIP(host) !== 0) {
      this.#literal(host);
      return undefined;
    }
    return (hostname, options, callback) => {
      this.#resolve(hostname).then(
        (all) => {
          try {
            this.#judge(hostname, all);
          } catch (err) {
            callback(err as CodeexecError, '', 0);
            return;
          }
          const family = options.family === 4 || options.family === 6 ? options.family : 0;
          const wanted = family === 0 ? [...all] : all.filter((a) => a.family === family);
          const [first] = wanted;
          if (!first) {
            const err: NodeJS.ErrnoException = new Error(`no IPv${family} address for ${hostname}`);
            err.code = 'ENOTFOUND';
            callback(err, '', 0);
          } else if (options.all) callback(null, wanted);
          else callback(null, first.address, first.family);
        },
        (err: NodeJS.ErrnoException) => callback(err, '', 0),
      );
    };
  }

  /** An IP literal host: refused unless public or allowlisted. */
  #literal(host: string): void {
    const verdict = checkAddress(host, this.#allow);
    if (!verdict.allowed) {
      throw new CodeexecError(
        'callback_forbidden',
        `callback_url's host ${host} is ${ADDRESS_CLASSES[verdict.class]}; ${HINT}`,
        { host, address: host, class: verdict.class },
      );
    }
  }

  #judge(host: string, addresses: readonly ResolvedAddress[]): void {
    for (const { address } of addresses) {
      const verdict = checkAddress(address, this.#allow);
      if (verdict.allowed) continue;
      throw new CodeexecError(
        'callback_forbidden',
        `callback_url's host ${host} resolves to ${address}, ${ADDRESS_CLASSES[verdict.class]}; ${HINT}`,
        { host, address, class: verdict.class },
      );
    }
  }

  #resolveInTime(host: string): Promise<readonly ResolvedAddress[]> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${this.#resolveTimeoutMs} ms`)),
        this.#resolveTimeoutMs,
      );
    });
    return Promise.race([this.#resolve(host), late]).finally(() => clearTimeout(timer));
  }
}

/** The URL's host as a socket sees it: an IPv6 literal without its brackets. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

export function isCallbackForbidden(err: unknown): err is CodeexecError {
  return err instanceof CodeexecError && err.code === 'callback_forbidden';
}
