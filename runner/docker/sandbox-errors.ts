// What can go wrong under a sandbox that is not the program's doing, as errors the pool and the
// runner tell apart: an exec that never ran (safe to run elsewhere), a container lost under a job
// (someone removed or killed it, the engine restarted), an engine that cannot be reached.

/** The exec could not be started; the program never ran, so running it elsewhere is safe. */
export class ExecNotStartedError extends Error {
  constructor(cause: unknown) {
    super(`docker exec did not start: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'ExecNotStartedError';
  }
}

/**
 * The container went away under a running exec without the runner killing it: removed or killed
 * by something else (`docker rm -f`, a cleanup script, the engine restarting). What the program
 * printed so far is not its result.
 */
export class SandboxLostError extends Error {
  constructor(detail: string, cause?: unknown) {
    super(
      `its container was stopped or removed by something other than the runner (${detail}); ` +
        'nothing it printed is a result',
      { cause },
    );
    this.name = 'SandboxLostError';
  }
}

/** Socket-level failures: the engine is not there (or not ours to use), not a refusal of one request. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOENT',
  'EACCES',
  'EPERM',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Whether `err` says the engine could not be reached at all (no HTTP answer came). */
export function isEngineUnreachable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNREACHABLE_CODES.has(code);
}

/** A sentence for people: the engine at `target` cannot be reached, and how to fix that. */
export function engineProblem(err: unknown, target: string): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = (err as Error)?.message ?? String(err);
  const pointAt =
    'or point the runner at the engine (the `docker` option; CODEEXEC_DOCKER_HOST or ' +
    'CODEEXEC_DOCKER_SOCKET for `codeexec runner`)';
  if (code === 'EACCES' || code === 'EPERM') {
    return (
      `The Docker engine at ${target} refuses this user (${message}): add the user to the docker ` +
      'group (`sudo usermod -aG docker $USER`, then log in again), or run the runner as a user ' +
      'that may use Docker'
    );
  }
  if (code === 'ENOENT' || code === 'ECONNREFUSED') {
    return (
      `The Docker engine is not running at ${target} (${message}): start Docker (Docker Desktop, ` +
      `or \`sudo systemctl start docker\`), ${pointAt}`
    );
  }
  return `The Docker engine at ${target} does not answer (${message}): check that it runs, ${pointAt}`;
}

/** The engine cannot be reached; the message says where it was looked for and how to fix that. */
export class EngineUnreachableError extends Error {
  constructor(cause: unknown, target: string) {
    super(engineProblem(cause, target), { cause });
    this.name = 'EngineUnreachableError';
  }
}
