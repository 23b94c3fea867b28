// The fleet (../../fleet/fleet.ts) on PostgreSQL: a `gateways` row per gateway whose expires_at is
// its lease, renewed by beats and judged by the database's clock (gateways' clocks may differ),
// and an `owner` column on each job (migrations/0003_gateway_fleet.sql). Claims are single
// statements over rows locked with FOR UPDATE SKIP LOCKED: two gateways claiming at once take
// different jobs, and a job is claimed by exactly one. Shares the job store's connections.
import type pg from 'pg';
import type { JobRecord } from '../../../shared/index.js';
import type { Fleet, FleetMember, HeldClaim, MemberInfo, UsageElsewhere } from '../../fleet/fleet.js';
import { recordOf, UNFINISHED } from './job-rows.js';
import { inTransaction, withClient } from './pg-connection.js';

/** How long a gateway's row is kept after its lease ran out (its jobs are claimable all along). */
const FORGET_AFTER = '1 day';

export class PostgresFleet implements Fleet {
  readonly id: string;
  readonly shared = true;
  readonly #pool: pg.Pool;
  readonly #where: string;

  constructor(pool: pg.Pool, where: string, id: string) {
    this.#pool = pool;
    this.#where = where;
    this.id = id;
  }

  async beat(ttlMs: number, info: MemberInfo): Promise<void> {
    await this.#query(
      'renewing this gateway’s lease',
      `INSERT INTO gateways (id, expires_at, info) VALUES ($1, now() + $2 * interval '1 millisecond', $3)
       ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at, info = EXCLUDED.info`,
      [this.id, ttlMs, JSON.stringify(info)],
    );
    await this.#query(
      'forgetting gateways long gone',
      `DELETE FROM gateways WHERE expires_at < now() - interval '${FORGET_AFTER}'`,
    );
  }

  async leave(): Promise<void> {
    await this.#query('ending this gateway’s lease', 'UPDATE gateways SET expires_at = now() WHERE id = $1', [
      this.id,
    ]);
  }

  async claimOrphans(runners: readonly string[], graceMs: number, limit: number): Promise<JobRecord[]> {
    // An owner without a row (none, or forgotten) is as dead as one whose lease ran out long ago.
    // The living are read once for the statement (ARRAY(…) is evaluated once, with the statement's
    // snapshot), and rows are judged by their own owner column only: when another gateway claimed
    // a row while this statement waited for it, PostgreSQL checks the row again as it is now, with
    // its new owner, against that list. A lease looked up by a join would be the old owner's then.
    const rows = await this.#query<{ seq: string; record: unknown }>(
      'claiming the jobs of gateways that are gone',
      `WITH living AS (
         SELECT ARRAY(SELECT id FROM gateways WHERE expires_at > now()) AS now,
                ARRAY(SELECT id FROM gateways
                      WHERE expires_at > now() - $3 * interval '1 millisecond') AS lately
       ),
       orphans AS (
         SELECT j.id FROM jobs j, living
         WHERE (j.status IN ${UNFINISHED} OR j.callback_state = 'pending')
           AND j.owner IS DISTINCT FROM $1
           AND (j.owner IS NULL OR NOT j.owner = ANY(living.now))
           AND (j.status <> 'running' OR j.runner_id = ANY($2::text[])
                OR j.owner IS NULL OR NOT j.owner = ANY(living.lately))
         ORDER BY j.seq
         LIMIT $4
         FOR UPDATE OF j SKIP LOCKED
       )
       UPDATE jobs SET owner = $1, handed_off = false FROM orphans WHERE jobs.id = orphans.id
       RETURNING jobs.seq, jobs.record`,
      [this.id, [...runners], graceMs, limit],
    );
    return rows.sort((a, b) => Number(a.seq) - Number(b.seq)).map(recordOf);
  }

  claimHeld(id: string, runner: string): Promise<HeldClaim> {
    return inTransaction(
      this.#pool,
      this.#where,
      `claiming job ${id} for runner ${runner}`,
      async (client) => {
        // The row first, locked (as it is now, whoever changed it meanwhile); then its owner's lease.
        const { rows } = await client.query<{
          status: string;
          owner: string | null;
          runner_id: string | null;
          record: unknown;
        }>('SELECT status, owner, runner_id, record FROM jobs WHERE id = $1 FOR UPDATE', [id]);
        const row = rows[0];
        if (row === undefined || !['queued', 'running'].includes(row.status)) return { kind: 'ended' };
        // Re-queued and given to another runner since: this runner's copy is not the job's.
        if (row.status === 'running' && row.runner_id !== runner) return { kind: 'ended' };
        if (row.owner !== this.id) {
          if (row.owner !== null) {
            const alive = await client.query('SELECT 1 FROM gateways WHERE id = $1 AND expires_at > now()', [
              row.owner,
            ]);
            if (alive.rows.length > 0) return { kind: 'owned', owner: row.owner };
          }
          await client.query('UPDATE jobs SET owner = $1 WHERE id = $2', [this.id, id]);
        }
        return { kind: 'claimed', job: recordOf(row) };
      },
    );
  }

  async handOff(ids: readonly string[], to: string): Promise<string[]> {
    const rows = await this.#query<{ id: string }>(
      `handing ${ids.length} jobs to gateway ${to}`,
      `UPDATE jobs SET owner = $2, handed_off = true
       WHERE id = ANY($1::text[]) AND owner = $3 AND status = 'queued' RETURNING id`,
      [[...ids], to, this.id],
    );
    return rows.map((row) => row.id);
  }

  async takeHanded(): Promise<JobRecord[]> {
    const rows = await this.#query<{ seq: string; record: unknown }>(
      'taking the jobs handed to this gateway',
      `UPDATE jobs SET handed_off = false WHERE owner = $1 AND handed_off RETURNING seq, record`,
      [this.id],
    );
    return rows.sort((a, b) => Number(a.seq) - Number(b.seq)).map(recordOf);
  }

  async usageElsewhere(): Promise<UsageElsewhere> {
    const rows = await this.#query<{ client: string | null; unfinished: string; queued: string }>(
      'counting the other gateways’ jobs',
      `SELECT client, count(*) AS unfinished, count(*) FILTER (WHERE status = 'queued') AS queued
       FROM jobs WHERE status IN ${UNFINISHED} AND owner IS DISTINCT FROM $1 GROUP BY client`,
      [this.id],
    );
    let queued = 0;
    const byClient = new Map<string, number>();
    for (const row of rows) {
      queued += Number(row.queued);
      if (row.client !== null) byClient.set(row.client, Number(row.unfinished));
    }
    return { queued, byClient };
  }

  async ownedElsewhere(ids: readonly string[]): Promise<string[]> {
    const rows = await this.#query<{ id: string }>(
      'checking which jobs are still this gateway’s',
      'SELECT id FROM jobs WHERE id = ANY($1::text[]) AND owner IS DISTINCT FROM $2',
      [[...ids], this.id],
    );
    return rows.map((row) => row.id);
  }

  async members(): Promise<FleetMember[]> {
    const rows = await this.#query<{ id: string; info: Partial<MemberInfo>; expires_at: Date }>(
      'listing the gateways',
      'SELECT id, info, expires_at FROM gateways WHERE expires_at > now() ORDER BY started_at, id',
    );
    return rows.map((row) => ({
      id: row.id,
      url: row.info.url ?? '',
      runners: row.info.runners ?? [],
      expires_at: row.expires_at.toISOString(),
    }));
  }

  async #query<Row extends pg.QueryResultRow>(
    doing: string,
    text: string,
    values: unknown[] = [],
  ): Promise<Row[]> {
    return withClient(
      this.#pool,
      this.#where,
      doing,
      async (client) => (await client.query<Row>(text, values)).rows,
    );
  }
}
