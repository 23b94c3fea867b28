// A runner's identity and the lock on its data directory, on a real temporary directory: one id
// per directory for good, one live process per directory at a time, a crashed owner's lock taken over.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { DataDirLockedError, LOCK_FILE } from './data-dir-lock.js';
import { claimIdentity, defaultRunnerName, ID_FILE } from './runner-identity.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'codeexec-identity-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(child.stdout);
}

describe('claimIdentity', () => {
  it('creates an id once and finds it again after a release', async () => {
    const dir = await tempDir();
    const first = await claimIdentity(join(dir, 'nested', 'runner'));
    expect(first.id).toMatch(/^[0-9a-f-]{36}$/);
    await first.release();
    const again = await claimIdentity(join(dir, 'nested', 'runner'));
    expect(again.id).toBe(first.id);
    await again.release();
  });

  it('refuses a directory a live process holds, this one included', async () => {
    const dir = await tempDir();
    const held = await claimIdentity(dir);
    const second = claimIdentity(dir);
    await expect(second).rejects.toBeInstanceOf(DataDirLockedError);
    await expect(second).rejects.toThrow(new RegExp(`in use by process ${process.pid}`));
    await held.release();
    await held.release(); // idempotent
    await (await claimIdentity(dir)).release();
  });

  it('takes over the lock of a process that is gone, and an unreadable one', async () => {
    const dir = await tempDir();
    const lock = join(dir, LOCK_FILE);
    await writeFile(lock, JSON.stringify({ pid: deadPid(), host: hostname(), token: 'old' }));
    const taken = await claimIdentity(dir);
    expect(JSON.parse(await readFile(lock, 'utf8'))).toMatchObject({ pid: process.pid });
    await taken.release();
    await writeFile(lock, '{"pid": 12');
    await (await claimIdentity(dir)).release();
  });

  it('refuses a lock from another host, whose process it cannot see', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid(), host: 'elsewhere', token: 'x' }));
    await expect(claimIdentity(dir)).rejects.toThrow(/on elsewhere/);
  });

  it('refuses an id file that holds no id, and gives the directory up again', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, ID_FILE), 'not an id\n');
    await expect(claimIdentity(dir)).rejects.toThrow(/does not hold a runner id/);
    await rm(join(dir, ID_FILE));
    await (await claimIdentity(dir)).release();
  });
});

describe('defaultRunnerName', () => {
  it('is the host name and the start of the id', () => {
    const name = defaultRunnerName('0123abcd-0000-4000-8000-000000000000');
    expect(name.endsWith('-0123abcd')).toBe(true);
    expect(name).toMatch(/^[A-Za-z0-9._-]+$/);
  });
});
