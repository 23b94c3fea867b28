// Jobs a runner reported it holds (in its hello) that this gateway did not know: another gateway
// owned them, and it may have died. They wait here while the fleet is asked for them
// (fleet-keeper.ts); a result the runner sends meanwhile is kept, to be taken once the job is ours.
import type { RunResult } from '../../shared/index.js';
import type { RunnerConnection } from '../runners/runner-connection.js';

export interface HeldClaim {
  runner: RunnerConnection;
  /** The job's end, if the runner sent it while the claim was under way. */
  done?: { result?: RunResult; error?: { code: string; message: string } };
}

export class HeldClaims {
  readonly #claims = new Map<string, HeldClaim>();

  add(id: string, runner: RunnerConnection): void {
    this.#claims.set(id, { runner });
  }

  /** Whether `runner` reported `id` and its claim is under way. */
  has(id: string, runner: RunnerConnection): boolean {
    return this.#claims.get(id)?.runner === runner;
  }

  /** Keeps the end `runner` sent for a job under claim. False if it is not under claim for it. */
  keepDone(id: string, runner: RunnerConnection, done: NonNullable<HeldClaim['done']>): boolean {
    const claim = this.#claims.get(id);
    if (claim?.runner !== runner) return false;
    claim.done = done;
    return true;
  }

  /** The claim of `id`, taken out (undefined if none). */
  take(id: string): HeldClaim | undefined {
    const claim = this.#claims.get(id);
    this.#claims.delete(id);
    return claim;
  }

  /** Forgets the claims of a runner that went away (its jobs are its next gateway's concern). */
  dropRunner(runner: RunnerConnection): void {
    for (const [id, claim] of this.#claims) if (claim.runner === runner) this.#claims.delete(id);
  }
}
