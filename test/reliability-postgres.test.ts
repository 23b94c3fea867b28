// Runner reliability in the database gateways share (store/postgres/postgres-reliability.ts under
// ReliabilityBook), on a private PostgreSQL server: two books on one database see each other's
// quarantines and add up each other's counts, with the streak of scheduling/reliability.ts's rules;
// a new book (a restart) finds them all; and a server that goes away loses no change.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { openReliabilityBook } from '../gateway/runners/open-reliability-book.js';
import { ReliabilityBook, type ReliabilityBookOptions } from '../gateway/runners/reliability-book.js';
import { type ReliabilityChange, withChanges } from '../gateway/runners/reliability-changes.js';
import { PostgresReliability } from '../gateway/store/postgres/postgres-reliability.js';
import { createLogger, type Logger, silentLogger } from '../shared/index.js';
import { teardown } from './helpers.js';
import { type PostgresServer, startPostgres } from './postgres-server.js';

const AT = '2026-01-02T03:04:05.000Z';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
});

/** A book on the database of `url` (a gateway), closed when the test ends. */
async function bookOn(
  url: string,
  options: ReliabilityBookOptions = {},
  log: Logger = silentLogger,
): Promise<ReliabilityBook> {
  const storage = PostgresReliability.connect(url);
  await storage.migrate();
  const book = await ReliabilityBook.openOn(storage, log, options);
  teardown(() => book.close());
  return book;
}

/** The stored row of `identity`, as psql prints it. */
function row(url: string, identity: string): Promise<string> {
  return server.psql(
    url,
    `SELECT agreed, disagreed, streak, last_disagreement_at, quarantined FROM runner_reliability
     WHERE identity = '${identity}'`,
  );
}

describe('ReliabilityBook on PostgreSQL', () => {
  it('makes its table on a new database, and a quarantine set on one gateway holds on the other', async () => {
    const url = await server.createDatabase();
    const one = await openReliabilityBook(url, '/nonexistent/runners.json', silentLogger);
    teardown(() => one.close());
    const two = await bookOn(url, { reloadEveryMs: 100 });
    one.quarantine('donor:liar', true);
    await one.flush();
    expect(await row(url, 'donor:liar')).toBe('0|0|0||t');
    // Read again on its own, every 100 ms here.
    await vi.waitFor(() =>
      expect(two.standing('donor:liar')).toEqual({ standing: 'good', quarantined: true }),
    );
    two.quarantine('donor:liar', false);
    await two.flush();
    await one.reload();
    expect(one.standing('donor:liar').quarantined).toBe(false);
  });

  it('adds up the counts two gateways write at the same time', async () => {
    const url = await server.createDatabase();
    const [one, two] = [await bookOn(url), await bookOn(url)];
    for (let i = 0; i < 20; i++) one.agreed('r');
    for (let i = 0; i < 15; i++) two.agreed('r');
    two.disagreed('r', AT);
    one.disagreed('r', AT);
    await Promise.all([one.flush(), two.flush(), one.flush(), two.flush()]);
    const [agreed, disagreed] = (await row(url, 'r')).split('|');
    expect([agreed, disagreed]).toEqual(['35', '2']);
    await Promise.all([one.reload(), two.reload()]);
    expect(one.get('r')).toEqual(two.get('r'));
    expect(one.get('r')).toMatchObject({ agreed: 35, disagreed: 2 });
  });

  it('computes the streak in the database by the rules of reliability.ts, and a restart keeps it all', async () => {
    const url = await server.createDatabase();
    const [one, two] = [await bookOn(url), await bookOn(url)];
    // Taking turns (each writes before the other goes on), so the order is known.
    const turns: [ReliabilityBook, ReliabilityChange][] = [
      [one, { identity: 'x', kind: 'agreed' }],
      [two, { identity: 'x', kind: 'disagreed', at: AT }],
      [one, { identity: 'y', kind: 'disagreed', at: AT }],
      [two, { identity: 'x', kind: 'agreed' }],
      [one, { identity: 'x', kind: 'agreed' }],
      [two, { identity: 'y', kind: 'quarantine', quarantined: true }],
      [one, { identity: 'y', kind: 'agreed' }],
    ];
    for (const [book, change] of turns) {
      if (change.kind === 'agreed') book.agreed(change.identity);
      else if (change.kind === 'disagreed') book.disagreed(change.identity, change.at);
      else book.quarantine(change.identity, change.quarantined);
      await book.flush();
    }
    const expected = withChanges(
      new Map(),
      turns.map(([, change]) => change),
    );
    expect(expected.get('x')).toMatchObject({ agreed: 3, disagreed: 1, streak: 2 });
    await one.close();
    await two.close();
    const restarted = await bookOn(url);
    expect(new Map(['x', 'y'].map((id) => [id, restarted.get(id)]))).toEqual(expected);
    expect(restarted.standing('x')).toEqual({ standing: 'doubtful', quarantined: false });
    expect(restarted.standing('y')).toEqual({ standing: 'doubtful', quarantined: true });
  });

  it('keeps its changes while the server is away, and stores them once it is back', async () => {
    const url = await server.createDatabase();
    const lines: { msg: string }[] = [];
    const log = createLogger({
      level: 'info',
      destination: { write: (line) => lines.push(JSON.parse(line)) },
    });
    const book = await bookOn(url, {}, log);
    book.agreed('r');
    await book.flush();
    await server.stop();
    try {
      book.agreed('r');
      book.quarantine('r', true);
      await book.flush();
      await book.reload();
      expect(book.get('r')).toMatchObject({ agreed: 2, quarantined: true });
      expect(lines.map((line) => line.msg)).toContain(
        'could not store runner reliability changes; trying again',
      );
    } finally {
      await server.start();
    }
    await book.flush();
    expect(await row(url, 'r')).toBe('2|0|2||t');
    expect(lines.map((line) => line.msg)).toContain('runner reliability storage works again');
  });
});
