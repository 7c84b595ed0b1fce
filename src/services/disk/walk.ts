import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { StorageAccessError } from '../../core/errors.ts';
import { folderFor, folderPart, fsCode, type DiskLayout } from './paths.ts';

/** A non-directory entry below `root/ab/cd/` whose key starts with the prefix. */
export interface KeyEntry {
  key: string;
  /** Path segments below the root (`ab`, `cd`, then the key's own segments): pass them to layout.contain(). */
  segments: string[];
  /** A regular file (an object); otherwise a symlink or other entry that is never followed. */
  isFile: boolean;
}

export interface WalkOptions {
  /** Called after each key folder's contents were walked (post-order), with its segments and key (`a/b/`). */
  afterFolder?(segments: string[], folderKey: string): Promise<void>;
}

/**
 * Every entry below `root/ab/cd/` whose key starts with `prefix`, compared literally with
 * startsWith: no glob is ever expanded, and folders are listed, never joined from the prefix, so a
 * symlinked folder is never entered. The one- and two-character layout folders keep the temp
 * folder out. Throws StorageAccessError for an fs failure; a folder that vanishes is skipped.
 */
export async function* keyEntries(layout: DiskLayout, prefix: string, options: WalkOptions = {}): AsyncGenerator<KeyEntry> {
  for (const first of await layoutFolders(layout, [], folderPart(prefix.slice(0, 2)))) {
    for (const second of await layoutFolders(layout, [first], folderPart(prefix.slice(2, 4)))) {
      yield* below(layout, [first, second], '', prefix, options);
    }
  }
}

/** The real (non-symlink) layout folders below `parent` whose name starts with `part`. */
async function layoutFolders(layout: DiskLayout, parent: string[], part: string): Promise<string[]> {
  const entries = await list(layout, parent);
  return entries.filter((e) => e.isDirectory() && e.name.length <= 2 && e.name.startsWith(part)).map((e) => e.name);
}

async function* below(layout: DiskLayout, segments: string[], keyDir: string, prefix: string, options: WalkOptions): AsyncGenerator<KeyEntry> {
  for (const entry of await list(layout, segments)) {
    const key = keyDir + entry.name;
    const where = [...segments, entry.name];
    // Dirent has lstat semantics: a symlink is never a directory here, so it is never followed.
    if (entry.isDirectory()) {
      const dir = `${key}/`;
      if (!dir.startsWith(prefix) && !prefix.startsWith(dir)) continue;
      yield* below(layout, where, dir, prefix, options);
      if (dir.startsWith(prefix)) await options.afterFolder?.(where, dir);
    } else if (key.startsWith(prefix) && belongsHere(key, segments)) {
      yield { key, segments: where, isFile: entry.isFile() };
    }
  }
}

/** Whether `root/<first>/<second>/…/key` is where pathFor(key) puts it; anything else is not an object of this layout. */
function belongsHere(key: string, segments: string[]): boolean {
  const [first, second] = folderFor(key);
  return segments[0] === first && segments[1] === second;
}

/** The entries of `root/<segments>`, or none when it is missing. */
async function list(layout: DiskLayout, segments: string[]): Promise<Dirent[]> {
  const dir = segments.length ? layout.contain(...segments) : layout.root;
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (fsCode(error) === 'ENOENT' || fsCode(error) === 'ENOTDIR') return [];
    throw new StorageAccessError('Disk service could not list a folder.', { cause: error });
  }
}
