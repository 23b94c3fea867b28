// The donor's ledger: counting on plain data (the day rolls when its key changes), and its file on
// a real temporary directory (round trip, atomic private writes, a damaged file named).
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  emptyLedger,
  type Ledger,
  LedgerFileError,
  loadLedger,
  localDayKey,
  recordJob,
  rollDay,
  saveLedger,
} from './donor-ledger.js';

describe('counting', () => {
  it('starts from zero with no day', () => {
    expect(emptyLedger()).toEqual({
      version: 1,
      day: null,
      jobs_done: 0,
      jobs_today: 0,
      cpu_seconds: 0,
      cpu_seconds_today: 0,
    });
  });

  it('adds each job to the totals and to today', () => {
    let ledger = recordJob(emptyLedger(), { cpu_ms: 1500, dayKey: '2026-11-29' });
    ledger = recordJob(ledger, { cpu_ms: 250, dayKey: '2026-11-29' });
    expect(ledger).toMatchObject({
      day: '2026-11-29',
      jobs_done: 2,
      jobs_today: 2,
      cpu_seconds: 1.75,
      cpu_seconds_today: 1.75,
    });
  });

  it("starts today's counts again on a new day, keeping the totals", () => {
    let ledger = recordJob(emptyLedger(), { cpu_ms: 60_000, dayKey: '2026-11-29' });
    ledger = recordJob(ledger, { cpu_ms: 1000, dayKey: '2026-11-30' });
    expect(ledger).toMatchObject({
      day: '2026-11-30',
      jobs_done: 2,
      jobs_today: 1,
      cpu_seconds: 61,
      cpu_seconds_today: 1,
    });
  });

  it('rolls without a job, and leaves the same day alone (the same object)', () => {
    const ledger = recordJob(emptyLedger(), { cpu_ms: 5000, dayKey: '2026-11-29' });
    expect(rollDay(ledger, '2026-11-29')).toBe(ledger);
    expect(rollDay(ledger, '2026-11-30')).toMatchObject({
      day: '2026-11-30',
      jobs_today: 0,
      cpu_seconds_today: 0,
      jobs_done: 1,
      cpu_seconds: 5,
    });
    expect(ledger.jobs_today).toBe(1);
  });

  it('treats an earlier day as a new one (a clock set right)', () => {
    const future = recordJob(emptyLedger(), { cpu_ms: 5000, dayKey: '2031-01-01' });
    expect(rollDay(future, '2026-11-29')).toMatchObject({ day: '2026-11-29', cpu_seconds_today: 0 });
  });

  it('keeps seconds to the microsecond without drift, and ignores nonsense CPU times', () => {
    let ledger = emptyLedger();
    for (let i = 0; i < 1000; i++) ledger = recordJob(ledger, { cpu_ms: 100.4, dayKey: '2026-11-29' });
    expect(ledger.cpu_seconds).toBe(100.4);
    let tenths = emptyLedger();
    for (let i = 0; i < 3; i++) tenths = recordJob(tenths, { cpu_ms: 100, dayKey: '2026-11-29' });
    expect(tenths.cpu_seconds).toBe(0.3);
    ledger = recordJob(ledger, { cpu_ms: -5, dayKey: '2026-11-29' });
    ledger = recordJob(ledger, { cpu_ms: Number.NaN, dayKey: '2026-11-29' });
    expect(ledger).toMatchObject({ jobs_done: 1002, cpu_seconds: 100.4 });
  });

  it('makes day keys from local dates', () => {
    expect(localDayKey(new Date(2026, 0, 5, 23, 59))).toBe('2026-01-05');
    expect(localDayKey(new Date(2026, 10, 29, 0, 0))).toBe('2026-11-29');
  });
});

describe('the ledger file', () => {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'donor-ledger-'));
    file = join(dir, 'ledger.json');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is an empty ledger when missing', async () => {
    expect(await loadLedger(file)).toEqual(emptyLedger());
  });

  it('reads back what was saved, private, with no temporary file left', async () => {
    const ledger = recordJob(emptyLedger(), { cpu_ms: 1234, dayKey: '2026-11-29' });
    await saveLedger(file, ledger);
    await saveLedger(file, recordJob(ledger, { cpu_ms: 1, dayKey: '2026-11-29' }));
    expect(await loadLedger(file)).toMatchObject({ jobs_done: 2, cpu_seconds: 1.235 });
    expect(await readdir(dir)).toEqual(['ledger.json']);
    if (process.platform !== 'win32') expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('names the file and the problem when damaged, and leaves it alone', async () => {
    await writeFile(file, '{"version":1,');
    await expect(loadLedger(file)).rejects.toThrow(new RegExp(`^${file}: not JSON`));
    const wrong = JSON.stringify({ ...emptyLedger(), jobs_done: -1, day: 'today' });
    await writeFile(file, wrong);
    const error = await loadLedger(file).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(LedgerFileError);
    expect((error as LedgerFileError).message).toBe(
      `${file}: day: expected a day YYYY-MM-DD, got "today"; jobs_done: expected a value >= 0, got -1`,
    );
    expect(await readFile(file, 'utf8')).toBe(wrong);
  });

  it('refuses to save a ledger that is not valid', async () => {
    const bad = { ...emptyLedger(), jobs_today: 0.5 } as Ledger;
    await expect(saveLedger(file, bad)).rejects.toThrow(
      `${file}: not saved: jobs_today: expected an integer, got 0.5`,
    );
    expect(await readdir(dir)).toEqual([]);
  });
});
