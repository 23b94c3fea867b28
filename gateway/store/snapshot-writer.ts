// Writes the job store's snapshot, jobs.json ({"version":1,"jobs":[…]}, the format the gateway has
// always written), a slice of records at a time: no turn of the event loop serialises, copies or
// encodes the whole file, which at 10 000 jobs (13 MB) held the loop for ~200 ms on a busy VM.
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { JobRecord } from '../../shared/index.js';
import { syncDir, writeAll } from './fs-sync.js';

/** Records serialised per write: ~300 KB, a millisecond or two of the event loop. */
const SLICE = 250;
/**
 * The snapshot is flushed every this many bytes as it is written: on ext4 a journal fdatasync can
 * wait for every dirty block of other files in the same transaction, and 13 MB of them made the
 * journal's batches stall during a compaction.
 */
const SYNC_EVERY = 1024 * 1024;

/**
 * Writes `jobs` to `temp`, then renames it over `file`: a crash leaves the old snapshot or the new,
 * never a part (a leftover `temp` is not a snapshot). Always synced, whatever the store's fsync
 * option: the data is on the disk before the rename, and the rename before this resolves, because
 * the journal the snapshot replaces is removed next, and a power loss must never find neither.
 * Rare (once per compaction) and off the write path, so it costs writes nothing. Resolves with the
 * snapshot's size in bytes. `jobs` must not change meanwhile: the store passes frozen records.
 */
export async function writeSnapshot(jobs: readonly JobRecord[], file: string, temp: string): Promise<number> {
  const handle = await open(temp, 'w');
  let bytes = 0;
  const write = async (text: string) => {
    const buffer = Buffer.from(text, 'utf8');
    await writeAll(handle, buffer);
    bytes += buffer.length;
  };
  try {
    await write('{"version":1,"jobs":[');
    let unsynced = 0;
    for (let i = 0; i < jobs.length; i += SLICE) {
      const slice = jobs.slice(i, i + SLICE).map((job) => JSON.stringify(job));
      await write((i > 0 ? ',' : '') + slice.join(','));
      if (bytes - unsynced > SYNC_EVERY) {
        await handle.datasync();
        unsynced = bytes;
      }
    }
    await write(']}');
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  await syncDir(dirname(file));
  return bytes;
}
