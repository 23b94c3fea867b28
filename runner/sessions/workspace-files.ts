// One listing of a session's /workspace: a short docker exec of find (file-listing.ts) in the
// session's container, as the container's user (the sandbox user: it sees what the programs see,
// and can reach nothing they cannot). Its output is read up to a cap, its time is bounded inside
// the container (timeout) and outside (the exec is abandoned if the engine does not answer).
import { CodeexecError } from '../../shared/errors.js';
import type { SandboxDriver } from '../docker/docker-sandbox.js';
import {
  type FileListing,
  LISTING_OUTPUT_CAP,
  LISTING_TIME_LIMIT_S,
  LISTING_TIMED_OUT,
  listingArgv,
  parseListing,
} from './file-listing.js';

/** How long past find's own limit the exec may take before it is abandoned (docker's own work). */
const ENGINE_SLACK_MS = 1000;
/** find's exit codes that still mean a listing: 1 is a directory it could not read, or a file gone. */
const LISTED = new Set([0, 1]);
/** The exit code of a listing SIGKILLed, by a session's stop that ran beside it. */
export const LISTING_KILLED = 137;

export type ListingRun = { listed: FileListing } | { killed: true };

/**
 * List the container's workspace once. Resolves with the listing, or `killed` when something
 * (the session's stop after an execution) killed it; rejects with CodeexecError sandbox_failed.
 */
export async function listWorkspace(
  docker: Pick<SandboxDriver, 'exec'>,
  containerId: string,
): Promise<ListingRun> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let stderr = '';
  let capped = false;
  const abandon = new AbortController();
  const timeoutMs = LISTING_TIME_LIMIT_S * 1000 + ENGINE_SLACK_MS;
  const timer = setTimeout(() => abandon.abort(), timeoutMs);
  let code: number | null;
  try {
    code = await docker.exec(containerId, {
      argv: listingArgv(),
      input: null,
      signal: abandon.signal,
      onOutput: (stream, data) => {
        if (stream === 'stderr') {
          if (stderr.length < 200) stderr += data.toString('utf8');
          return;
        }
        if (capped) return;
        const room = LISTING_OUTPUT_CAP - bytes;
        chunks.push(Buffer.from(data.length > room ? data.subarray(0, room) : data));
        bytes += Math.min(data.length, room);
        if (data.length >= room) {
          capped = true;
          abandon.abort();
        }
      },
    });
  } catch (err) {
    throw new CodeexecError(
      'sandbox_failed',
      `Could not list the session's files: ${(err as Error).message}`,
    );
  } finally {
    clearTimeout(timer);
  }
  const output = Buffer.concat(chunks);
  if (capped) return { listed: parseListing(output, true) };
  if (code === null) {
    throw new CodeexecError(
      'sandbox_failed',
      `The session's sandbox did not list its files within ${timeoutMs / 1000} s`,
    );
  }
  if (LISTED.has(code)) return { listed: parseListing(output, false) };
  if (code === LISTING_TIMED_OUT) return { listed: parseListing(output, true) };
  if (code === LISTING_KILLED) return { killed: true };
  const said = stderr.trim().slice(0, 200);
  throw new CodeexecError(
    'sandbox_failed',
    `Could not list the session's files: the listing ended with ${code}${said === '' ? '' : `: ${said}`}`,
  );
}
