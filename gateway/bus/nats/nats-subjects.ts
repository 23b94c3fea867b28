// The NATS subjects of the bus. A job's id becomes one subject token: ids are UUIDs (hex digits
// and '-'), which go as they are; but an id can also come from a client (a URL's path names the
// job to cancel), and NATS gives '.', '*', '>' and whitespace a meaning, so any other id goes as
// '~' and a hash of it ('~' never appears in an id that goes as it is, so the two cannot meet).
import { createHash } from 'node:crypto';

export const SUBJECT_PREFIX = 'codeexec';

/** Every gateway listens here; a wake carries no payload. */
export const WAKE_SUBJECT = `${SUBJECT_PREFIX}.wake`;

/** What every gateway subscribes to, to answer control for the jobs it holds. */
export const CONTROL_SUBJECTS = `${SUBJECT_PREFIX}.control.*`;

/** Ids as the gateway makes them, and short enough to keep a subject well under NATS's limits. */
const PLAIN_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The job's id as one token of a subject. */
export function jobToken(jobId: string): string {
  if (PLAIN_ID.test(jobId)) return jobId;
  return `~${createHash('sha256').update(jobId).digest('base64url')}`;
}

/** Where a job's events are published. */
export function jobSubject(jobId: string): string {
  return `${SUBJECT_PREFIX}.job.${jobToken(jobId)}`;
}

/** Where one gateway of the fleet is nudged (its id is a plain token: fleet/gateway-id.ts). */
export function gatewaySubject(gatewayId: string): string {
  return `${SUBJECT_PREFIX}.gateway.${jobToken(gatewayId)}`;
}

/** Where input for a job is requested. */
export function controlSubject(jobId: string): string {
  return `${SUBJECT_PREFIX}.control.${jobToken(jobId)}`;
}
