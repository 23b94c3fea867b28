// Where the migrations are found, from the source tree and from a build's layout; applying them is
// tested on a real server (test/store-postgres.test.ts).
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrationsDir } from './migrate.js';

describe('migrationsDir', () => {
  it('finds the SQL files beside the code in the source tree', () => {
    expect(migrationsDir()).toBe(join(import.meta.dirname, 'migrations'));
  });

  it.each([
    ['dist/ (cli.js, or a shared chunk)', ''],
    ['dist/bench/', 'bench'],
  ])('finds dist/postgres-migrations from code in %s', async (_where, sub) => {
    const dist = await mkdtemp(join(tmpdir(), 'codeexec-dist-'));
    try {
      await mkdir(join(dist, 'postgres-migrations'));
      await mkdir(join(dist, 'bench'));
      await writeFile(join(dist, 'postgres-migrations', '0001_jobs.sql'), '-- Up Migration\n');
      expect(migrationsDir(join(dist, sub))).toBe(join(dist, 'postgres-migrations'));
    } finally {
      await rm(dist, { recursive: true, force: true });
    }
  });

  it('says to build again when they are nowhere', () => {
    expect(() => migrationsDir('/nonexistent/dist')).toThrow(/migrations are missing .*npm run build/);
  });

  it('has files numbered from 0001 without a gap, each with an Up Migration section', async () => {
    const names = (await readdir(migrationsDir())).sort();
    expect(names.map((name) => name.slice(0, 4))).toEqual(
      names.map((_, i) => String(i + 1).padStart(4, '0')),
    );
    for (const name of names) {
      expect(name).toMatch(/^\d{4}_[a-z_]+\.sql$/);
      expect(await readFile(join(migrationsDir(), name), 'utf8')).toMatch(/^-- Up Migration$/m);
    }
  });
});
