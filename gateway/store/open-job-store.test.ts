import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/index.js';
import { LowdbJobStore } from './lowdb-job-store.js';
import { openJobStore, parseStoreSpec } from './open-job-store.js';

describe('parseStoreSpec', () => {
  it.each([
    [undefined, { kind: 'files' }],
    ['', { kind: 'files' }],
    ['  ', { kind: 'files' }],
    [
      'postgres://gw:pw@db.internal:5432/codeexec',
      { kind: 'postgres', url: 'postgres://gw:pw@db.internal:5432/codeexec' },
    ],
    [
      'postgresql://db/codeexec?sslmode=require',
      { kind: 'postgres', url: 'postgresql://db/codeexec?sslmode=require' },
    ],
    ['POSTGRES://db/codeexec', { kind: 'postgres', url: 'POSTGRES://db/codeexec' }],
    // A Unix socket, libpq's way.
    [
      'postgres:///codeexec?host=/var/run/postgresql',
      { kind: 'postgres', url: 'postgres:///codeexec?host=/var/run/postgresql' },
    ],
  ])('%j is %j', (spec, parsed) => {
    expect(parseStoreSpec(spec)).toEqual(parsed);
  });

  it.each([
    ['mysql://root:hunter2@db/jobs', /postgres:\/\/ URL .*not a mysql: URL/],
    ['/var/lib/codeexec', /must be empty .* or a postgres:\/\/ URL.*not this value/],
    ['lowdb', /not this value/],
    ['postgres://', /names no database host/],
    ['postgres://[::1/jobs', /not a valid postgres:\/\/ URL/],
  ])('refuses %j, saying what is accepted', (spec, message) => {
    expect(() => parseStoreSpec(spec)).toThrow(message);
  });

  it('never repeats a value it refuses (it may hold a password)', () => {
    expect(() => parseStoreSpec('mysql://root:hunter2@db/jobs')).toThrow(/^((?!hunter2).)*$/);
    expect(() => parseStoreSpec('postgres://root:hunter2@[::1/jobs')).toThrow(/^((?!hunter2).)*$/);
  });
});

describe('openJobStore', () => {
  it('opens the files in the data directory when no store is named', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'codeexec-store-'));
    try {
      const { store, fleet } = await openJobStore(undefined, dir, silentLogger, 'gw-one');
      expect(store).toBeInstanceOf(LowdbJobStore);
      // Nobody shares the files: a fleet of one, with nothing to claim.
      expect(fleet).toMatchObject({ id: 'gw-one', shared: false });
      expect(await store.size()).toBe(0);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('opens a PostgreSQL store for a postgres:// URL, and says when it cannot be reached', async () => {
    const probe = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => probe.once('listening', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise((resolve) => probe.close(resolve));
    await expect(
      openJobStore(`postgres://127.0.0.1:${port}/jobs`, '/nonexistent', silentLogger, 'gw-one'),
    ).rejects.toMatchObject({
      code: 'unavailable',
    });
  });
});
