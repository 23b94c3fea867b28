// A small router: routes are `METHOD /path/:param` patterns; a handler returns a response or
// throws a CodeexecError, which becomes the JSON error body with the table's status.
import { CodeexecError, type Logger } from '../../shared/index.js';
import { clientErrorOf } from '../store/store-errors.js';
import type { HttpHandler, HttpRequest, HttpResponse } from '../transport/transport.js';
import type { ClientAuth } from './client-auth.js';
import type { RateLimits, RateVerdict } from './rate-limits.js';

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
  /** Submits a job: counted against the client's rate limit (CODEEXEC_RATE_LIMIT). */
  submits?: boolean;
  /** Takes the API key as `?key=` too, when no Authorization header is sent (Piston's routes). */
  queryKey?: boolean;
  /** The body of an error answer, when not ours (Piston's `{ "message": … }`). */
  errorBody?: (err: CodeexecError) => unknown;
}

/** Errors a client should simply retry later say when, as RFC 9110 Retry-After. */
const RETRY_AFTER_SECONDS: Partial<Record<CodeexecError['code'], string>> = {
  too_many_jobs: '1',
  queue_full: '5',
  store_unavailable: '5',
};

export const json = (status: number, value: unknown, headers?: Record<string, string>): HttpResponse => ({
  status,
  body: JSON.stringify(value),
  ...(headers ? { headers } : {}),
});

/** `extra`: header fields that go on every answer of the route (rate limits, rate_limited's Retry-After). */
export function errorResponse(
  err: CodeexecError,
  extra: Record<string, string> = {},
  body: (err: CodeexecError) => unknown = (e) => e.toJSON(),
): HttpResponse {
  const retryAfter = RETRY_AFTER_SECONDS[err.code];
  const headers: Record<string, string> = retryAfter ? { 'retry-after': retryAfter } : {};
  // RFC 9110: a 401 names the scheme the client should use.
  if (err.code === 'unauthorized') headers['www-authenticate'] = 'Bearer realm="codeexec"';
  return json(err.status, body(err), { ...headers, ...extra });
}

function withHeaders(response: HttpResponse, extra: Record<string, string>): HttpResponse {
  if (Object.keys(extra).length === 0) return response;
  return { ...response, headers: { ...extra, ...response.headers } };
}

function safeDecode(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
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
      // Not valid percent-encoding: no such resource (404), not a server error.
      const decoded = safeDecode(value);
      if (decoded === null) return null;
      params[part.slice(1)] = decoded;
    } else if (part !== value) return null;
  }
  return params;
}

export function createRouter(
  routes: readonly Route[],
  log: Logger,
  auth: ClientAuth,
  limits: RateLimits | null = null,
): HttpHandler {
  return async (req, signal) => {
    let client: string | undefined;
    let route: Route | undefined;
    // The rate limits' fields, on every answer of a limited request, errors included.
    const headers: Record<string, string> = {};
    const limit = (verdict: RateVerdict | undefined): void => {
      if (verdict === undefined) return;
      Object.assign(headers, verdict.headers);
      if (verdict.error) throw verdict.error;
    };
    try {
      const path = req.path.length > 1 ? req.path.replace(/\/+$/, '') : req.path;
      let params: Record<string, string> | null = null;
      let allowed: string[] = [];
      for (const candidate of routes) {
        params = match(candidate.path, path);
        if (!params) continue;
        if (candidate.method === req.method) {
          route = candidate;
          break;
        }
        allowed.push(candidate.method);
      }
      // Every request, before anything else is done for it (unknown routes and bad keys too).
      limit(limits?.request(req.remoteAddress));
      if (route && params) {
        const queryKey = route.queryKey ? req.query.get('key') : null;
        client = route.open
          ? authOrAnonymous(auth, req)
          : auth.identify(req.headers, req.remoteAddress, queryKey);
        // The submission limit is the one to watch on these routes: its fields replace the address's.
        if (route.submits) limit(limits?.submission(client));
        return withHeaders(await route.handle({ req, params, signal, client }), headers);
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
      if (err instanceof CodeexecError) return errorResponse(err, headers, route?.errorBody);
      const known = clientErrorOf(err);
      if (known !== null) {
        log.warn(
          { method: req.method, path: req.path, client, err },
          'request failed: the job store is unavailable',
        );
        return errorResponse(known, headers, route?.errorBody);
      }
      // The path only, never the query: a Piston route's `?key=` must not reach the logs.
      log.error({ method: req.method, path: req.path, client, err }, 'request failed');
      return errorResponse(new CodeexecError('internal'), headers, route?.errorBody);
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
