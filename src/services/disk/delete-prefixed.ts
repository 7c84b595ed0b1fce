import { rmdir, unlink } from 'node:fs/promises';
import { StorageAccessError } from '../../core/errors.ts';
import { assertValidKey } from '../../core/keys.ts';
import { fsCode, type DiskLayout } from './paths.ts';
import { keyEntries } from './walk.ts';

/**
 * Deletes every file below `root/ab/cd/` whose key starts with `prefix`, compared literally (see
 * keyEntries: no glob, no symlink followed; a symlink itself may be removed). Emptied key folders
 * go too. Idempotent. Throws InvalidKeyError for a bad prefix, StorageAccessError for an fs failure.
 */
export async function deletePrefixed(layout: DiskLayout, prefix: string): Promise<void> {
  assertValidKey(prefix, 'prefix');
  const afterFolder = (segments: string[]): Promise<void> => removeEmptyDir(layout, segments);
  for await (const entry of keyEntries(layout, prefix, { afterFolder })) {
    try {
      await unlink(layout.contain(...entry.segments));
    } catch (error) {
      if (fsCode(error) !== 'ENOENT') throw new StorageAccessError('Disk service could not delete a file.', { cause: error });
    }
  }
}

async function removeEmptyDir(layout: DiskLayout, segments: string[]): Promise<void> {
  try {
    await rmdir(layout.contain(...segments));
  } catch (error) {
    // A concurrent upload may have put a file there: keeping the folder is correct.
    if (!['ENOENT', 'ENOTEMPTY', 'EEXIST'].includes(fsCode(error) ?? '')) {
      throw new StorageAccessError('Disk service could not remove an emptied folder.', { cause: error });
    }
  }
}
