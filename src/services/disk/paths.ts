import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { InvalidKeyError } from '../../core/errors.ts';
import { assertValidKey } from '../../core/keys.ts';

/** Where in-flight uploads are written before they are renamed into place. Never a folder name (those are ≤ 2 chars). */
export const TEMP_DIR = '.attache-tmp';

/**
 * The Rails Disk layout: key `abcdef…` lives in `ab/cd/`. A folder name is never empty, never
 * holds '/', and is never '.' or '..': '/' and '.' become '_', and a missing part is '_'.
 * The key itself stays whole below the folders, so two keys never share a path.
 */
export function folderFor(key: string): [string, string] {
  return [folderPart(key.slice(0, 2)), folderPart(key.slice(2, 4)) || '_'];
}

/** The folder-name form of up to two key characters ('' stays '', so it can match as a prefix). */
export function folderPart(chars: string): string {
  return chars.replace(/[/.]/g, '_');
}

/** The `code` of a Node system error, if it has one. */
export function fsCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Renames a finished temp file to `target` (a pathFor result), creating its folders. Throws the fs error. */
export async function moveIntoPlace(temp: string, target: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await mkdir(path.dirname(target), { recursive: true });
      await rename(temp, target);
      return;
    } catch (error) {
      // A concurrent deletePrefixed may remove the emptied folder between mkdir and rename.
      if (fsCode(error) !== 'ENOENT' || attempt === 2) throw error;
    }
  }
}

/** Whether an fs error means "nothing there". */
export function isMissing(error: unknown): boolean {
  return fsCode(error) === 'ENOENT' || fsCode(error) === 'ENOTDIR';
}

/** Maps keys to filesystem paths that are guaranteed to lie strictly below `root`. */
export class DiskLayout {
  readonly root: string;
  private readonly inside: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.inside = this.root.endsWith(path.sep) ? this.root : this.root + path.sep;
  }

  /** Invariant: every file path the Disk service touches comes from here. Throws InvalidKeyError. */
  pathFor(key: string): string {
    assertValidKey(key);
    return this.contain(...folderFor(key), key);
  }

  /**
   * The prefix twin of pathFor (the containment choke point): resolves segments below the root and
   * refuses the root itself and anything outside it. Comparing against `root + sep` keeps a sibling
   * such as `/srv/store-evil` out when the root is `/srv/store`. Throws InvalidKeyError.
   */
  contain(...segments: string[]): string {
    const resolved = path.resolve(this.root, ...segments);
    if (!resolved.startsWith(this.inside)) {
      throw new InvalidKeyError('The key resolves to a path outside the storage root.');
    }
    return resolved;
  }

  /** The directory for in-flight uploads. */
  tempDir(): string {
    return this.contain(TEMP_DIR);
  }

  /** A fresh, unique temporary file path inside tempDir(). */
  tempPath(): string {
    return this.contain(TEMP_DIR, `${randomUUID()}.part`);
  }
}
