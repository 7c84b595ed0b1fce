import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { ArgumentError, ConfigurationError } from '../core/errors.ts';
import type { BlobProblem } from './types.ts';

/** What an operation has done so far; saved after every finished batch. */
export interface RunState {
  done: number;
  bytes: number;
  /** Blobs with at least one problem. */
  failed: number;
  failures: BlobProblem[];
  /** The operation's own counters (moved, streamed, skipped, …). */
  counts: Record<string, number>;
}

interface Saved {
  version: 1;
  scope: string;
  lastId: string;
  state: RunState;
}

/**
 * A resumable run's position: the last blob id of the last finished batch and the state then.
 * Written to a temp file and renamed, so a SIGKILL mid-write leaves the previous checkpoint whole.
 * Holds ids, keys and counts only: the database URL is hashed into `scope`, never stored.
 */
export class Checkpoint {
  private constructor(readonly file: string | undefined, private readonly scope: string) {}

  /**
   * The checkpoint of an operation over `scope` (services, options) on this database; `false`: none.
   * The default file lives in a folder of the current user's only (0700, checked), so another user of
   * a shared /tmp cannot plant a checkpoint that makes a verify skip blobs.
   */
  static async for(option: string | false | undefined, operation: string, scope: Record<string, unknown>, dataSource: DataSource): Promise<Checkpoint> {
    const digest = createHash('sha256').update(JSON.stringify({ operation, scope, db: databaseIdentity(dataSource) })).digest('hex').slice(0, 24);
    if (option === false) return new Checkpoint(undefined, digest);
    if (typeof option === 'string') return new Checkpoint(option, digest);
    return new Checkpoint(path.join(await privateFolder(), `${operation}-${digest}.json`), digest);
  }

  /** The saved position, or undefined when there is none. ArgumentError when the file belongs to another operation or scope. */
  async load(): Promise<{ lastId: string; state: RunState } | undefined> {
    if (this.file === undefined) return undefined;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ConfigurationError('The checkpoint file cannot be read.', { cause: error, setting: 'checkpoint' });
    }
    const saved = parse(text);
    if (saved === undefined) throw new ArgumentError(`The checkpoint file ${this.file} is not an attache checkpoint.`);
    if (saved.scope !== this.scope) throw new ArgumentError(`The checkpoint file ${this.file} belongs to another operation, service or database.`);
    return { lastId: saved.lastId, state: saved.state };
  }

  /** Saves the position atomically (temp file + rename). Throws ConfigurationError when the file cannot be written. */
  async save(lastId: string, state: RunState): Promise<void> {
    if (this.file === undefined) return;
    const saved: Saved = { version: 1, scope: this.scope, lastId, state };
    const temp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(temp, JSON.stringify(saved), { mode: 0o600 });
      await rename(temp, this.file);
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw new ConfigurationError('The checkpoint file cannot be written.', { cause: error, setting: 'checkpoint' });
    }
  }

  /** Removes the checkpoint (the run completed). Idempotent. */
  async remove(): Promise<void> {
    if (this.file !== undefined) await rm(this.file, { force: true }).catch(() => undefined);
  }
}

/** `<tmpdir>/attache-<uid>`, created 0700; ConfigurationError when it is a symlink, another user's, or open to others. */
async function privateFolder(): Promise<string> {
  const uid = process.getuid?.();
  const folder = path.join(tmpdir(), `attache-${uid ?? 'user'}`);
  try {
    await mkdir(folder, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    const info = await lstat(folder);
    const safe = info.isDirectory() && (uid === undefined || (info.uid === uid && (info.mode & 0o077) === 0));
    if (safe) return folder;
  } catch (error) {
    throw new ConfigurationError(`The checkpoint folder ${folder} cannot be created.`, { cause: error, setting: 'checkpoint' });
  }
  throw new ConfigurationError(`The checkpoint folder ${folder} is not a private folder of this user: pass \`checkpoint\` a path of your own.`, { setting: 'checkpoint' });
}

/** What tells one database (and schema) from another; hashed, never written out. */
function databaseIdentity(dataSource: DataSource): unknown {
  const o = dataSource.options as unknown as Record<string, unknown>;
  const extra = o['extra'] as Record<string, unknown> | undefined;
  return [o['type'], o['url'], o['host'], o['port'], o['database'], o['schema'], extra?.['options']];
}

function parse(text: string): Saved | undefined {
  try {
    const value = JSON.parse(text) as Partial<Saved>;
    if (value.version !== 1 || typeof value.scope !== 'string' || typeof value.lastId !== 'string' || typeof value.state !== 'object' || value.state === null) return undefined;
    return value as Saved;
  } catch {
    return undefined;
  }
}
