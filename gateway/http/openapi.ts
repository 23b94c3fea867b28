// The OpenAPI 3.1 document, generated from the same shared schemas that validate requests, so
// it cannot drift from the code. Served at /openapi.json; docs/openapi.json is a copy for readers
// (a test checks it is current).
import { toJsonSchema } from '@valibot/to-json-schema';
import * as v from 'valibot';
import {
  AsyncAcceptedSchema,
  AsyncRequestSchema,
  ERRORS,
  ErrorResponseSchema,
  ExecuteRequestSchema,
  ExecuteResponseSchema,
  HealthResponseSchema,
  JobListResponseSchema,
  JobRecordSchema,
  JobStatusSchema,
  LanguagesResponseSchema,
  QuarantineResponseSchema,
  RunnersResponseSchema,
} from '../../shared/index.js';

type Schema = v.GenericSchema;

interface Operation {
  method: 'get' | 'post' | 'delete';
  path: string;
  summary: string;
  request?: Schema;
  params?: { name: string; in: 'path' | 'query' | 'header'; required: boolean; description: string }[];
  /** Status → body schema (every error status uses the error body); JSON unless `mediaType`. */
  responses: Record<number, { description: string; schema: Schema; mediaType?: string }>;
  /** Served without an API key; every other operation documents 401 and the bearer scheme. */
  open?: boolean;
  /** A job submission: every answer carries the RateLimit fields (CODEEXEC_RATE_LIMIT). */
  submits?: boolean;
}

/** draft-ietf-httpapi-ratelimit-headers-06's fields, as rate-limits.ts sends them. */
const RATE_HEADERS = {
  'RateLimit-Limit': 'Submissions this client may make at once (CODEEXEC_RATE_BURST)',
  'RateLimit-Remaining': 'Submissions left now',
  'RateLimit-Reset': 'Seconds until all of RateLimit-Limit is available again',
  'RateLimit-Policy': '`<limit>;w=<seconds>`: the limit, and the window in which it refills',
} as const;
const rateHeaderRefs = Object.fromEntries(
  Object.keys(RATE_HEADERS).map((name) => [name, { $ref: `#/components/headers/${name}` }]),
);

const runnerParam = {
  name: 'id',
  in: 'path' as const,
  required: true,
  description: "A connected runner's name, or a runner identity (`donor:…`)",
};
const idParam = { name: 'id', in: 'path' as const, required: true, description: 'The job id' };
const error = (description: string) => ({ description, schema: ErrorResponseSchema as Schema });
const validationErrors = {
  400: error('Invalid JSON, a wrong field, an unknown language or a limit above its maximum'),
  413: error('The body is larger than allowed'),
  415: error('The body is not JSON'),
};
/** The bodies with a callback_url: the same, and a callback_url that leads somewhere forbidden. */
const callbackValidationErrors = {
  ...validationErrors,
  400: error(
    'Invalid JSON, a wrong field, an unknown language, a limit above its maximum, or a callback_url ' +
      'whose host is (or resolves to) an internal address, or does not resolve (callback_forbidden)',
  ),
};
/** Refusals at submission, before a job exists (see Admission). */
const admissionErrors = {
  429: error(
    'This API key (or address) sent more than CODEEXEC_RATE_LIMIT submissions a minute, or more ' +
      'than CODEEXEC_RATE_BURST at once (rate_limited), or already has CODEEXEC_MAX_JOBS_PER_KEY ' +
      'jobs unfinished (too_many_jobs); Retry-After says when to try again',
  ),
  503: error('The queue is full (queue_full); Retry-After says when to try again'),
};
const runErrors = {
  ...admissionErrors,
  500: error('The runner could not run the job (sandbox_failed) or an internal error'),
  502: error(
    "The runner went away and the job had no attempts left (runner_lost), or a verified job's " +
      'replicas did not agree (unverified)',
  ),
  503: error(
    'The queue is full (queue_full), no connected runner offers or builds the language (no_runner, at ' +
      'once unless queue_timeout_ms asks to wait) or none took the job in time (no_runner), ' +
      'or every runner rejected it (runner_rejected)',
  ),
};
const unauthorized = error(
  'The gateway has API keys and the request has no valid `Authorization: Bearer <key>` (unauthorized)',
);

export const OPERATIONS: readonly Operation[] = [
  {
    method: 'post',
    path: '/execute/code',
    submits: true,
    summary: 'Run code and wait for the result (the seed contract: output, exit_code, status first)',
    request: ExecuteRequestSchema,
    responses: {
      200: { description: 'The program ran', schema: ExecuteResponseSchema },
      ...validationErrors,
      ...runErrors,
    },
  },
  {
    method: 'get',
    path: '/execute/health',
    summary: 'Liveness',
    open: true,
    responses: { 200: { description: 'The gateway serves', schema: HealthResponseSchema } },
  },
  {
    method: 'post',
    path: '/execute/sync',
    submits: true,
    summary: 'Run a job and wait; answers the whole job record',
    request: AsyncRequestSchema,
    responses: {
      200: { description: 'The job ended', schema: JobRecordSchema },
      ...callbackValidationErrors,
      ...runErrors,
    },
  },
  {
    method: 'post',
    path: '/execute/async',
    submits: true,
    summary: 'Queue a job; answers at once with its id (stored before the answer)',
    request: AsyncRequestSchema,
    responses: {
      202: { description: 'Queued', schema: AsyncAcceptedSchema },
      ...callbackValidationErrors,
      ...admissionErrors,
    },
  },
  {
    method: 'get',
    path: '/execute/{id}/status',
    summary: "A job's state",
    params: [idParam],
    responses: { 200: { description: 'The state', schema: JobStatusSchema }, 404: error('No such job') },
  },
  {
    method: 'get',
    path: '/execute/{id}/result',
    summary: "A job's result; 202 with its state while it is still queued or running",
    params: [idParam],
    responses: {
      200: { description: 'The job ended', schema: JobRecordSchema },
      202: { description: 'Not finished yet; ask again after Retry-After seconds', schema: JobStatusSchema },
      404: error('No such job'),
    },
  },
  {
    method: 'get',
    path: '/execute/{id}/output',
    summary:
      "A job's output as server-sent events: the chunks after after_seq (or Last-Event-ID), then the live rest, then the result",
    params: [
      idParam,
      {
        name: 'after_seq',
        in: 'query',
        required: false,
        description: 'Send the chunks after this seq (default -1: from the first); wins over Last-Event-ID',
      },
      {
        name: 'Last-Event-ID',
        in: 'header',
        required: false,
        description: 'What an EventSource sends when it reconnects: the id (seq) of the last chunk it got',
      },
      {
        name: 'key',
        in: 'query',
        required: false,
        description:
          'The API key, for clients that cannot set headers (EventSource); it may be logged on the way',
      },
    ],
    responses: {
      200: {
        description:
          'text/event-stream. `event: stdout` / `event: stderr` with `id: <seq>` and data `{"seq","data"}`; ' +
          '`event: gap` with data `{"from_seq","to_seq","reason"}` for chunks that will not come; last ' +
          '`event: exit` with the ExecuteResponse as data, and the response ends. A comment line every ' +
          'CODEEXEC_PING_MS (25 s) keeps proxies from cutting a quiet job. See docs/client-protocol.md, "Resuming output".',
        schema: v.string(),
        mediaType: 'text/event-stream',
      },
      400: error('after_seq (or Last-Event-ID) is not a whole number ≥ -1'),
      404: error('No such job'),
    },
  },
  {
    method: 'delete',
    path: '/execute/{id}',
    summary: 'Cancel a queued or running job',
    params: [idParam],
    responses: {
      200: {
        description: 'Cancelled (or it finished before the cancel reached it)',
        schema: JobStatusSchema,
      },
      202: { description: 'Cancel sent; the runner has not confirmed yet', schema: JobStatusSchema },
      404: error('No such job'),
      409: error('The job had already ended (job_finished)'),
    },
  },
  {
    method: 'get',
    path: '/execute',
    summary: 'List jobs, newest first, optionally of one task, one page at a time',
    params: [
      { name: 'task_id', in: 'query', required: false, description: 'Only jobs with this task_id' },
      { name: 'limit', in: 'query', required: false, description: 'Page size, 1 to 500 (default 50)' },
      { name: 'cursor', in: 'query', required: false, description: 'next_cursor of the previous page' },
    ],
    responses: {
      200: { description: 'A page', schema: JobListResponseSchema },
      400: error('A bad limit or cursor'),
    },
  },
  {
    method: 'get',
    path: '/languages',
    summary: 'The languages the connected runners offer, with their versions',
    responses: { 200: { description: 'Languages', schema: LanguagesResponseSchema } },
  },
  {
    method: 'get',
    path: '/runners',
    summary:
      "The operator's view: the runners of every living gateway of the fleet (this one's now, the " +
      "others' as of their last beat), each with its gateway, tier, state, slots, jobs done, " +
      'reliability and last heartbeat, and the living gateways; `partial` when the fleet could not be ' +
      'read (an admin key of CODEEXEC_ADMIN_KEYS; without admin keys, loopback callers only)',
    responses: {
      200: { description: 'Runners', schema: RunnersResponseSchema },
      401: error('No valid admin key, or (without admin keys) a caller not on loopback'),
    },
    open: true,
  },
  {
    method: 'post',
    path: '/runners/{id}/quarantine',
    summary: 'Quarantine a runner identity (a runner name or `donor:…`): it stays connected and gets no work',
    params: [runnerParam],
    responses: {
      200: { description: 'Quarantined', schema: QuarantineResponseSchema },
      401: error('No valid admin key'),
      404: error('No such runner or identity'),
    },
    open: true,
  },
  {
    method: 'delete',
    path: '/runners/{id}/quarantine',
    summary: 'Release a quarantined runner identity',
    params: [runnerParam],
    responses: {
      200: { description: 'Released', schema: QuarantineResponseSchema },
      401: error('No valid admin key'),
      404: error('No such runner or identity'),
    },
    open: true,
  },
];

const retryAfterRef = { $ref: '#/components/headers/Retry-After' };

function jsonSchema(schema: Schema): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = toJsonSchema(schema, {
    target: 'draft-2020-12',
    errorMode: 'throw',
  });
  return rest;
}

export function buildOpenApi(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const responses: Record<string, unknown> = {};
    const documented = op.open ? op.responses : { ...op.responses, 401: unauthorized };
    for (const [status, response] of Object.entries(documented)) {
      const { description, schema } = response;
      const mediaType = 'mediaType' in response ? (response.mediaType as string) : 'application/json';
      const headers = op.submits
        ? { ...rateHeaderRefs, ...(status === '429' ? { 'Retry-After': retryAfterRef } : {}) }
        : undefined;
      responses[status] = {
        description,
        ...(headers ? { headers } : {}),
        content: { [mediaType]: { schema: jsonSchema(schema) } },
      };
    }
    paths[op.path] = {
      ...paths[op.path],
      [op.method]: {
        summary: op.summary,
        operationId: `${op.method}${op.path.replace(/[{}]/g, '').replace(/\/(\w)/g, (_m, c: string) => c.toUpperCase())}`,
        ...(op.params ? { parameters: op.params.map((p) => ({ ...p, schema: { type: 'string' } })) } : {}),
        ...(op.request
          ? {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: jsonSchema(op.request) } },
              },
            }
          : {}),
        // Open operations override the document-wide requirement with "none".
        ...(op.open ? { security: [] } : {}),
        responses,
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'codeexec',
      version,
      description:
        'Run untrusted code in hardened sandboxes. Errors: `{"error":{"code","message","details"}}`, codes: ' +
        `${Object.keys(ERRORS).join(', ')}. Any route may answer 429 rate_limited, with Retry-After and ` +
        'the RateLimit fields, when one address (not loopback) makes more than ' +
        'CODEEXEC_RATE_LIMIT_ADDRESS (ten times CODEEXEC_RATE_LIMIT by default) requests a minute.',
    },
    // Required only when the gateway is started with CODEEXEC_API_KEYS; without keys it is open.
    security: [{ apiKey: [] }],
    components: {
      headers: {
        ...Object.fromEntries(
          Object.entries(RATE_HEADERS).map(([name, description]) => [
            name,
            {
              description: `${description}. Sent when the gateway has rate limits (CODEEXEC_RATE_LIMIT > 0)`,
              schema: name === 'RateLimit-Policy' ? { type: 'string' } : { type: 'integer', minimum: 0 },
            },
          ]),
        ),
        'Retry-After': {
          description: 'Seconds to wait before trying again',
          schema: { type: 'integer', minimum: 1 },
        },
      },
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'One of the keys in CODEEXEC_API_KEYS, as `Authorization: Bearer <key>`',
        },
      },
    },
    paths,
  };
}
