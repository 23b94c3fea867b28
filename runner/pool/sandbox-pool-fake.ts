// A fake Docker driver for the pool's unit tests (the seam is PoolDriver). It records what the pool
// asks of it, and lets a test hold creations and jobs, kill containers and break prepared execs.
import type { LanguageSpec } from '../../shared/languages.js';
import {
  type ContainerState,
  type ContainerUsage,
  ExecNotStartedError,
  type ExecRequest,
  type PreparedExec,
  type SandboxContainerSpec,
} from '../docker/docker-sandbox.js';
import { EngineUnreachableError } from '../docker/sandbox-errors.js';
import type { JobSpec } from '../execution/execute-job.js';
import { type PoolDriver, type PoolOptions, SandboxPool } from './sandbox-pool.js';

/** A language whose image the fake has (img/python), as the unit tests' pools offer it. */
export const FAKE_PYTHON: LanguageSpec = {
  name: 'python',
  aliases: ['py'],
  image: 'img/python',
  file: 'main.py',
  run: ['python3', '{main}'],
  version: ['python3', '--version'],
};

let fakeJobs = 0;
/** A python job (`print(1)` unless `extra` says otherwise), with an id of its own. */
export function fakeJob(extra: Partial<JobSpec> = {}): JobSpec {
  return {
    id: `j${++fakeJobs}`,
    lang: 'python',
    code: 'print(1)',
    stdin: null,
    args: [],
    limits: null,
    ...extra,
  };
}

/** A pool on a fake driver: runner `unit`, FAKE_PYTHON, 1–2 warm, unless `options` say otherwise. */
export function fakePool(docker: PoolDriver, options: Partial<PoolOptions> = {}): SandboxPool {
  return new SandboxPool({
    runnerName: 'unit',
    languages: [FAKE_PYTHON],
    docker,
    minWarm: 1,
    maxWarm: 2,
    ...options,
  });
}

/** A manual latch: tests open it when they want the held work to go on. */
export class Gate {
  readonly wait: Promise<void>;
  open: () => void = () => {};

  constructor() {
    this.wait = new Promise((resolve) => {
      this.open = resolve;
    });
  }
}

export class FakePrepared implements PreparedExec {
  readonly containerId: string;
  private readonly docker: FakeDocker;
  private readonly onEnd: () => void;
  private state: 'waiting' | 'used' | 'ended' = 'waiting';
  /** Ended, but the news is still on its way: it looks alive, and run() finds it gone. */
  broken = false;

  constructor(docker: FakeDocker, containerId: string, onEnd: () => void) {
    this.docker = docker;
    this.containerId = containerId;
    this.onEnd = onEnd;
  }

  get alive(): boolean {
    return this.state === 'waiting';
  }

  run(request: ExecRequest): Promise<number | null> {
    if (!this.alive || this.broken || this.docker.dead.has(this.containerId)) {
      this.state = 'ended';
      return Promise.reject(new ExecNotStartedError(new Error('the prepared exec has ended')));
    }
    this.state = 'used';
    return this.docker.runIn(this.containerId, request, true);
  }

  discard(): void {
    if (this.state === 'waiting') this.state = 'ended';
  }

  /** Its process died while waiting (the container was killed): the pool hears at once. */
  die(): void {
    if (this.state !== 'waiting') return;
    this.state = 'ended';
    this.onEnd();
  }
}

export class FakeDocker implements PoolDriver {
  readonly images = new Set(['img/python']);
  readonly live = new Map<string, SandboxContainerSpec>();
  readonly removed: string[] = [];
  readonly updates: { id: string; memoryBytes: number; pids: number; cpus?: number }[] = [];
  /** Containers on which exec fails as if the container had stopped. */
  readonly dead = new Set<string>();
  /** Containers whose job leaves a process behind: usage reports one pid more than idle. */
  readonly leftovers = new Set<string>();
  /** Every exec that ran a stage (`sh …`), in order, and whether it was a prepared one. */
  readonly ran: { id: string; prepared: boolean }[] = [];
  readonly preparedExecs: FakePrepared[] = [];
  inFlight = 0;
  maxInFlight = 0;
  failCreates = 0;
  versionOutput = 'Python 3.11.2\n';
  /** While set, creations wait for it. */
  gate: Promise<void> | null = null;
  /** While set, stage execs (jobs) wait for it after they started. */
  jobGate: Promise<void> | null = null;
  /** While set, the engine does not answer its ping, as when Docker is not running. */
  down = false;
  onDie: (id: string) => void = () => {};
  prepareExec?: PoolDriver['prepareExec'];
  usage?: PoolDriver['usage'];
  private next = 0;

  /** `modern: false` is a driver without prepareExec and usage (plain execs, immediate removal). */
  constructor(options: { modern?: boolean } = {}) {
    if (options.modern === false) return;
    this.prepareExec = async (id, onEnd) => {
      const prepared = new FakePrepared(this, id, onEnd ?? (() => {}));
      this.preparedExecs.push(prepared);
      return prepared;
    };
    this.usage = async (id): Promise<ContainerUsage> => ({
      pids: !this.live.has(id) ? 0 : this.leftovers.has(id) ? 3 : 2,
      memoryBytes: 1024 * 1024,
    });
  }

  async ping(): Promise<void> {
    if (!this.down) return;
    const refused = Object.assign(new Error('connect ENOENT /fake/docker.sock'), { code: 'ENOENT' });
    throw new EngineUnreachableError(refused, 'unix:///fake/docker.sock');
  }

  async imageExists(image: string): Promise<boolean> {
    return this.images.has(image);
  }

  async createAndStart(spec: SandboxContainerSpec): Promise<string> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.gate;
      if (this.failCreates > 0) {
        this.failCreates--;
        throw new Error('no space left on device');
      }
      const id = `c${++this.next}`;
      this.live.set(id, spec);
      return id;
    } finally {
      this.inFlight--;
    }
  }

  exec(id: string, request: ExecRequest): Promise<number | null> {
    return this.runIn(id, request, false);
  }

  async runIn(id: string, request: ExecRequest, prepared: boolean): Promise<number | null> {
    if (this.dead.has(id) || !this.live.has(id)) throw new ExecNotStartedError(new Error('is not running'));
    request.onStarted?.();
    const stage = request.argv[0] === 'sh';
    if (stage) {
      this.ran.push({ id, prepared });
      // A gated job ends early when its container is killed, as a real exec does.
      const killed = new Promise<'killed'>((resolve) => this.#onKill.set(id, () => resolve('killed')));
      const ended = await Promise.race([this.jobGate?.then(() => 'ran' as const) ?? 'ran', killed]);
      this.#onKill.delete(id);
      if (ended === 'killed') return null;
    }
    request.onOutput('stdout', Buffer.from(stage ? `ran in ${id}\n` : this.versionOutput));
    return 0;
  }

  async inspect(): Promise<ContainerState> {
    return { running: false, oomKilled: false };
  }

  readonly #onKill = new Map<string, () => void>();

  async kill(id: string): Promise<void> {
    this.#onKill.get(id)?.();
  }
  async waitStopped(): Promise<void> {}

  async remove(id: string): Promise<void> {
    this.live.delete(id);
    this.removed.push(id);
  }

  async listByLabel(key: string, value: string): Promise<string[]> {
    return [...this.live].filter(([, spec]) => spec.labels[key] === value).map(([id]) => id);
  }

  async update(id: string, limits: { memoryBytes: number; pids: number; cpus?: number }): Promise<void> {
    this.updates.push({ id, ...limits });
  }

  async watchDeaths(_key: string, _value: string, onDie: (id: string) => void): Promise<() => void> {
    this.onDie = onDie;
    return () => {};
  }

  /** The waiting prepared exec of a container, if any. */
  preparedIn(id: string): FakePrepared | undefined {
    return this.preparedExecs.find((p) => p.containerId === id && p.alive);
  }
}
