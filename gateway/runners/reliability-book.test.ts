// ReliabilityBook over its storage seam: changes show at once and are stored later, kept and tried
// again while the storage fails, what other gateways stored shows after a reload (with this
// gateway's pending changes on top), and runners.json survives a restart. The database itself is
// test/reliability-postgres.test.ts's.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, type Logger, silentLogger } from '../../shared/index.js';
import type { Reliability } from '../scheduling/reliability.js';
import { ReliabilityBook, type ReliabilityStorage } from './reliability-book.js';
import { type ReliabilityChange, withChanges } from './reliability-changes.js';

const AT = '2026-01-02T03:04:05.000Z';

/** A database in memory that several books share: each change applied as it comes, all or none. */
class SharedRecords implements ReliabilityStorage {
  readonly where = 'memory';
  readonly shared = true;
  records = new Map<string, Reliability>();
  failing = false;
  saves = 0;
  closed = false;

  async load(): Promise<Map<string, Reliability>> {
    if (this.failing) throw new Error('the database is away');
    return new Map(this.records);
  }

  async save(changes: readonly ReliabilityChange[]): Promise<void> {
    if (this.failing) throw new Error('the database is away');
    this.saves += 1;
    this.records = withChanges(this.records, changes);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

const books: ReliabilityBook[] = [];
afterEach(async () => {
  for (const book of books.splice(0)) await book.close();
});

async function bookOn(storage: ReliabilityStorage, log: Logger = silentLogger): Promise<ReliabilityBook> {
  // No periodic reload in these tests: they call reload() when they mean it.
  const book = await ReliabilityBook.openOn(storage, log, { reloadEveryMs: 3_600_000 });
  books.push(book);
  return book;
}

function recordingLogger(): { log: Logger; messages: () => string[] } {
  const lines: { msg: string; level: string }[] = [];
  const log = createLogger({ level: 'info', destination: { write: (line) => lines.push(JSON.parse(line)) } });
  return { log, messages: () => lines.map((line) => `${line.level} ${line.msg}`) };
}

describe('ReliabilityBook on a shared storage', () => {
  it('shows a change at once and stores the changes made meanwhile in one write', async () => {
    const storage = new SharedRecords();
    const book = await bookOn(storage);
    book.agreed('a');
    book.agreed('a');
    book.disagreed('b', AT);
    expect(book.get('a')).toMatchObject({ agreed: 2, streak: 2 });
    expect(book.standing('b')).toEqual({ standing: 'doubtful', quarantined: false });
    expect(storage.records.size).toBe(0);
    await book.flush();
    expect(storage.saves).toBe(1);
    expect(storage.records.get('a')).toMatchObject({ agreed: 2, streak: 2 });
    expect(storage.records.get('b')).toMatchObject({ disagreed: 1, last_disagreement_at: AT });
  });

  it('sees what another book stored after a reload, and its own writes add to it', async () => {
    const storage = new SharedRecords();
    const [one, two] = [await bookOn(storage), await bookOn(storage)];
    one.quarantine('liar', true);
    one.agreed('a');
    await one.flush();
    expect(two.standing('liar').quarantined).toBe(false);
    await two.reload();
    expect(two.standing('liar').quarantined).toBe(true);
    two.agreed('a');
    await two.flush();
    // After its own write, a book reads again: both agreements.
    expect(two.get('a')).toMatchObject({ agreed: 2, streak: 2 });
    await one.reload();
    expect(one.get('a')).toMatchObject({ agreed: 2, streak: 2 });
  });

  it('keeps its pending changes on top of what a reload read', async () => {
    const storage = new SharedRecords();
    const [one, two] = [await bookOn(storage), await bookOn(storage)];
    storage.failing = true;
    one.agreed('a');
    await one.flush();
    two.agreed('a');
    storage.failing = false;
    await two.flush();
    await one.reload();
    // Two's agreement read back, one's still pending on top.
    expect(one.get('a')).toMatchObject({ agreed: 2 });
    await one.flush();
    expect(storage.records.get('a')).toMatchObject({ agreed: 2 });
  });

  it('while the storage fails: logs once, keeps the changes, stores them once it works', async () => {
    const storage = new SharedRecords();
    const { log, messages } = recordingLogger();
    const book = await bookOn(storage, log);
    storage.failing = true;
    book.quarantine('x', true);
    await book.flush();
    book.agreed('x');
    await book.flush();
    await book.reload();
    expect(book.get('x')).toMatchObject({ agreed: 1, quarantined: true });
    expect(messages().filter((m) => m.startsWith('error'))).toEqual([
      'error could not store runner reliability changes; trying again',
    ]);
    storage.failing = false;
    await book.flush();
    expect(storage.records.get('x')).toMatchObject({ agreed: 1, quarantined: true });
    expect(messages()).toContain('info runner reliability storage works again');
  });

  it('close() writes what is pending and closes the storage; a failing open closes it too', async () => {
    const storage = new SharedRecords();
    const book = await ReliabilityBook.openOn(storage, silentLogger);
    book.disagreed('d', AT);
    await book.close();
    expect(storage.records.get('d')).toMatchObject({ disagreed: 1 });
    expect(storage.closed).toBe(true);

    const away = new SharedRecords();
    away.failing = true;
    await expect(ReliabilityBook.openOn(away, silentLogger)).rejects.toThrow('the database is away');
    expect(away.closed).toBe(true);
  });
});

describe('ReliabilityBook on runners.json', () => {
  let dir: string;
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps reliability and quarantines across a restart', async () => {
    dir = await mkdtemp(join(tmpdir(), 'codeexec-reliability-'));
    const file = join(dir, 'runners.json');
    const first = await ReliabilityBook.open(file, silentLogger);
    first.disagreed('liar', AT);
    first.quarantine('liar', true);
    first.agreed('good');
    await first.close();
    const again = await ReliabilityBook.open(file, silentLogger);
    books.push(again);
    expect(again.get('liar')).toEqual({
      agreed: 0,
      disagreed: 1,
      streak: 0,
      last_disagreement_at: AT,
      quarantined: true,
    });
    expect(again.standing('good')).toEqual({ standing: 'good', quarantined: false });
  });

  it('refuses a damaged file, naming it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'codeexec-reliability-'));
    const file = join(dir, 'runners.json');
    await writeFile(file, '{"identities": 3}');
    await expect(ReliabilityBook.open(file, silentLogger)).rejects.toThrow(`${file} is damaged`);
  });
});
