import { lstat, readdir, unlink } from 'node:fs/promises';
import { ArgumentError, StorageAccessError } from '../../core/errors.ts';
import type { PendingWrite, StoredObject } from '../Service.ts';
import { fsCode, isMissing, TEMP_DIR, type DiskLayout } from './paths.ts';
import { keyEntries } from './walk.ts';

/** Every regular file of the layout under `prefix` with its size and modification time (listObjects). */
export async function* storedObjects(layout: DiskLayout, prefix: string, service: string): AsyncGenerator<StoredObject> {
  for await (const entry of keyEntries(layout, prefix)) {
    if (!entry.isFile) continue;
    try {
      const info = await lstat(layout.contain(...entry.segments));
      if (info.isFile()) yield { key: entry.key, byteSize: info.size, lastModified: info.mtime };
    } catch (error) {
      if (!isMissing(error)) throw new StorageAccessError(`Disk service "${service}" could not inspect a file while listing.`, { cause: error });
    }
  }
}

/** The files in the temp folder: writes that never reached their rename (listPendingWrites). */
export async function* tempFiles(layout: DiskLayout, service: string): AsyncGenerator<PendingWrite> {
  let names: string[];
  try {
    names = (await readdir(layout.tempDir(), { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  } catch (error) {
    if (isMissing(error)) return;
    throw new StorageAccessError(`Disk service "${service}" could not list its temp folder.`, { cause: error });
  }
  for (const id of names) {
    try {
      const info = await lstat(layout.contain(TEMP_DIR, id));
      // birthtime is 0 where the filesystem keeps none.
      const startedAt = info.birthtimeMs > 0 ? info.birthtime : info.mtime;
      yield { kind: 'temp-file', id, startedAt, service };
    } catch (error) {
      if (!isMissing(error)) throw new StorageAccessError(`Disk service "${service}" could not inspect a temp file.`, { cause: error });
    }
  }
}

/** Deletes a temp file named by a PendingWrite; its id is a plain file name, contained in the temp folder. Idempotent. */
export async function discardTempFile(layout: DiskLayout, write: PendingWrite, service: string): Promise<void> {
  if (write?.kind !== 'temp-file') throw new ArgumentError(`Disk service "${service}" has only temp-file pending writes.`);
  const { id } = write;
  if (typeof id !== 'string' || !/^[A-Za-z0-9._-]{1,255}$/.test(id) || id === '.' || id === '..') {
    throw new ArgumentError(`Disk service "${service}": a temp-file id is a plain file name.`);
  }
  try {
    await unlink(layout.contain(TEMP_DIR, id));
  } catch (error) {
    if (fsCode(error) !== 'ENOENT') throw new StorageAccessError(`Disk service "${service}" could not delete a temp file.`, { cause: error });
  }
}
