// Writing files for stores that promise durability: whole buffers, and flushes of files and
// directories to the disk for those that promise to survive a power loss.
import { type FileHandle, open } from 'node:fs/promises';

/** Writes all of `buffer` at the handle's position (or the end, for a file opened to append). */
export async function writeAll(handle: FileHandle, buffer: Buffer): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesWritten } = await handle.write(buffer, done, buffer.length - done);
    done += bytesWritten;
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
