// A small router: routes are `METHOD /path/:param` patterns; a handler returns a response or
// throws a CodeexecError, which becomes the JSON error body with the table's status.
import { CodeexecError, type Logger } from '../../shared/index.js';
import type { HttpHandler, HttpRequest, HttpResponse } from '../transport/transport.js';
import type { ClientAuth } from './client-auth.js';

export interface RouteContext {
  req: HttpRequest;
  params: Record<string, string>;
  signal: AbortSignal;
  /** Who is calling (ClientAuth.identify); on open routes, whoever it would be, unchecked. */
  client: string;
}

export interface Route {
  method: string;
  /** `/execute/:id/status`: `:name` matches one path segment. */
  path: string;
  handle: (ctx: RouteContext) => Promise<HttpResponse>;
  /** Served without an API key (health, the OpenAPI document). Every other route needs one. */
  open?: boolean;
}

/** Errors a client should simply retry later say when, as RFC 9110 Retry-After. */
const RETRY_AFTER_SECONDS: Partial<Record<CodeexecError['code'], string>> = {
  too_many_jobs: '1',
  queue_full: '5',
};

export const json = (status: number, value: unknown, headers?: Record<string, string>): HttpResponse => ({
  status,
  body: JSON.stringify(value),
  ...(headers ? { headers } : {}),
});

export function errorResponse(err: CodeexecError): HttpResponse {
  const retryAfter = RETRY_AFTER_SECONDS[err.code];
  const headers: Record<string, string> = retryAfter ? { 'retry-after': retryAfter } : {};
  // RFC 9110: a 401 names the scheme the client should use.
  if (err.code === 'unauthorized') headers['www-authenticate'] = 'Bearer realm="codeexec"';
  return json(err.status, err.toJSON(), headers);
}

function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const part = want[i]!;
    const value = got[i]!;
    if (part.startsWith(':')) {
      if (value === '') return null;
      params[part.slice(1)] = decodeURIComponent(value);
    } else if (part !== value) return null;
  }
  return params;
}

export function createRouter(routes: readonly Route[], log: Logger, auth: ClientAuth): HttpHandler {
  return async (req, signal) => {
    let client: string | undefined;
    try {
      const path = req.path.length > 1 ? req.path.replace(/\/+$/, '') : req.path;
      let allowed: string[] = [];
      for (const route of routes) {
        const params = match(route.path, path);
        if (!params) continue;
        if (route.method !== req.method) {
          allowed.push(route.method);
          continue;
        }
        client = route.open ? authOrAnonymous(auth, req) : auth.identify(req.headers, req.remoteAddress);
        return await route.handle({ req, params, signal, client });
      }
      allowed = [...new Set(allowed)];
      if (allowed.length > 0) {
        throw new CodeexecError(
          'method_not_allowed',
          `${req.method} ${path} is not allowed; use ${allowed.join(', ')}`,
        );
      }
      throw new CodeexecError('not_found', `No route ${req.method} ${path}`);
    } catch (err) {
      if (err instanceof CodeexecError) return errorResponse(err);
      log.error({ method: req.method, path: req.path, client, err }, 'request failed');
      return errorResponse(new CodeexecError('internal'));
    }
  };
}

/** On an open route a key is optional: a valid one still names the client. */
function authOrAnonymous(auth: ClientAuth, req: HttpRequest): string {
  try {
    return auth.identify(req.headers, req.remoteAddress);
  } catch {
    return 'anonymous';
  }
}
