// What a sandbox pool is made of: its options (each with its default) and the driver it needs.
import type { LanguageSpec } from '../../shared/languages.js';
import type { Limits } from '../../shared/limits.js';
import type { Logger } from '../../shared/log.js';
import type { DockerSandbox, SandboxDriver } from '../docker/docker-sandbox.js';

/** The driver the pool needs; without prepareExec or usage it only skips those optimisations. */
export type PoolDriver = SandboxDriver & Partial<Pick<DockerSandbox, 'prepareExec' | 'usage'>>;

export interface PoolOptions {
  /** The runner's display name: a label for people (`docker ps --filter`). */
  runnerName: string;
  /**
   * The runner's identity (runner/identity/): every container carries it, and at start the pool
   * removes the containers a previous process with this identity left. Default: runnerName.
   */
  runnerId?: string;
  /** Default: LANGUAGES from shared/languages.ts. */
  languages?: readonly LanguageSpec[];
  /** Warm containers per language, default 1. */
  minWarm?: number;
  /** Most warm containers per language, default 2 (reached while jobs of it are running). */
  maxWarm?: number;
  /** The runner's own caps; default MAX_LIMITS. */
  maxLimits?: Limits;
  /** The Docker driver; default a DockerSandbox on the local engine. Tests may inject a fake. */
  docker?: PoolDriver;
  /** CPUs per container, default 1 (setCaps changes it for the next job). */
  cpus?: number;
  /**
   * Background creations (refills, version probes) at a time, default 2: create+start is CPU-heavy
   * for the engine. A job waiting for a container always gets a creation of its own at once, as
   * it would without a pool.
   */
  createConcurrency?: number;
  /** Start each warm container's first exec ahead of its job (bash waits in it), default true. */
  prepareExecs?: boolean;
  /** Idle spent containers whose removal may wait for idle time, default maxWarm (0: never). */
  maxDeferred?: number;
  /**
   * How long a stretch of jobs counts as a burst, default 1000 ms: only then do removals wait for
   * idle time (under sustained load that would only move the same work to its end).
   */
  burstMs?: number;
  /**
   * How long no job must run or wait before the pool counts as idle, default 50 ms: then it removes
   * deferred containers and refills up to minWarm. While busy it keeps one warm container per job
   * running (within maxWarm), so a burst drains the stock without engine work beside its jobs.
   */
  quietMs?: number;
  /**
   * How long a session's helper execs (its stop agent's answer, a stop by exec) may take before
   * they count as failed, default 5 s. Tests of the fallbacks shorten it.
   */
  sessionHelperMs?: number;
  /** Wall-time cap of a compile stage, default 30 s. */
  compileWallMs?: number;
  /** Size caps of the /workspace and /tmp tmpfs (their pages also count against memory). */
  workspaceBytes?: number;
  tmpBytes?: number;
  /** Where the pool reports what it cannot throw (failed refills, lost containers). */
  log?: Logger;
}
