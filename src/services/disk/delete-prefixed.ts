import type { Dirent } from 'node:fs';
import { readdir, rmdir, unlink } from 'node:fs/promises';
import { StorageAccessError } from '../../core/errors.ts';
import { assertValidKey } from '../../core/keys.ts';
import { folderPart, fsCode, type DiskLayout } from './paths.ts';

/**
 * Deletes every file below `root/ab/cd/` whose key starts with `prefix`, compared literally with
 * startsWith: no glob is ever expanded. Symlinks are never followed. Idempotent.
 * Throws InvalidKeyError for a bad prefix, StorageAccessError for an fs failure.
 */
export async function deletePrefixed(layout: DiskLayout, prefix: string): Promise<void> {
  assertValidKey(prefix, 'prefix');
  for (const first of await folders(layout, [], folderPart(prefix.slice(0, 2)))) {
    for (const second of await folders(layout, [first], folderPart(prefix.slice(2, 4)))) {
      await sweep(layout, [first, second], '', prefix);
    }
  }
}

/**
 * The real (non-symlink) folders below `parent` that can hold keys whose folder part starts with
 * `part`. Listing, rather than joining `part`, is what keeps a symlinked folder from being entered.
 */
async function folders(layout: DiskLayout, parent: string[], part: string): Promise<string[]> {
  const entries = await list(layout, parent);
  // Folder names are one or two characters, which also keeps the temp dir out.
  return entries.filter((e) => e.isDirectory() && e.name.length <= 2 && e.name.startsWith(part)).map((e) => e.name);
}

/** Recursively deletes matching files below `root/<segments>`, where `keyDir` is the key path so far. */
async function sweep(layout: DiskLayout, segments: string[], keyDir: string, prefix: string): Promise<void> {
  for (const entry of await list(layout, segments)) {
    const key = keyDir + entry.name;
    const where = [...segments, entry.name];
    // A symlink is neither followed nor treated as a directory: only the link itself can be removed.
    if (entry.isDirectory()) {
      const dir = `${key}/`;
      if (!dir.startsWith(prefix) && !prefix.startsWith(dir)) continue;
      await sweep(layout, where, dir, prefix);
      if (dir.startsWith(prefix)) await removeEmptyDir(layout, where);
    } else if (key.startsWith(prefix)) {
      await ignoreMissing(unlink(layout.contain(...where)), 'delete a file');
    }
  }
}

/** The entries of `root/<segments>`, or none when it is missing. lstat semantics: links stay links. */
async function list(layout: DiskLayout, segments: string[]): Promise<Dirent[]> {
  const dir = segments.length ? layout.contain(...segments) : layout.root;
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (fsCode(error) === 'ENOENT' || fsCode(error) === 'ENOTDIR') return [];
    throw new StorageAccessError('Disk service could not list a folder while deleting by prefix.', { cause: error });
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

async function ignoreMissing(operation: Promise<void>, action: string): Promise<void> {
  try {
    await operation;
  } catch (error) {
    if (fsCode(error) !== 'ENOENT') throw new StorageAccessError(`Disk service could not ${action}.`, { cause: error });
  }
}
