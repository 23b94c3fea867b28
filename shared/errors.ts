// The closed table of error codes: every error a client or runner can see, with its HTTP status
// and WebSocket close code. docs/errors.md lists the same codes; a test keeps them in sync.

export const ERRORS = {
  invalid_json: { status: 400, message: 'The body is not valid JSON' },
  invalid_request: { status: 400, message: 'The request does not match the schema' },
  unknown_language: { status: 400, message: 'The language is not known' },
  limit_exceeded: { status: 400, message: 'A requested limit is above the maximum allowed' },
  callback_forbidden: {
    status: 400,
    message: 'callback_url leads to an address the gateway may not call (loopback, private, link-local…)',
  },
  body_too_large: { status: 413, message: 'The body is larger than allowed' },
  unsupported_media_type: { status: 415, message: 'The body must be application/json' },
  not_found: { status: 404, message: 'No such route or job' },
  job_finished: { status: 409, message: 'The job has already ended' },
  duplicate_id: { status: 409, message: 'The id is already used by another job on this socket' },
  too_many_jobs: { status: 429, message: 'Too many unfinished jobs' },
  rate_limited: { status: 429, message: 'Too many requests in too short a time; retry later' },
  too_many_sessions: { status: 429, message: 'Too many open sessions on this socket' },
  session_closed: { status: 409, message: 'The session has ended' },
  method_not_allowed: { status: 405, message: 'The route does not accept this method' },
  unauthorized: { status: 401, message: 'A valid token is required' },
  no_runner: { status: 503, message: 'No runner offers this language, or none became available in time' },
  runner_lost: { status: 502, message: 'The runner running the job went away' },
  runner_rejected: { status: 503, message: 'Every runner rejected the job' },
  duplicate_runner: { status: 409, message: 'A runner with this name is already connected' },
  invalid_frame: { status: 400, message: 'A WebSocket frame does not match the protocol' },
  sandbox_failed: { status: 500, message: 'The sandbox failed to run the job' },
  unverified: { status: 502, message: 'The replicas of a verified job did not agree' },
  shutting_down: { status: 503, message: 'The server is shutting down' },
  store_unavailable: { status: 503, message: 'The job store cannot be reached; retry later' },
  queue_full: { status: 503, message: 'The queue is full; try again later' },
  internal: { status: 500, message: 'Internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/** Standard WebSocket close codes we use besides the ones derived from errors. */
export const CLOSE_CODES = {
  normal: 1000,
  going_away: 1001,
  /** Policy violation: a client socket left more than CLIENT_MAX_BUFFERED_BYTES unread. */
  too_slow: 1008,
} as const;

/** The close code for an error: 4000 + its HTTP status (4401 unauthorized), as hocuspocus does. */
export function closeCodeFor(code: ErrorCode): number {
  return 4000 + ERRORS[code].status;
}

/** The one error type: a stable code, a message for people, and optional details. */
export class CodeexecError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string = ERRORS[code].message, details?: unknown) {
    super(message);
    this.name = 'CodeexecError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERRORS[this.code].status;
  }

  toJSON(): { error: { code: ErrorCode; message: string; details?: unknown } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}
