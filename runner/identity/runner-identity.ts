// Who a runner is across restarts: a random id created once in its data directory. Its containers
// carry it (the pool's RUNNER_ID_LABEL), so a restarted runner removes the containers its previous
// process left and never another runner's, even one with the same display name on the same host.
import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { lockDataDir } from './data-dir-lock.js';

export const ID_FILE = 'runner-id';

/** Where a runner keeps its identity when its embedder names no directory. */
export function defaultDataDir(): string {
  return join(homedir(), '.codeexec', 'runner');
}

export interface RunnerIdentity {
  /** Stable for this data directory: the containers' label. */
  readonly id: string;
  readonly dataDir: string;
  /** Gives the directory up (the lock); the id stays for the next process. */
  release(): Promise<void>;
}

const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Locks `dataDir` (DataDirLockedError if a live process has it) and reads or creates its id. */
export async function claimIdentity(dataDir: string): Promise<RunnerIdentity> {
  const lock = await lockDataDir(dataDir);
  try {
    const id = await readOrCreateId(dataDir);
    return { id, dataDir, release: () => lock.release() };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

async function readOrCreateId(dir: string): Promise<string> {
  const path = join(dir, ID_FILE);
  try {
    const id = (await readFile(path, 'utf8')).trim();
    if (ID_PATTERN.test(id)) return id;
    throw new Error(`${path} does not hold a runner id (a UUID); remove it to give this runner a new one`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // Written whole then renamed: a crash never leaves half an id behind. The lock makes this ours.
  const id = randomUUID();
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${id}\n`, { mode: 0o600 });
  await rename(temporary, path);
  return id;
}

/**
 * The name a runner shows when none is given: the host name and the start of its id, so two
 * runners on one host (the gateway refuses a second live runner of the same name) both connect,
 * and a restarted one comes back under its old name.
 */
export function defaultRunnerName(id: string): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .slice(0, 100) || 'runner';
  return `${host}-${id.slice(0, 8)}`;
}
