// Who may use the operator's routes (GET /runners, quarantine): a caller with one of
// CODEEXEC_ADMIN_KEYS (`Authorization: Bearer <key>`); without admin keys, only callers on the
// gateway's own machine (loopback), like the rest of an unconfigured gateway.
import { CodeexecError } from '../../shared/index.js';
import type { HttpRequest } from '../transport/transport.js';
import { ClientAuth } from './client-auth.js';

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

export class AdminAuth {
  readonly #keys: ClientAuth;

  constructor(keys: readonly string[]) {
    this.#keys = new ClientAuth(keys);
  }

  /** Throws `unauthorized` unless the caller may act as the operator. */
  check(req: HttpRequest): void {
    if (this.#keys.enabled) {
      try {
        this.#keys.identify(req.headers, req.remoteAddress);
      } catch {
        throw new CodeexecError(
          'unauthorized',
          'This route needs an admin key (CODEEXEC_ADMIN_KEYS) as Bearer',
        );
      }
      return;
    }
    if (!LOOPBACK.test(req.remoteAddress)) {
      throw new CodeexecError(
        'unauthorized',
        'Without CODEEXEC_ADMIN_KEYS, the operator routes answer only on the gateway machine (loopback)',
      );
    }
  }
}
