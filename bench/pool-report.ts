// The pool benchmark's table and its ratios against the targets of issue 3, item 8.
import type { Cell } from './pool-stats.js';

export interface PoolBenchResults {
  inFlight: readonly number[];
  bare: ReadonlyMap<number, Cell>;
  cold: ReadonlyMap<number, Cell>;
  pool: ReadonlyMap<number, Cell>;
  /** One job at a time, the pool settled (refilled, spent containers removed) before each. */
  poolSettled: Cell;
}

export interface TargetCheck {
  name: string;
  ratio: number;
  limit: number;
  kind: 'at most' | 'at least';
  pass: boolean;
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

export function formatTable(r: PoolBenchResults): string {
  const head = `${'mode'.padEnd(30)}${'in flight'.padStart(10)}${'p50 ms'.padStart(10)}${'p95 ms'.padStart(10)}${'jobs/s'.padStart(10)}`;
  const row = (mode: string, inFlight: string, cell: Cell | undefined, throughput = true) =>
    `${mode.padEnd(30)}${inFlight.padStart(10)}${fmt(cell?.p50 ?? Number.NaN).padStart(10)}` +
    `${fmt(cell?.p95 ?? Number.NaN).padStart(10)}${(throughput ? fmt(cell?.perSecond ?? Number.NaN, 2) : '-').padStart(10)}`;
  const lines = [head, '-'.repeat(head.length)];
  for (const [mode, cells] of [
    ['bare exec (one warm container)', r.bare],
    ['cold (create+start+exec+rm)', r.cold],
    ['pool (back-to-back)', r.pool],
  ] as const) {
    for (const n of r.inFlight) lines.push(row(mode, String(n), cells.get(n)));
  }
  lines.push(row('pool (settled before each job)', '1', r.poolSettled, false));
  return lines.join('\n');
}

export function checkTargets(r: PoolBenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const atMost = (name: string, ratio: number, limit: number) =>
    checks.push({ name, ratio, limit, kind: 'at most', pass: ratio <= limit });
  const atLeast = (name: string, ratio: number, limit: number) =>
    checks.push({ name, ratio, limit, kind: 'at least', pass: ratio >= limit });
  const bare1 = r.bare.get(1)?.p50 ?? Number.NaN;
  const cold1 = r.cold.get(1)?.p50 ?? Number.NaN;
  const pool1 = r.pool.get(1)?.p50 ?? Number.NaN;
  atMost('pool p50 (settled) / bare exec p50', r.poolSettled.p50 / bare1, 1.2);
  atMost('pool p50 (settled) / cold p50', r.poolSettled.p50 / cold1, 0.25);
  atMost('pool p50 (back-to-back) / bare exec p50', pool1 / bare1, 1.2);
  atMost('pool p50 (back-to-back) / cold p50', pool1 / cold1, 0.25);
  for (const n of r.inFlight) {
    const ratio = (r.pool.get(n)?.perSecond ?? Number.NaN) / (r.cold.get(n)?.perSecond ?? Number.NaN);
    atLeast(`pool jobs/s / cold jobs/s, ${n} in flight`, ratio, 0.9);
  }
  return checks;
}

export function formatTargets(checks: readonly TargetCheck[]): string {
  return checks
    .map((c) => {
      const op = c.kind === 'at most' ? '<=' : '>=';
      return `${c.name.padEnd(48)}${fmt(c.ratio, 2).padStart(7)}  ${op} ${fmt(c.limit, 2)}  ${c.pass ? 'PASS' : 'FAIL'}`;
    })
    .join('\n');
}
