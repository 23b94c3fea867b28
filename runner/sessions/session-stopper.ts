// How a session stops every process in its sandbox but the keep-alive, and reads its OOM counter:
// through its stop agent, which already runs and so needs no free pid; when a program killed the
// agent, through one exec of STOP_SCRIPT (retried with more pids: a fork bomb may hold them all),
// after which a new agent is started. Only when both fail is the sandbox beyond saving.
import type { Limits } from '../../shared/limits.js';
import type { Logger } from '../../shared/log.js';
import type { SandboxDriver } from '../docker/docker-sandbox.js';
import type { PooledContainer } from '../pool/pooled-container.js';
import { oomCounterArgv, parseOomKills, stopArgv } from './session-sandbox.js';
import { StopAgent } from './stop-agent.js';

/** How long a session's own execs and agent requests (probe, stop, OOM counter) may take. */
/** The default for how long a session's helper exec may take (PoolOptions.sessionHelperMs). */
export const HELPER_EXEC_MS = 5000;
/** Tries of the stop exec: a fork bomb at the pids limit may leave no pid for the first ones. */
const STOP_ATTEMPTS = 4;
/**
 * Pids the container gets above the session's for a retried stop, doubled at each try: room for
 * the stop's exec to start beside a fork bomb. The next execution's fit() restores the limit.
 */
const STOP_PIDS_HEADROOM = 64;
/** Exit codes of a docker exec whose command never ran (runc could not start it: no free pid). */
const EXEC_NOT_RUN = new Set([126, 127]);

/** What the stopper needs of its session's host (SessionHost). */
export interface StopperHost {
  container: PooledContainer;
  limits: Limits;
  docker: Pick<SandboxDriver, 'exec'>;
  log: Logger;
  /** How long a helper exec (the agent's answer, a stop by exec) may take. */
  helperMs: number;
  fit(limits: Limits): Promise<void>;
}

export class SessionStopper {
  readonly #host: StopperHost;
  readonly #keepAlivePid: number;
  /** Null once it is gone and could not be restarted (the exec fallback serves then). */
  #agent: StopAgent | null;
  #closed = false;

  constructor(host: StopperHost, agent: StopAgent, keepAlivePid: number) {
    this.#host = host;
    this.#agent = agent;
    this.#keepAlivePid = keepAlivePid;
  }

  /** Stop every process but the keep-alive. Resolves null when done, else why it could not be. */
  async stop(): Promise<string | null> {
    const agent = this.#agent;
    if (agent?.alive) {
      try {
        return (await agent.stop(this.#keepAlivePid)) === 'stopped' ? null : 'its keep-alive process is gone';
      } catch (err) {
        this.#host.log.warn(
          { container: this.#host.container.id, err },
          "a session's stop agent failed; stopping with an exec",
        );
      }
    }
    return this.#stopByExec();
  }

  /** The memory cgroup's OOM-kill counter; null when it cannot be read. */
  async oomKills(): Promise<number | null> {
    try {
      const agent = this.#agent;
      if (agent?.alive) return await agent.oomKills();
      return parseOomKills((await helperExec(this.#host, oomCounterArgv())).text);
    } catch (err) {
      this.#host.log.warn({ err }, 'could not read a session sandbox OOM counter');
      return null;
    }
  }

  /** The session ended: its agent exits. */
  close(): void {
    this.#closed = true;
    this.#agent?.close();
  }

  async #stopByExec(): Promise<string | null> {
    let failure = '';
    for (let attempt = 1; attempt <= STOP_ATTEMPTS; attempt++) {
      if (attempt > 1) await this.#roomForStop(STOP_PIDS_HEADROOM * 2 ** (attempt - 2));
      try {
        const { code } = await helperExec(this.#host, stopArgv(this.#keepAlivePid));
        if (code === 0) {
          await this.#restartAgent();
          return null;
        }
        failure = `the stop exec ended with ${code}`;
        // Its script fails only when the keep-alive is gone: the container is ending anyway.
        if (code === null || !EXEC_NOT_RUN.has(code)) break;
      } catch (err) {
        failure = (err as Error).message;
      }
    }
    return `its processes could not be stopped (${failure})`;
  }

  /** After a stop by exec (every other process is gone: pids are free), a new agent for next time. */
  async #restartAgent(): Promise<void> {
    this.#agent?.close();
    this.#agent = null;
    try {
      const { agent } = await StopAgent.start(
        this.#host.docker,
        this.#host.container.id ?? '',
        this.#host.helperMs,
      );
      if (this.#closed) agent.close();
      else this.#agent = agent;
    } catch (err) {
      this.#host.log.warn({ err }, "could not restart a session's stop agent");
    }
  }

  /** Raise the container's pids limit by `extra` (its memory unchanged), so an exec can start. */
  async #roomForStop(extra: number): Promise<void> {
    const { container, limits } = this.#host;
    const memory = container.memoryBytes > 0 ? container.memoryBytes : limits.memory_bytes;
    try {
      await this.#host.fit({ ...limits, memory_bytes: memory, pids: limits.pids + extra });
    } catch (err) {
      this.#host.log.warn({ err }, 'could not raise a session sandbox pids limit');
    }
  }
}

/** A short exec of the session's own (never the prepared one), its output as text. */
async function helperExec(
  host: Pick<StopperHost, 'container' | 'docker' | 'helperMs'>,
  argv: string[],
): Promise<{ code: number | null; text: string }> {
  const chunks: Buffer[] = [];
  const code = await host.docker.exec(host.container.id ?? '', {
    argv,
    input: null,
    onOutput: (_stream, data) => chunks.push(Buffer.from(data)),
    signal: AbortSignal.timeout(host.helperMs),
  });
  return { code, text: Buffer.concat(chunks).toString('utf8') };
}
