// Runner reliability and the quarantine list in the database gateways share
// (`CODEEXEC_STORE=postgres://…`), table `runner_reliability` (migrations/0002_runner_reliability.sql):
// ReliabilityBook's storage there. Each change is one atomic upsert that computes the new values
// from the row as it is (`agreed = agreed + 1`, the streak by scheduling/reliability.ts's rules),
// so changes of several gateways to one identity add up and none is lost; a batch of changes is
// one transaction, in the order of their identities (two gateways lock rows in the same order, so
// they cannot deadlock). On a pool of its own (connect(), the job store's connection settings),
// or on one it is given (the job store's), which it then leaves open.
import pg from 'pg';
import { type Logger, silentLogger } from '../../../shared/index.js';
import type { ReliabilityStorage } from '../../runners/reliability-book.js';
import type { ReliabilityChange } from '../../runners/reliability-changes.js';
import type { Reliability } from '../../scheduling/reliability.js';
import { migrate } from './migrate.js';
import { inTransaction, withClient } from './pg-connection.js';
import { redactedUrl, storeErrorOf } from './pg-errors.js';

export interface PostgresReliabilityOptions {
  /** How long getting a connection may take. Default 5 s. */
  connectTimeoutMs?: number;
  /** How long one query may take (its connection is dropped). Default 30 s. */
  queryTimeoutMs?: number;
  /** A pooled connection failed while idle (the server restarted or went away). For logs. */
  onError?: (err: Error) => void;
}

/** The statement that applies `change` to its identity's row (made if missing), atomically. */
function statementOf(change: ReliabilityChange): { text: string; values: unknown[] } {
  const upsert = (columns: string, placeholders: string, set: string) =>
    `INSERT INTO runner_reliability AS r (identity, ${columns}) VALUES ($1, ${placeholders})
     ON CONFLICT (identity) DO UPDATE SET ${set}, updated_at = now()`;
  switch (change.kind) {
    case 'agreed':
      // afterAgreement
      return {
        text: upsert('agreed, streak', '1, 1', 'agreed = r.agreed + 1, streak = r.streak + 1'),
        values: [change.identity],
      };
    case 'disagreed':
      // afterDisagreement
      return {
        text: upsert(
          'disagreed, streak, last_disagreement_at',
          '1, 0, $2',
          'disagreed = r.disagreed + 1, streak = 0, last_disagreement_at = EXCLUDED.last_disagreement_at',
        ),
        values: [change.identity, change.at],
      };
    case 'quarantine':
      return {
        text: upsert('quarantined', '$2', 'quarantined = EXCLUDED.quarantined'),
        values: [change.identity, change.quarantined],
      };
    default:
      throw new Error(`unknown reliability change ${(change as { kind: unknown }).kind}`);
  }
}

interface Row {
  identity: string;
  agreed: number;
  disagreed: number;
  streak: number;
  last_disagreement_at: string | null;
  quarantined: boolean;
}

export class PostgresReliability implements ReliabilityStorage {
  readonly where: string;
  readonly shared = true;
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;

  /** On `pool` (to the database `where`, no password), which close() leaves open. */
  constructor(pool: pg.Pool, where: string, ownsPool = false) {
    this.#pool = pool;
    this.where = where;
    this.#ownsPool = ownsPool;
  }

  /** On a small pool of its own to `url`, which close() ends. */
  static connect(url: string, options: PostgresReliabilityOptions = {}): PostgresReliability {
    const where = redactedUrl(url);
    const pool = new pg.Pool({
      connectionString: url,
      // One write at a time, and a read beside it.
      max: 2,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      query_timeout: options.queryTimeoutMs ?? 30_000,
      // A server that vanished without closing the connection is noticed, not waited on forever.
      keepAlive: true,
      application_name: 'codeexec-gateway',
    });
    const onError = options.onError ?? (() => {});
    // Unheard, an idle connection's failure would crash the process; the next query opens another.
    pool.on('error', (err) => onError(storeErrorOf(err, 'an idle connection failed', where)));
    return new PostgresReliability(pool, where, true);
  }

  /** Makes the table if this database has not got it yet (the job store's migrations). */
  async migrate(log: Logger = silentLogger): Promise<void> {
    await withClient(this.#pool, this.where, 'opening runner reliability', (client) => migrate(client, log));
  }

  async load(): Promise<Map<string, Reliability>> {
    let rows: Row[];
    try {
      ({ rows } = await this.#pool.query<Row>(
        `SELECT identity, agreed, disagreed, streak, last_disagreement_at, quarantined
         FROM runner_reliability`,
      ));
    } catch (err) {
      throw storeErrorOf(err, 'reading runner reliability', this.where);
    }
    return new Map(
      rows.map(({ identity, ...record }): [string, Reliability] => [
        identity,
        {
          agreed: record.agreed,
          disagreed: record.disagreed,
          streak: record.streak,
          last_disagreement_at: record.last_disagreement_at,
          quarantined: record.quarantined,
        },
      ]),
    );
  }

  /** Applies `changes` in one transaction (the rows are changed in place; `records` is unused). */
  async save(changes: readonly ReliabilityChange[]): Promise<void> {
    if (changes.length === 0) return;
    // Stable: each identity's changes keep their order.
    const ordered = [...changes].sort((a, b) =>
      a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0,
    );
    await inTransaction(this.#pool, this.where, 'storing runner reliability', async (client) => {
      for (const change of ordered) {
        const { text, values } = statementOf(change);
        await client.query(text, values);
      }
    });
  }

  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.end();
  }
}
