// The JobStore on PostgreSQL (`CODEEXEC_STORE=postgres://…`): jobs in one table that several
// gateways can share. The gateway's only importer of `pg` (with migrate.ts, which hands a client to
// node-pg-migrate).
//
// Schema (migrations/0001_jobs.sql): each whole JobRecord as `json`, beside typed columns for what
// is queried (id, status, client, task_id, created_at, finished_at, callback state) and a sequence
// for creation order. The record is ~40 fields with nested results, and gains optional fields
// often (shared/job.ts): kept whole, a new optional field needs no migration, and reading records
// back through JobRecordSchema fills in its default, as LowdbJobStore does with old files. The
// typed columns are written by this file from the same validated record, in the same statement
// (not generated from the JSON by PostgreSQL: its JSON functions fail on a record holding \u0000).
//
// Order: writes run in call order. Inserts, transitions and updates called while a transaction
// runs go together in the next one (write-batch.ts: one multi-row INSERT, one locking SELECT, one
// UPDATE, one commit), each still answered on its own; prune runs alone. So the database sees them
// in the order they were called, and a write never overtakes an earlier one. A read waits
// for the writes called before it (not for later ones) and then runs on any pooled connection:
// a read issued after a write was called sees it, and reads run side by side. Across gateways
// there is no such order, only PostgreSQL's: each write is atomic, and a transition checks the
// state under a row lock, so two gateways cannot both move a job out of the same state.
//
// Durable: a write resolves once the transaction that holds it committed: it survives this process being killed.
// With `synchronousCommit` (default) the commit also waited for the server's WAL flush, so it
// survives the server crashing too (if the server itself runs with fsync on).
//
// Errors: the guards' codes as every store has them; `unavailable` when the database cannot be
// reached or does not answer within the timeouts (a store never hangs on a dead server: connects
// and queries time out); `database_error` for anything else the server refused. Records returned
// are fresh copies, parsed from what was stored.
import pg from 'pg';
import { type JobRecord, type JobState, type Logger, silentLogger } from '../../../shared/index.js';
import type { JobFilter, JobPage, JobStore, TransitionPatch, UpdatePatch } from '../job-store-api.js';
import { checkedRecord } from '../record-patch.js';
import { StoreError } from '../store-errors.js';
import { recordOf, UNFINISHED } from './job-rows.js';
import { migrate } from './migrate.js';
import { inTransaction, withClient } from './pg-connection.js';
import { redactedUrl, storeErrorOf } from './pg-errors.js';
import { PostgresFleet } from './postgres-fleet.js';
import { type Outcome, runBatch, type WriteOp } from './write-batch.js';

export interface PostgresJobStoreOptions {
  /**
   * true (default): a commit waits for the server to flush its write-ahead log, so a resolved
   * write survives a crash of the server's machine. false (`synchronous_commit = off` for this
   * store's connections): it survives this process dying, but a server crash may lose the last
   * fraction of a second of writes (what LowdbJobStore's `fsync: false` is to a power loss).
   */
  synchronousCommit?: boolean;
  /** How long getting a connection may take before `unavailable`. Default 5 s. */
  connectTimeoutMs?: number;
  /** How long one query may take before `unavailable` (its connection is dropped). Default 30 s. */
  queryTimeoutMs?: number;
  /** Connections at most (reads run side by side; writes use one at a time). Default 10. */
  maxConnections?: number;
  /** A pooled connection failed while idle (the server restarted or went away). For logs. */
  onError?: (err: Error) => void;
  /** Where the migrations' messages go. */
  log?: Logger;
  /**
   * The gateway this store writes for (its fleet id): the owner of the jobs it inserts, and the
   * only owner whose jobs it moves from state to state (a job a living gateway claimed from this
   * one refuses its transitions); unfinished() and pendingCallbacks() list this owner's jobs.
   * Absent: no owner, every job (tools such as `codeexec migrate`, and tests).
   */
  owner?: string;
}

export class PostgresJobStore implements JobStore {
  /** The database, for messages and logs (no password). */
  readonly where: string;
  /** See PostgresJobStoreOptions.owner; null without one. */
  readonly owner: string | null;
  readonly #pool: pg.Pool;
  readonly #log: Logger;
  #state: 'new' | 'open' | 'closing' | 'closed' = 'new';
  #closing: Promise<void> | null = null;
  /** The last write called: the next one runs after it settles. */
  #tail: Promise<unknown> = Promise.resolve();
  /** Writes called and not yet settled (flush waits for them), and reads (close waits for them). */
  readonly #writes = new Set<Promise<unknown>>();
  readonly #reads = new Set<Promise<unknown>>();
  /** Inserts, transitions and updates waiting for the next batch, in call order. */
  readonly #batch: {
    op: WriteOp;
    doing: string;
    resolve: (value: JobRecord | undefined) => void;
    reject: (err: Error) => void;
  }[] = [];

  constructor(url: string, options: PostgresJobStoreOptions = {}) {
    this.where = redactedUrl(url);
    this.owner = options.owner ?? null;
    this.#log = options.log ?? silentLogger;
    this.#pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      query_timeout: options.queryTimeoutMs ?? 30_000,
      // A server that vanished without closing the connection is noticed, not waited on forever.
      keepAlive: true,
      application_name: 'codeexec-gateway',
    });
    const onError = options.onError ?? (() => {});
    // An idle connection that fails is dropped by the pool, which reports it here (unhandled,
    // it would crash the process); the next query opens a new one.
    this.#pool.on('error', (err) => onError(storeErrorOf(err, 'an idle connection failed', this.where)));
    if (options.synchronousCommit === false) {
      // Set on each new connection, ahead of whatever it is being opened for (a client runs its
      // queries in order). Not as a startup option: a URL's own `?options=` would replace it.
      this.#pool.on('connect', (client) => {
        client
          .query('SET synchronous_commit = off')
          .catch((err: unknown) => onError(storeErrorOf(err, 'turning synchronous commit off', this.where)));
      });
    }
  }

  async open(): Promise<void> {
    if (this.#state !== 'new') throw new StoreError('closed', 'open() is called once, on a new store');
    await withClient(this.#pool, this.where, 'opening the job store', (client) => migrate(client, this.#log));
    this.#state = 'open';
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#state = 'closing';
      try {
        await this.flush();
      } finally {
        await Promise.allSettled([...this.#reads]);
        await this.#pool.end();
        this.#state = 'closed';
      }
    })();
    return this.#closing;
  }

  /**
   * Waits for the writes still in flight. Rejects if one of them may not be stored (unavailable,
   * database_error); a guard's refusal changed nothing, and a write already answered was reported
   * to its caller: the store goes on working once the database is back.
   */
  async flush(): Promise<void> {
    const outcomes = await Promise.allSettled([...this.#writes]);
    const failed = outcomes.find(
      (outcome): outcome is PromiseRejectedResult =>
        outcome.status === 'rejected' &&
        ['unavailable', 'database_error'].includes((outcome.reason as StoreError).code),
    );
    if (failed) throw failed.reason;
  }

  async insert(job: JobRecord): Promise<void> {
    this.#checkWritable();
    await this.#queue({ kind: 'insert', record: checkedRecord(job) }, `storing job ${job.id}`);
  }

  async transition(id: string, to: JobState, patch: TransitionPatch = {}): Promise<JobRecord> {
    this.#checkWritable();
    // Copied now: the caller may change its object before the write runs.
    const op = { kind: 'transition' as const, id, to, patch: structuredClone(patch) };
    return (await this.#queue(op, `moving job ${id} to ${to}`))!;
  }

  async update(id: string, patch: UpdatePatch): Promise<JobRecord | undefined> {
    this.#checkWritable();
    return this.#queue({ kind: 'update', id, patch: structuredClone(patch) }, `updating job ${id}`);
  }

  async prune(finishedBefore: Date, keep: number): Promise<number> {
    this.#checkWritable();
    const cutoff = finishedBefore.toISOString();
    return this.#write('pruning jobs', async () => {
      // Finished jobs oldest first: the first (count - keep) go whatever their age (an old one
      // among them counts against the surplus), and after them every one that ended before the
      // cutoff — JobTable.prunable's rule, in one statement.
      const result = await this.#pool.query(
        `DELETE FROM jobs WHERE status NOT IN ${UNFINISHED} AND id IN (
           SELECT id FROM (
             SELECT id, finished_at,
                    row_number() OVER (ORDER BY seq) AS n,
                    count(*) OVER () AS finished
             FROM jobs WHERE status NOT IN ${UNFINISHED}
           ) AS oldest_first
           WHERE n <= finished - $2 OR finished_at < $1
         )`,
        [cutoff, keep],
      );
      return result.rowCount ?? 0;
    });
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const rows = await this.#read(`reading job ${id}`, 'SELECT record FROM jobs WHERE id = $1', [id]);
    return rows[0] === undefined ? undefined : recordOf(rows[0]);
  }

  async list(filter: JobFilter, offset: number, limit: number): Promise<JobPage> {
    const values: unknown[] = [];
    const where: string[] = [];
    for (const field of ['task_id', 'client'] as const) {
      if (filter[field] === undefined) continue;
      values.push(filter[field]);
      where.push(`${field} = $${values.length}`);
    }
    values.push(offset, limit + 1);
    const rows = await this.#read(
      'listing jobs',
      `SELECT record FROM jobs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY seq DESC OFFSET $${values.length - 1} LIMIT $${values.length}`,
      values,
    );
    return { jobs: rows.slice(0, limit).map(recordOf), more: rows.length > limit };
  }

  async unfinished(): Promise<JobRecord[]> {
    const rows = await this.#read(
      'listing unfinished jobs',
      `SELECT record FROM jobs WHERE status IN ${UNFINISHED} ${this.#owned()} ORDER BY seq`,
      this.#ownerValue(),
    );
    return rows.map(recordOf);
  }

  async pendingCallbacks(): Promise<JobRecord[]> {
    const rows = await this.#read(
      'listing pending callbacks',
      `SELECT record FROM jobs WHERE callback_state = 'pending' AND status NOT IN ${UNFINISHED}
       ${this.#owned()} ORDER BY seq`,
      this.#ownerValue(),
    );
    return rows.map(recordOf);
  }

  /**
   * Gateways sharing this database, and the jobs each owns (postgres-fleet.ts), on this store's
   * connections. Needs an owner.
   */
  fleet(): PostgresFleet {
    if (this.owner === null) throw new Error('a fleet needs the store to have an owner (its gateway id)');
    return new PostgresFleet(this.#pool, this.where, this.owner);
  }

  /** `AND owner = $1` when the store has an owner (see #ownerValue), else nothing. */
  #owned(): string {
    return this.owner === null ? '' : 'AND owner = $1';
  }

  #ownerValue(): unknown[] {
    return this.owner === null ? [] : [this.owner];
  }

  async size(): Promise<number> {
    return this.#count('counting jobs', 'SELECT count(*) AS n FROM jobs');
  }

  async queuedCount(): Promise<number> {
    return this.#count('counting queued jobs', `SELECT count(*) AS n FROM jobs WHERE status = 'queued'`);
  }

  async unfinishedOf(client: string): Promise<number> {
    return this.#count(
      `counting the unfinished jobs of ${client}`,
      `SELECT count(*) AS n FROM jobs WHERE client = $1 AND status IN ${UNFINISHED}`,
      [client],
    );
  }

  #checkWritable(): void {
    if (this.#state !== 'open') throw new StoreError('closed', `the job store is ${this.#state}, not open`);
  }

  /**
   * Queues an insert, transition or update for the next batch (write-batch.ts): the writes called
   * while a batch runs go together in the one after it. Resolves or rejects with its own outcome.
   */
  #queue(op: WriteOp, doing: string): Promise<JobRecord | undefined> {
    const queued = new Promise<JobRecord | undefined>((resolve, reject) => {
      this.#batch.push({ op, doing, resolve, reject });
    });
    if (this.#batch.length === 1) {
      // The first of a batch: the batch runs once the writes before it settled.
      void this.#write('writing jobs', () => this.#runBatch()).catch(() => {});
    }
    this.#writes.add(queued);
    const forget = () => this.#writes.delete(queued);
    queued.then(forget, forget);
    return queued;
  }

  /** Runs the writes queued so far in one transaction, and answers each. */
  async #runBatch(): Promise<void> {
    const batch = this.#batch.splice(0);
    let outcomes: Outcome[];
    try {
      outcomes = await inTransaction(this.#pool, this.where, '', (client) =>
        runBatch(
          client,
          batch.map((entry) => entry.op),
          this.owner,
        ),
      );
    } catch (err) {
      for (const entry of batch) entry.reject(storeErrorOf(err, entry.doing, this.where));
      return;
    }
    batch.forEach((entry, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) entry.resolve(outcome.value);
      else entry.reject(outcome.error);
    });
  }

  /** Runs `work` once every write called before has settled, and tracks it for flush and close. */
  #write<T>(doing: string, work: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(work).catch((err: unknown) => {
      throw storeErrorOf(err, doing, this.where);
    });
    this.#tail = run.catch(() => {});
    this.#writes.add(run);
    const forget = () => this.#writes.delete(run);
    run.then(forget, forget);
    return run;
  }

  /** A query run once the writes called so far have settled; its rows. */
  #read<Row extends pg.QueryResultRow = { record: unknown }>(
    doing: string,
    text: string,
    values: unknown[] = [],
  ): Promise<Row[]> {
    if (this.#state !== 'open' && this.#state !== 'closing') {
      return Promise.reject(new StoreError('closed', `the job store is ${this.#state}, not open`));
    }
    const run = this.#tail
      .then(() => this.#pool.query<Row>(text, values))
      .then(
        (result) => result.rows,
        (err: unknown) => {
          throw storeErrorOf(err, doing, this.where);
        },
      );
    this.#reads.add(run);
    const forget = () => this.#reads.delete(run);
    run.then(forget, forget);
    return run;
  }

  async #count(doing: string, text: string, values: unknown[] = []): Promise<number> {
    const rows = await this.#read<{ n: string }>(doing, text, values);
    // count() is a bigint, which pg gives as a string.
    return Number(rows[0]?.n ?? 0);
  }
}
