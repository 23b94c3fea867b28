// The fleet: the gateways that share one job store, as an interface. Each gateway owns the jobs
// submitted to it (it queues them for its runners and stores their ends) and holds a lease on its
// membership, renewed by beats; when a gateway's lease runs out (it died, or lost its database),
// the living ones claim its unfinished jobs and its undelivered callbacks. One gateway on its own
// files is a fleet of one (solo-fleet.ts); gateways on PostgreSQL fill it with rows
// (store/postgres/postgres-fleet.ts). The shell that beats and claims is fleet-keeper.ts.
import type { JobRecord, RunnerView } from '../../shared/index.js';

/** What a gateway shows of itself to the others, as of its last beat. */
export interface MemberInfo {
  /** Where it listens (its own view: behind a proxy, the proxy's address differs). */
  url: string;
  runners: RunnerView[];
}

export interface FleetMember extends MemberInfo {
  id: string;
  /** When its lease runs out unless it beats again (ISO 8601, the database's clock). */
  expires_at: string;
}

/** Unfinished jobs of the other gateways, counted as the caps count them. */
export interface UsageElsewhere {
  queued: number;
  /** Queued and running jobs per client (`key:…` or `addr:…`). */
  byClient: ReadonlyMap<string, number>;
}

export const NO_USAGE: UsageElsewhere = { queued: 0, byClient: new Map() };

/** What a claim of a job a runner reported held came to. */
export type HeldClaim =
  /** It is this gateway's now (it was, or its owner's lease ran out): the record as stored. */
  | { kind: 'claimed'; job: JobRecord }
  /** Finished, unknown, or running on another runner: the runner must drop it. */
  | { kind: 'ended' }
  /** A living gateway owns it: ask again once that gateway's lease may have run out. */
  | { kind: 'owned'; owner: string };

export interface Fleet {
  /** This gateway's id in the fleet. */
  readonly id: string;
  /** Whether other gateways may share the store (false: a fleet of one, nothing to claim). */
  readonly shared: boolean;
  /** Takes (or renews) this gateway's lease for `ttlMs` from now, showing `info`. */
  beat(ttlMs: number, info: MemberInfo): Promise<void>;
  /** Ends this gateway's lease now: the others may claim its jobs at once. */
  leave(): Promise<void>;
  /**
   * Claims jobs whose owner's lease ran out (or that have none): queued ones, finished ones whose
   * callback is pending, and running ones whose runner is one of `runners` (connected here) — or
   * whose owner's lease ran out more than `graceMs` ago, so their runner had time to reconnect
   * elsewhere. At most `limit`, oldest first, each claimed by exactly one gateway.
   */
  claimOrphans(runners: readonly string[], graceMs: number, limit: number): Promise<JobRecord[]>;
  /** Claims a job that `runner`, connected here, reports it holds (see HeldClaim). */
  claimHeld(id: string, runner: string): Promise<HeldClaim>;
  /**
   * Hands queued jobs this gateway owns to gateway `to` (fleet/handoff.ts says which). Resolves
   * with the ids that moved: those still queued and this gateway's.
   */
  handOff(ids: readonly string[], to: string): Promise<string[]>;
  /** Takes the jobs handed to this gateway and not yet taken, oldest first. */
  takeHanded(): Promise<JobRecord[]>;
  /**
   * What the other gateways' unfinished jobs take of the fleet's caps (CODEEXEC_MAX_QUEUE,
   * CODEEXEC_MAX_JOBS_PER_KEY): how many are queued, and how many each client has.
   */
  usageElsewhere(): Promise<UsageElsewhere>;
  /** Of `ids`, those another gateway owns now (claimed while this one's lease had run out). */
  ownedElsewhere(ids: readonly string[]): Promise<string[]>;
  /** The gateways whose lease runs, this one included. */
  members(): Promise<FleetMember[]>;
}
