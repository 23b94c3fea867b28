// Callbacks: where a finished job is POSTed, and how its delivery went (stored on the job).
import * as v from 'valibot';

/** Lifecycle of one job's callback delivery. `pending` survives a gateway restart and resumes. */
export const CALLBACK_STATES = {
  pending: 'not delivered yet; attempts continue',
  delivered: 'the target answered 2xx',
  failed:
    'every attempt failed, the target refused it for good (a 4xx other than 408/429), or its address is one callbacks may not reach',
} as const;
export type CallbackState = keyof typeof CALLBACK_STATES;

export const CallbackDeliverySchema = v.object({
  state: v.picklist(Object.keys(CALLBACK_STATES) as CallbackState[]),
  attempts: v.number(),
  /** Why the last attempt failed (an HTTP status or a network error), null after a success. */
  last_error: v.nullable(v.string()),
  delivered_at: v.nullable(v.string()),
});
export type CallbackDelivery = v.InferOutput<typeof CallbackDeliverySchema>;

/** Only plain web targets: fetch would also "POST" to data: URLs, and nothing else makes sense. */
export const CallbackUrlSchema = v.pipe(
  v.string(),
  v.url(),
  v.maxLength(2048),
  // No regex flags: the OpenAPI document is generated from this schema, and JSON Schema has none.
  v.regex(/^[Hh][Tt][Tt][Pp][Ss]?:\/\//, 'callback_url must be an http:// or https:// URL'),
);
