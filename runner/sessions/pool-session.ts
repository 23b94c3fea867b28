// A session: one pooled container leased for a client's session, in which executions run one at a
// time, each like a pooled job, and share /workspace. The runner's kills (wall time, output cap,
// cancel) end the sandbox user's processes, not the container, so the files stay: the session's
// stop agent (stop-agent.ts), started with it, stops them without needing a free pid. Only when
// that fails too is the container killed, and the session is lost. What an execution leaves running
// ends after it, as a pooled job's processes end with its container: files persist, processes do
// not. It ends on close() (the container goes to the pool's reaper), or when its container is lost
// (died, killed, the pool closing).
import { CodeexecError } from '../../shared/errors.js';
import type { RunResult } from '../../shared/job.js';
import type { LanguageSpec } from '../../shared/languages.js';
import type { Limits, LimitsInput } from '../../shared/limits.js';
import type { Logger } from '../../shared/log.js';
import { ExecNotStartedError, type SandboxDriver } from '../docker/docker-sandbox.js';
import { cancelledBeforeStart, type JobIo, type JobSpec, sandboxFailure } from '../execution/execute-job.js';
import type { StageSandbox } from '../execution/run-stage.js';
import type { PooledContainer } from '../pool/pooled-container.js';
import type { FileListing } from './file-listing.js';
import { parseProbe } from './session-sandbox.js';
import { SessionStopper } from './session-stopper.js';
import { StopAgent } from './stop-agent.js';
import { listWorkspace } from './workspace-files.js';

/** open (idle) ⇄ running → ending → ended; `ending` waits for the running execution, if any. */
export type SessionState = 'open' | 'running' | 'ending' | 'ended';

/** What a session needs of its pool: SandboxPool.openSession binds it to one leased container. */
export interface SessionHost {
  container: PooledContainer;
  language: LanguageSpec;
  /** Already clamped to the runner's maximums. */
  limits: Limits;
  docker: Pick<SandboxDriver, 'exec' | 'kill'>;
  log: Logger;
  /** How long a helper exec (the stop agent's answer, a stop by exec) may take. */
  helperMs: number;
  /** A job's limits clamped to the runner's maximums. */
  clamp(requested: LimitsInput | null): Limits;
  /** Give the container these memory and pids limits, if it does not have them. */
  fit(limits: Limits): Promise<void>;
  /** Run one job in the container (the pool's one place that builds a job's context). */
  run(job: JobSpec, limits: Limits, io: JobIo, sandbox: StageSandbox): Promise<RunResult>;
  /** The session is over: the container is spent and the pool's reaper removes it. */
  release(): void;
}

export class PoolSession {
  readonly language: string;
  /** The session's limits: memory_bytes and pids are its container's for the session's life. */
  readonly limits: Limits;
  /**
   * Resolves once the sandbox is lost (its container died or had to be killed, or the pool is
   * closing), with why; the session then ends by itself. Never resolves for a session closed by
   * close() first.
   */
  readonly lost: Promise<CodeexecError>;
  readonly #host: SessionHost;
  /** Stops every process but the keep-alive (its agent, or an exec when the agent is gone). */
  readonly #stopper: SessionStopper;
  /** The OOM-kill counter as last read: a rise since tells an OOM kill from other SIGKILLs. */
  #oomKills: number | null;
  #state: SessionState = 'open';
  #lostWith: CodeexecError | null = null;
  #resolveLost: (error: CodeexecError) => void = () => {};
  #running: { abort: AbortController; ended: Promise<unknown> } | null = null;
  /** The stop after the last execution (see #tidy); the next one waits for it. */
  #tidied: Promise<void> = Promise.resolve();
  /** No process of an execution can be left: none ran since the last successful stop. */
  #clean = true;
  /** The stop exec in flight: a runner's kill and the tidy-up after an execution share it. */
  #stopping: Promise<void> | null = null;
  #ending: Promise<void> | null = null;
  /** The listing running (settled when none), and the one waiting for it that later requests share. */
  #listing: Promise<unknown> = Promise.resolve();
  #nextListing: Promise<FileListing> | null = null;
  readonly #sandbox: StageSandbox = {
    stop: () => this.#stopProcesses(),
    oomKilled: () => this.#oomKilled(),
  };

  private constructor(host: SessionHost, agent: StopAgent, keepAlivePid: number, oomKills: number | null) {
    this.#host = host;
    this.language = host.language.name;
    this.limits = host.limits;
    this.#stopper = new SessionStopper(host, agent, keepAlivePid);
    this.#oomKills = oomKills;
    this.lost = new Promise((resolve) => {
      this.#resolveLost = resolve;
    });
    host.container.onLost = (why) => this.#lose(`The session's sandbox is gone: ${why}`);
  }

  /**
   * Size the leased container for the session, start its stop agent and look inside it (the
   * agent's probe; a fresh exec: the container's prepared one is left for the first execution). On
   * failure the container goes back to the pool.
   */
  static async open(host: SessionHost): Promise<PoolSession> {
    let agent: StopAgent | null = null;
    try {
      await host.fit(host.limits);
      const started = await StopAgent.start(host.docker, host.container.id ?? '', host.helperMs);
      agent = started.agent;
      const probe = parseProbe(started.probe);
      return new PoolSession(host, agent, probe.keepAlivePid, probe.oomKills);
    } catch (err) {
      agent?.close();
      host.release();
      throw sandboxFailure(err, 'Could not open a session sandbox');
    }
  }

  get state(): SessionState {
    return this.#state;
  }

  /** The docker id of the session's container (logs and tests). */
  get containerId(): string {
    return this.#host.container.id ?? '';
  }

  /**
   * Run one execution, exactly like a pooled job, in the session's sandbox. Its memory_bytes and
   * pids are the session's (the sandbox's); its other limits are its own. Rejects with
   * CodeexecError: sandbox_failed (also when the session is busy, ending or lost).
   */
  async execute(
    job: JobSpec,
    onOutput: JobIo['onOutput'],
    signal?: AbortSignal,
    onStage?: JobIo['onStage'],
  ): Promise<RunResult> {
    if (this.#state !== 'open') {
      const why = this.#state === 'running' ? 'is running another execution' : 'has ended';
      throw this.#lostWith ?? new CodeexecError('sandbox_failed', `The session ${why}`);
    }
    const limits: Limits = {
      ...this.#host.clamp(job.limits),
      memory_bytes: this.limits.memory_bytes,
      pids: this.limits.pids,
    };
    const abort = new AbortController();
    const io: JobIo = {
      onOutput,
      onStage,
      signal: signal === undefined ? abort.signal : AbortSignal.any([signal, abort.signal]),
    };
    this.#state = 'running';
    const run = this.#run(job, limits, io);
    this.#running = { abort, ended: run.catch(() => {}) };
    try {
      return await run;
    } finally {
      this.#running = null;
      this.#tidied = this.#tidy();
      if (this.#state === 'running') this.#state = 'open';
    }
  }

  /**
   * The regular files in the session's workspace, now, whether an execution runs or not: one short
   * exec of its own (workspace-files.ts). One listing at a time: requests that come while one runs
   * share the next, so a client asking often costs one exec at a time. Rejects with CodeexecError:
   * sandbox_failed, or session_closed once the session is ending.
   */
  listFiles(): Promise<FileListing> {
    if (this.#nextListing !== null) return this.#nextListing;
    const next = this.#listing.then(() => {
      this.#nextListing = null;
      return this.#listOnce();
    });
    this.#nextListing = next;
    this.#listing = next.catch(() => {});
    return next;
  }

  /** Cancel the running execution (it still resolves, reason cancelled), then remove the sandbox. Idempotent. */
  close(): Promise<void> {
    this.#running?.abort.abort();
    return this.#windUp();
  }

  async #run(job: JobSpec, limits: Limits, io: JobIo): Promise<RunResult> {
    const container = this.#host.container;
    try {
      await this.#tidied;
      if (this.#lostWith !== null) throw this.#lostWith;
      // A compile stage of the execution before may have left its own limits on the container.
      await this.#host.fit(limits);
      this.#clean = false;
      for (let attempt = 1; ; attempt++) {
        const prepared = container.prepared !== null;
        try {
          return await this.#host.run(job, limits, io, this.#sandbox);
        } catch (err) {
          if (io.signal?.aborted && !container.closedUnderJob) return cancelledBeforeStart();
          const retry = err instanceof ExecNotStartedError && attempt === 1 && this.#lostWith === null;
          if (!retry) throw err;
          // The program never ran. A prepared exec that ended is replaced by a fresh exec; otherwise
          // make room first, in case something holds every pid.
          if (!prepared) await this.#sandbox.stop();
          if (this.#lostWith !== null) throw this.#lostWith;
        }
      }
    } catch (err) {
      throw sandboxFailure(this.#lostWith ?? err, 'The sandbox failed to run the execution');
    } finally {
      // executeJob moves a compiled language's container to its compile limits and back: if it
      // stopped half-way, the next execution's fit() must see a difference.
      if (this.#host.language.compile !== undefined) container.memoryBytes = 0;
    }
  }

  async #listOnce(): Promise<FileListing> {
    for (let attempt = 1; ; attempt++) {
      // A stop (after an execution, or a kill) ends every process but the keep-alive, a listing's
      // find included: list once it is over. One that starts during the listing kills it: again.
      await Promise.allSettled([this.#tidied, this.#stopping]);
      if (this.#lostWith !== null) throw this.#lostWith;
      if (this.#ending !== null) throw new CodeexecError('session_closed', 'The session has ended');
      const run = await listWorkspace(this.#host.docker, this.containerId);
      if ('listed' in run) return run.listed;
      if (attempt === 2) {
        throw new CodeexecError('sandbox_failed', "The session's file listing was killed twice");
      }
    }
  }

  /**
   * After each execution, every process it left ends (one stop exec, off the execution's own
   * time: the next one waits for it): a stray process holding pids or memory, a fork bomb left
   * running, would otherwise starve every later execution. Not needed after the runner's own stop.
   */
  #tidy(): Promise<void> {
    if (this.#clean || this.#lostWith !== null || this.#ending !== null) return Promise.resolve();
    return this.#stopProcesses().catch(() => {});
  }

  /** The end of the session: once the running execution (if any) has ended, the container goes. */
  #windUp(): Promise<void> {
    this.#ending ??= (async () => {
      this.#state = 'ending';
      await this.#running?.ended;
      this.#state = 'ended';
      this.#host.container.onLost = null;
      this.#stopper.close();
      this.#host.release();
    })();
    return this.#ending;
  }

  /** The container died or had to be killed: the running execution ends as a job's would. */
  #lose(message: string): void {
    if (this.#lostWith !== null || this.#ending !== null) return;
    this.#lostWith = new CodeexecError('sandbox_failed', message);
    this.#host.log.warn(
      { container: this.#host.container.id, reason: message },
      'a session lost its sandbox',
    );
    this.#resolveLost(this.#lostWith);
    void this.#windUp();
  }

  /** StageSandbox.stop: every process but the keep-alive; the whole container only if that fails. */
  #stopProcesses(): Promise<void> {
    this.#stopping ??= this.#stop().finally(() => {
      this.#stopping = null;
    });
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const failure = await this.#stopper.stop();
    if (failure === null) {
      this.#clean = true;
      return;
    }
    this.#lose(`The session's sandbox failed: ${failure}; it was killed, and its files are lost`);
    await this.#host.docker.kill(this.#host.container.id ?? '');
  }

  /** StageSandbox.oomKilled: did the cgroup's OOM-kill counter rise since this session last read it? */
  async #oomKilled(): Promise<boolean> {
    const now = await this.#stopper.oomKills();
    const before = this.#oomKills;
    if (now !== null) this.#oomKills = now;
    return now !== null && before !== null && now > before;
  }
}
