// REST routes. Each handler gets validated input and returns a value or throws a CodeexecError;
// the router turns both into JSON responses with the status the error table gives.
import {
  CodeexecError,
  ExecuteRequestSchema,
  type ExecuteResponse,
  findLanguage,
  isErrorCode,
  type JobRecord,
  LANGUAGES,
  type LimitsInput,
  type Logger,
  MAX_LIMITS,
  parse,
  parseJson,
  resolveLimits,
} from '../shared/index.js';
import type { Dispatcher } from './dispatcher.js';
import type { RunnerHub } from './runner-hub.js';
import type { HttpHandler, HttpRequest, HttpResponse } from './transport/transport.js';

interface Route {
  method: string;
  path: string;
  handle: (req: HttpRequest, signal: AbortSignal) => Promise<HttpResponse>;
}

export interface RoutesDeps {
  dispatcher: Dispatcher;
  hub: RunnerHub;
  log: Logger;
}

const json = (status: number, value: unknown): HttpResponse => ({ status, body: JSON.stringify(value) });

export function errorResponse(err: CodeexecError): HttpResponse {
  return json(err.status, err.toJSON());
}

export function createRoutes({ dispatcher, hub, log }: RoutesDeps): HttpHandler {
  /** Canonical name of a language: the table's, or one a connected runner offers. */
  const resolveLanguage = (name: string): string => {
    const offered = hub.languages();
    const known = findLanguage(name)?.name ?? (offered.has(name) ? name : undefined);
    if (known) return known;
    const names = [...new Set([...offered.keys(), ...knownLanguageNames()])].sort();
    throw new CodeexecError('unknown_language', `Unknown language "${name}". Known: ${names.join(', ')}`, {
      known: names,
    });
  };

  const readJson = (req: HttpRequest): unknown => {
    const type = req.headers['content-type'];
    if (type && !/json/i.test(type)) {
      throw new CodeexecError('unsupported_media_type', `The body must be application/json, not ${type}`);
    }
    return parseJson(req.body.toString('utf8'));
  };

  const routes: Route[] = [
    {
      method: 'GET',
      path: '/execute/health',
      handle: async () => json(200, { status: 'ok' }),
    },
    {
      method: 'POST',
      path: '/execute/code',
      handle: async (req) => {
        const request = parse(ExecuteRequestSchema, readJson(req));
        const lang = resolveLanguage(request.lang);
        checkLimits(request.limits);
        const job = await dispatcher.wait(dispatcher.submit(request, lang).id);
        if (job.status === 'failed') {
          const code = isErrorCode(job.error?.code) ? job.error.code : 'internal';
          throw new CodeexecError(code, job.error?.message, { id: job.id });
        }
        return json(200, toExecuteResponse(job));
      },
    },
  ];

  return async (req, signal) => {
    const matching = routes.filter((route) => route.path === req.path);
    const route = matching.find((r) => r.method === req.method);
    try {
      if (!route) {
        if (matching.length > 0) {
          const allowed = matching.map((r) => r.method).join(', ');
          throw new CodeexecError(
            'method_not_allowed',
            `${req.method} ${req.path} is not allowed; use ${allowed}`,
          );
        }
        throw new CodeexecError('not_found', `No route ${req.method} ${req.path}`);
      }
      return await route.handle(req, signal);
    } catch (err) {
      if (err instanceof CodeexecError) return errorResponse(err);
      log('error', 'request failed', { path: req.path, error: String((err as Error).stack ?? err) });
      return errorResponse(new CodeexecError('internal'));
    }
  };
}

/** Requests above the maximums are refused here; the runner clamps again with its own caps. */
function checkLimits(limits: LimitsInput | undefined): void {
  const { tooHigh } = resolveLimits(limits);
  if (tooHigh.length === 0) return;
  const detail = tooHigh.map((key) => `${key} (max ${MAX_LIMITS[key]})`).join(', ');
  throw new CodeexecError('limit_exceeded', `Limits above the maximum: ${detail}`, { limits: tooHigh });
}

function knownLanguageNames(): string[] {
  return LANGUAGES.map((lang) => lang.name);
}

export function toExecuteResponse(job: JobRecord): ExecuteResponse {
  return {
    output: job.output,
    exit_code: job.exit_code,
    status: job.status,
    id: job.id,
    stdout: job.stdout,
    stderr: job.stderr,
    signal: job.signal,
    reason: job.reason,
    compile: job.compile,
    error: job.error,
    timings: job.timings,
  };
}
