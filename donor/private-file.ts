// The donor's small files (settings, ledger, the owner's last word, the desktop app's token): read
// as JSON with every failure said in words, and written whole and atomically, readable by the
// owner alone. One implementation for the headless donor and the desktop app.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * The JSON in `path`; undefined when there is no file. Any other failure (unreadable, empty, not
 * JSON) goes through `fail`, which makes the error to throw from its problems.
 */
export async function readJsonFile(path: string, fail: (problems: string[]) => Error): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    if (code === 'ENOENT') return undefined;
    throw fail([`cannot be read (${message})`]);
  }
  if (text.trim() === '') throw fail(['not JSON (the file is empty)']);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw fail([`not JSON (${(err as Error).message})`]);
  }
}

/**
 * Writes `text` to `path` so that a crash leaves the old file or the new one, never a part: into a
 * temporary file in the same directory, flushed to the disk, then renamed over `path`. The file is
 * the owner's alone (0600) and a directory it creates too (0700).
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (err) {
    await unlink(temporary).catch(() => {});
    throw err;
  }
  await syncDirectory(dir);
}

/** Makes a rename durable; a platform that cannot open a directory (Windows) is left to its own. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Best effort: the file itself is complete either way.
  }
}
