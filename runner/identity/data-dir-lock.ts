// One live runner per data directory: `<dir>/runner.lock` holds the owner's pid. A lock whose
// process is alive (this very process included: another Runner in it) refuses the directory; one
// whose process is gone was left by a crash, and is taken over.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = 'runner.lock';

/** The data directory is in use by a live process. */
export class DataDirLockedError extends Error {
  readonly code = 'runner_dir_locked';
  readonly pid: number;

  constructor(dir: string, pid: number, host: string) {
    super(
      `the runner data directory ${dir} is in use by process ${pid}${host === hostname() ? '' : ` on ${host}`}: ` +
        'give this runner a data directory of its own (CODEEXEC_RUNNER_DATA_DIR, or the dataDir option), ' +
        `or stop that process (if it is not a runner, remove ${join(dir, LOCK_FILE)})`,
    );
    this.name = 'DataDirLockedError';
    this.pid = pid;
  }
}

interface LockContent {
  pid: number;
  host: string;
  /** Tells this taker's lock from another one's with the same pid (two runners in one process). */
  token: string;
}

export interface DataDirLock {
  readonly dir: string;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): Promise<void>;
}

const ATTEMPTS = 5;

/** Creates `dir` if needed and locks it; throws DataDirLockedError when a live process holds it. */
export async function lockDataDir(dir: string): Promise<DataDirLock> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, LOCK_FILE);
  const mine: LockContent = { pid: process.pid, host: hostname(), token: randomBytes(8).toString('hex') };
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    try {
      await writeFile(path, `${JSON.stringify(mine)}\n`, { flag: 'wx', mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const held = await readLock(path);
      if (held === 'gone') continue; // released meanwhile: try again
      if (held !== null && (held.host !== mine.host || alive(held.pid))) {
        throw new DataDirLockedError(dir, held.pid, held.host);
      }
      // Left by a process that is gone (or unreadable: a crash mid-write). Take it over.
      await rm(path, { force: true });
      continue;
    }
    // Two takers of one stale lock may both have removed and re-created it: the last write wins,
    // and only the winner finds its own token.
    const now = await readLock(path);
    if (now !== null && now !== 'gone' && now.token === mine.token) return lockHandle(dir, path, mine);
    if (now !== null && now !== 'gone') throw new DataDirLockedError(dir, now.pid, now.host);
  }
  throw new Error(`could not lock the runner data directory ${dir}: its lock file keeps changing`);
}

function lockHandle(dir: string, path: string, mine: LockContent): DataDirLock {
  let released: Promise<void> | null = null;
  return {
    dir,
    release: () => {
      released ??= (async () => {
        const now = await readLock(path);
        if (now !== null && now !== 'gone' && now.token === mine.token) await rm(path, { force: true });
      })();
      return released;
    },
  };
}

/** The lock's content, null when it cannot be parsed, 'gone' when there is no lock file. */
async function readLock(path: string): Promise<LockContent | null | 'gone'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw err;
  }
  try {
    const value = JSON.parse(text) as Partial<LockContent>;
    if (typeof value.pid !== 'number' || typeof value.token !== 'string') return null;
    return {
      pid: value.pid,
      host: typeof value.host === 'string' ? value.host : hostname(),
      token: value.token,
    };
  } catch {
    return null;
  }
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
