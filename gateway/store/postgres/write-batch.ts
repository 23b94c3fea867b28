// The job store's writes, many in one transaction: the inserts, transitions and updates called
// while the previous transaction ran go to PostgreSQL together — one multi-row INSERT, one SELECT
// … FOR UPDATE of the rows they change, one UPDATE of them all, one COMMIT — instead of a
// transaction (and a commit's WAL flush) each. Their order is kept: each change applies to the
// record as the changes before it in the batch left it, and each is answered on its own (a guard's
// refusal refuses that write alone); a failure of the transaction itself fails them all.
import type pg from 'pg';
import type { JobRecord, JobState } from '../../../shared/index.js';
import type { TransitionPatch, UpdatePatch } from '../job-store-api.js';
import { canTransition } from '../job-transitions.js';
import { checkedRecord, transitioned, updated } from '../record-patch.js';
import { StoreError } from '../store-errors.js';
import { COLUMNS, columnsOf, recordOf } from './job-rows.js';

export type WriteOp =
  | { kind: 'insert'; record: JobRecord }
  | { kind: 'transition'; id: string; to: JobState; patch: TransitionPatch }
  | { kind: 'update'; id: string; patch: UpdatePatch };

/** How one write came out: its value, or the StoreError that refused it. */
export type Outcome = { ok: true; value: JobRecord | undefined } | { ok: false; error: StoreError };

const COLUMN_NAMES = COLUMNS.split(',').map((name) => name.trim());

/**
 * Runs `ops` in call order within the transaction `client` is in. `owner`: the gateway whose
 * jobs these are (it owns what it inserts; a transition of a job another gateway owns is refused),
 * or null for none. Resolves with each op's outcome, in order.
 */
export async function runBatch(
  client: pg.ClientBase,
  ops: readonly WriteOp[],
  owner: string | null,
): Promise<Outcome[]> {
  const inserted = await insertAll(client, ops, owner);
  const rows = await lockRows(client, ops);
  const outcomes: Outcome[] = [];
  const changed = new Set<string>();
  const seenInserts = new Set<string>();
  for (const op of ops) {
    try {
      if (op.kind === 'insert') {
        const id = op.record.id;
        // ON CONFLICT skipped it (stored before), or an earlier insert of this batch took the id.
        if (!inserted.has(id) || seenInserts.has(id)) {
          throw new StoreError('duplicate_id', `job ${id} already exists`);
        }
        seenInserts.add(id);
        outcomes.push({ ok: true, value: undefined });
        continue;
      }
      const row = rows.get(op.id);
      if (row === undefined) {
        if (op.kind === 'update') {
          // No such job (pruned meanwhile): nothing left to record on.
          outcomes.push({ ok: true, value: undefined });
          continue;
        }
        throw new StoreError('not_found', `no job ${op.id}`);
      }
      let next: JobRecord;
      if (op.kind === 'transition') {
        if (owner !== null && row.owner !== owner) {
          // Its lease ran out, and a living gateway claimed the job: its word counts, not ours.
          throw new StoreError(
            'forbidden_transition',
            `job ${op.id} is held by gateway ${row.owner ?? '(none)'} now, not by this one (${owner})`,
          );
        }
        if (!canTransition(row.record.status, op.to)) {
          throw new StoreError(
            'forbidden_transition',
            `job ${op.id}: ${row.record.status} → ${op.to} is not allowed`,
          );
        }
        next = checkedRecord(transitioned(row.record, op.to, op.patch));
      } else {
        next = checkedRecord(updated(row.record, op.patch));
      }
      row.record = next;
      changed.add(op.id);
      // checkedRecord froze it; the caller gets a copy of its own, as from every read.
      outcomes.push({ ok: true, value: structuredClone(next) });
    } catch (err) {
      if (!(err instanceof StoreError)) throw err;
      outcomes.push({ ok: false, error: err });
    }
  }
  await updateAll(
    client,
    [...changed].map((id) => rows.get(id)!.record),
  );
  return outcomes;
}

/** Inserts the batch's new jobs in one statement; resolves with the ids it stored. */
async function insertAll(
  client: pg.ClientBase,
  ops: readonly WriteOp[],
  owner: string | null,
): Promise<Set<string>> {
  const records = ops.flatMap((op) => (op.kind === 'insert' ? [op.record] : []));
  if (records.length === 0) return new Set();
  const width = COLUMN_NAMES.length + 1;
  const values: unknown[] = [];
  const tuples = records.map((record, i) => {
    values.push(...columnsOf(record), owner);
    return `(${Array.from({ length: width }, (_, k) => `$${i * width + k + 1}`).join(', ')})`;
  });
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO jobs (${COLUMNS}, owner) VALUES ${tuples.join(', ')} ON CONFLICT (id) DO NOTHING RETURNING id`,
    values,
  );
  return new Set(rows.map((row) => row.id));
}

/** The rows the batch's transitions and updates change, locked, as records with their owner. */
async function lockRows(
  client: pg.ClientBase,
  ops: readonly WriteOp[],
): Promise<Map<string, { record: JobRecord; owner: string | null }>> {
  const ids = [...new Set(ops.flatMap((op) => (op.kind === 'insert' ? [] : [op.id])))];
  const rows = new Map<string, { record: JobRecord; owner: string | null }>();
  if (ids.length === 0) return rows;
  // In id order: two gateways locking overlapping rows take them in the same order (no deadlock).
  const result = await client.query<{ id: string; record: unknown; owner: string | null }>(
    'SELECT id, record, owner FROM jobs WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE',
    [ids],
  );
  for (const row of result.rows) rows.set(row.id, { record: recordOf(row), owner: row.owner });
  return rows;
}

/** Writes the changed records back, typed columns and all, in one statement. */
async function updateAll(client: pg.ClientBase, records: readonly JobRecord[]): Promise<void> {
  if (records.length === 0) return;
  const columns = COLUMN_NAMES.map((_, k) => records.map((record) => columnsOf(record)[k]));
  const set = COLUMN_NAMES.filter((name) => name !== 'id')
    .map((name) => `${name} = v.${name}${name === 'record' ? '::json' : ''}`)
    .join(', ');
  const unnest = COLUMN_NAMES.map((_, k) => `$${k + 1}::text[]`).join(', ');
  await client.query(
    `UPDATE jobs SET ${set} FROM unnest(${unnest}) AS v(${COLUMN_NAMES.join(', ')}) WHERE jobs.id = v.id`,
    columns,
  );
}
