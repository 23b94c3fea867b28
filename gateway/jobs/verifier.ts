// Verified jobs, carried out. A job that asks for `verify` is not queued itself: its replicas are
// — internal jobs (`replica_of` set) queued like any other, each placed on a runner identity none
// of its siblings used. When replicas end, scheduling/verification.ts says what next; this starts
// more replicas, or ends the job with the result a quorum agreed on (and its `verification`), or
// fails it. It also tells the reliability book who agreed and who did not.
//
// The job itself is `queued` until its first replica starts, then `running` (with no runner of its
// own) until it ends. Its watchers see no output: a result is known only once replicas agree.
// Cancelling it cancels its replicas. After a gateway restart, a verified job still unfinished
// starts over: its old replicas are cancelled, and new ones run.
import { randomUUID } from 'node:crypto';
import type { JobRecord, Logger, Verification } from '../../shared/index.js';
import type { JobEvents } from '../events/job-events.js';
import type { ReliabilityBook } from '../runners/reliability-book.js';
import type { RunnerRegistry } from '../runners/runner-registry.js';
import type { Clock } from '../scheduling/clock.js';
import { canEverRun, identityOf } from '../scheduling/scheduler.js';
import { nextStep, type ReplicaOutcome, resultKey } from '../scheduling/verification.js';
import type { JobBook } from './job-book.js';
import type { JobLifecycle } from './job-lifecycle.js';

export interface VerifierParts {
  book: JobBook;
  registry: RunnerRegistry;
  events: JobEvents;
  clock: Clock;
  log: Logger;
  life: JobLifecycle;
  reliability: ReliabilityBook;
  /** Queues a replica just added to the book (the dispatcher's enqueue). */
  enqueue: (job: JobRecord) => void;
}

interface Replica {
  jobId: string;
  /** Set when it starts on a runner. */
  runnerId: string | null;
  identity: string | null;
  tier: 'trusted' | 'donor' | null;
  outcome: ReplicaOutcome;
  /** Its final record, once it ended with a result (the book keeps only live jobs). */
  record?: JobRecord;
}

interface Group {
  quorum: number;
  maxReplicas: number;
  replicas: Replica[];
}

export class Verifier {
  readonly #p: VerifierParts;
  readonly #groups = new Map<string, Group>();
  readonly #unsubscribe: (() => void)[];

  constructor(parts: VerifierParts) {
    this.#p = parts;
    this.#unsubscribe = [
      parts.events.on('job.started', ({ job }) => this.#started(job)),
      parts.events.on('job.finished', ({ job }) => this.#finished(job)),
    ];
  }

  /** Whether the job is verified through replicas (rather than queued itself). */
  static verifies(job: JobRecord): boolean {
    return job.verify !== null && job.replica_of === null;
  }

  /** Starts verifying a job just added to the book (or recovered after a restart). */
  begin(job: JobRecord): void {
    const verify = job.verify!;
    // A job only trusted runners may run needs no second opinion: one replica's word.
    const quorum = job.trust === 'trusted' ? 1 : verify.quorum;
    const maxReplicas = Math.max(quorum, verify.max_replicas ?? verify.quorum + 2);
    this.#groups.set(job.id, { quorum, maxReplicas, replicas: [] });
    this.#step(job.id);
  }

  /** The runner identities a replica must avoid: those its siblings ran or were offered on. */
  avoidFor(job: JobRecord): string[] {
    if (job.replica_of === null) return [];
    const group = this.#groups.get(job.replica_of);
    if (group === undefined) return [];
    const avoid: string[] = [];
    for (const replica of group.replicas) {
      if (replica.jobId === job.id) continue;
      const offeredTo = this.#p.registry.holderOf(replica.jobId);
      const identity = replica.identity ?? (offeredTo ? identityOf(offeredTo.view()) : null);
      if (identity !== null) avoid.push(identity);
    }
    return avoid;
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
  }

  #started(job: JobRecord): void {
    if (job.replica_of === null) return;
    const group = this.#groups.get(job.replica_of);
    const replica = group?.replicas.find((r) => r.jobId === job.id);
    if (replica === undefined) return;
    const runner = job.runner_id === null ? undefined : this.#p.registry.get(job.runner_id);
    replica.runnerId = job.runner_id;
    replica.identity = runner ? identityOf(runner.view()) : job.runner_id;
    replica.tier = runner?.tier ?? null;
    const parent = this.#p.book.get(job.replica_of);
    if (parent?.status === 'queued') {
      const now = this.#p.clock.now();
      const started = this.#p.book.transition(parent.id, 'running', {
        started_at: new Date(now).toISOString(),
        timings: { ...parent.timings, queue_ms: now - Date.parse(parent.created_at) },
        verification: this.#verification(group!, 'pending', null),
      });
      this.#p.events.publish(started, { type: 'started', job: started });
    }
  }

  #finished(job: JobRecord): void {
    if (job.replica_of === null) {
      // A verified job that ended some other way (cancelled): its replicas go too.
      const group = this.#groups.get(job.id);
      if (group === undefined) return;
      this.#groups.delete(job.id);
      for (const replica of group.replicas)
        if (replica.outcome.kind === 'running') this.#p.life.cancel(replica.jobId);
      return;
    }
    const group = this.#groups.get(job.replica_of);
    const replica = group?.replicas.find((r) => r.jobId === job.id);
    if (replica === undefined || replica.outcome.kind !== 'running') return;
    if (job.status === 'done') {
      replica.outcome = { kind: 'result', key: resultKey(job) };
      replica.record = job;
    } else if (job.status === 'failed' && job.error) replica.outcome = { kind: 'error', ...job.error };
    else replica.outcome = { kind: 'error', code: 'cancelled', message: 'the replica was cancelled' };
    this.#step(job.replica_of);
  }

  #step(parentId: string): void {
    const group = this.#groups.get(parentId);
    const parent = this.#p.book.get(parentId);
    if (group === undefined || parent === undefined) return;
    const step = nextStep(
      group.quorum,
      group.maxReplicas,
      group.replicas.map((r) => ({ jobId: r.jobId, outcome: r.outcome })),
    );
    switch (step.kind) {
      case 'wait':
        return;
      case 'more':
        for (let i = 0; i < step.count; i++) this.#startReplica(parent, group, step.preferTrusted);
        return;
      case 'accept':
        this.#accept(parent, group, step.winner, new Set(step.agreed), new Set(step.disagreed));
        return;
      case 'fail':
        this.#groups.delete(parentId);
        for (const r of group.replicas) if (r.outcome.kind === 'running') this.#p.life.cancel(r.jobId);
        this.#p.life.finish(parentId, 'failed', {
          error: step.error,
          verification: this.#verification(
            group,
            step.error.code === 'unverified' ? 'unverified' : 'pending',
            null,
          ),
          timings: { ...parent.timings, total_ms: this.#p.clock.now() - Date.parse(parent.created_at) },
        });
        return;
    }
  }

  #startReplica(parent: JobRecord, group: Group, preferTrusted: boolean): void {
    const avoid = group.replicas.map((r) => r.identity).filter((id): id is string => id !== null);
    const placement = { lang: parent.lang, labels: parent.labels, refusedBy: [], avoid };
    const trusted =
      parent.trust === 'trusted' ||
      (preferTrusted && canEverRun({ ...placement, trust: 'trusted' }, this.#p.registry.views()) === 'yes');
    const replica: JobRecord = {
      ...parent,
      id: randomUUID(),
      task_id: null,
      status: 'queued',
      trust: trusted ? 'trusted' : 'any',
      verify: null,
      verification: null,
      replica_of: parent.id,
      callback_url: null,
      callback: null,
      runner_id: null,
      attempt: 0,
      created_at: new Date(this.#p.clock.now()).toISOString(),
      started_at: null,
      finished_at: null,
    };
    group.replicas.push({
      jobId: replica.id,
      runnerId: null,
      identity: null,
      tier: null,
      outcome: { kind: 'running' },
    });
    void this.#p.book.insert(replica).catch(() => {}); // a failed write is reported by the book
    this.#p.enqueue(replica);
  }

  #accept(
    parent: JobRecord,
    group: Group,
    winnerId: string,
    agreed: Set<string>,
    disagreed: Set<string>,
  ): void {
    this.#groups.delete(parent.id);
    const winner = group.replicas.find((r) => r.jobId === winnerId)?.record;
    if (winner === undefined) return;
    if (group.quorum > 1) {
      const at = new Date(this.#p.clock.now()).toISOString();
      for (const replica of group.replicas) {
        if (replica.identity === null) continue;
        if (agreed.has(replica.jobId)) this.#p.reliability.agreed(replica.identity);
        else if (disagreed.has(replica.jobId)) this.#p.reliability.disagreed(replica.identity, at);
      }
    }
    const state = group.quorum > 1 ? 'agreed' : 'single';
    this.#p.life.finish(parent.id, 'done', {
      output: winner.output,
      exit_code: winner.exit_code,
      stdout: winner.stdout,
      stderr: winner.stderr,
      signal: winner.signal,
      reason: winner.reason,
      compile: winner.compile,
      output_files: winner.output_files,
      output_capped: winner.output_capped,
      runner_id: winner.runner_id,
      error: null,
      verification: this.#verification(group, state, agreed),
      timings: {
        ...winner.timings,
        queue_ms: parent.timings.queue_ms,
        total_ms: this.#p.clock.now() - Date.parse(parent.created_at),
      },
    });
  }

  #verification(group: Group, state: Verification['state'], agreed: Set<string> | null): Verification {
    return {
      state,
      quorum: group.quorum,
      replicas: group.replicas.map((r) => ({
        job_id: r.jobId,
        runner_id: r.runnerId,
        tier: r.tier,
        agreed: agreed === null || r.outcome.kind !== 'result' ? null : agreed.has(r.jobId),
      })),
    };
  }
}
