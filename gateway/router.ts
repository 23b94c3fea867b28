// A small router: routes are `METHOD /path/:param` patterns; a handler returns a response or
// throws a CodeexecError, which becomes the JSON error body with the table's status.
import { CodeexecError, type Logger } from '../shared/index.js';
import type { HttpHandler, HttpRequest, HttpResponse } from './transport/transport.js';

export interface RouteContext {
  req: HttpRequest;
  params: Record<string, string>;
  signal: AbortSignal;
}

export interface Route {
  method: string;
  /** `/execute/:id/status`: `:name` matches one path segment. */
  path: string;
  handle: (ctx: RouteContext) => Promise<HttpResponse>;
}

export const json = (status: number, value: unknown, headers?: Record<string, string>): HttpResponse => ({
  status,
  body: JSON.stringify(value),
  ...(headers ? { headers } : {}),
});

export function errorResponse(err: CodeexecError): HttpResponse {
  return json(err.status, err.toJSON());
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

export function createRouter(routes: readonly Route[], log: Logger): HttpHandler {
  return async (req, signal) => {
    try {
      const path = req.path.length > 1 ? req.path.replace(/\/+$/, '') : req.path;
      let allowed: string[] = [];
      for (const route of routes) {
        const params = match(route.path, path);
        if (!params) continue;
        if (route.method === req.method) return await route.handle({ req, params, signal });
        allowed.push(route.method);
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
      log('error', 'request failed', { path: req.path, error: String((err as Error).stack ?? err) });
      return errorResponse(new CodeexecError('internal'));
    }
  };
}
