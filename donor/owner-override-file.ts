// What the owner said last (pause until, finish), kept in the donor's data directory so it
// outlives the process: a donor paused indefinitely stays paused after a reboot. One small JSON
// file, written whole then renamed, so a crash leaves the old or the new one, never half.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as v from 'valibot';
import type { OwnerOverride } from './donor-policy.js';
import { writeFileAtomic } from './private-file.js';

export const OWNER_FILE = 'owner.json';

const OwnerOverrideSchema = v.variant('kind', [
  v.object({ kind: v.literal('none') }),
  v.object({ kind: v.literal('paused'), until: v.nullable(v.number()) }),
  v.object({ kind: v.literal('finish') }),
]);

export function ownerFilePath(dataDir: string): string {
  return join(dataDir, OWNER_FILE);
}

/**
 * The override kept in `dataDir`; none when there is no file. A damaged file (not written by
 * this code) is reported through `damaged` and counts as none: the owner sees the donor donate
 * and can pause it again, which beats a donor that refuses to start.
 */
export async function loadOwnerOverride(
  dataDir: string,
  damaged: (why: string) => void = () => {},
): Promise<OwnerOverride> {
  let text: string;
  try {
    text = await readFile(ownerFilePath(dataDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    throw err;
  }
  try {
    const parsed = v.safeParse(OwnerOverrideSchema, JSON.parse(text));
    if (parsed.success) return parsed.output;
    damaged(`${ownerFilePath(dataDir)} is not an owner override`);
  } catch {
    damaged(`${ownerFilePath(dataDir)} is not JSON`);
  }
  return { kind: 'none' };
}

export async function saveOwnerOverride(dataDir: string, owner: OwnerOverride): Promise<void> {
  await writeFileAtomic(ownerFilePath(dataDir), `${JSON.stringify(owner)}\n`);
}
