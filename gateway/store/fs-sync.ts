// Flushing files and directories to the disk, for stores that promise to survive a power loss.
import { open } from 'node:fs/promises';

/** A file's data (and size) on the disk: fdatasync. */
export async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** A rename, a new file or a removal is on the disk only once its directory is synced. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
