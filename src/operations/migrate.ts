import { ArgumentError, EncryptionError, FileNotFoundError, IntegrityError } from '../core/errors.ts';
import type { Blob } from '../records/Blob.ts';
import { copyOptions } from '../records/mirror.ts';
import type { Runtime } from '../runtime.ts';
import type { StorageService } from '../services/Service.ts';
import { keysOn, serviceOfKey, switchService } from './blob-rows.ts';
import { completed, runOperation, type BatchContext, type BlobContext } from './run.ts';
import { bytesMatch, checkStored, detailOf, problemOf } from './stored.ts';
import type { BlobProblem, MigrateOptions, MigrateReport } from './types.ts';

const LIST_BATCH = 500;

/**
 * Moves every blob of `from` to `to`. Per blob: a streamed copy under the same key (checked against
 * the blob's checksum and size; `to` encrypts as it encrypts and SecureS3 confirms it), a check of
 * what `to` stores, then one UPDATE switching service_name (guarded by the old one), and only after
 * that commit, with deleteSource, the source's deletion. The row is the truth: readers are served
 * from wherever it points. Killed and rerun, blobs already switched are not selected again and a
 * copy left on `to` is verified (or overwritten). Throws ConfigurationError, ArgumentError,
 * PersistenceError, OperationAbortedError; per-blob problems go into the report.
 */
export async function runMigrate(rt: Runtime, options: MigrateOptions): Promise<MigrateReport> {
  const { from, to } = options ?? ({} as MigrateOptions);
  if (typeof from !== 'string' || typeof to !== 'string') throw new ArgumentError('migrateBlobs needs `from` and `to` service names.');
  if (from === to) throw new ArgumentError(`migrateBlobs: "from" and "to" are the same service ("${from}").`);
  const move = new Move(rt, rt.service(from), rt.service(to), options.deleteSource === true && options.dryRun !== true);
  const dryRun = options.dryRun === true;
  const { state } = await runOperation(rt, {
    operation: 'migrate',
    scope: { service: from },
    checkpointScope: { to, dryRun, deleteSource: move.deleteSource },
    options: dryRun ? { ...options, checkpoint: false } : options,
    handle: (blob, context) => (dryRun ? plan(blob, context) : move.one(blob, context)),
    afterBatch: (context) => move.afterBatch(context),
  });
  const finished = move.deleteSource ? await move.finish() : { deleted: 0, failures: [] };
  const failures = [...state.failures, ...finished.failures];
  return completed(rt, 'migrate', state.done, {
    ok: failures.length === 0,
    dryRun,
    moved: state.counts['moved'] ?? 0,
    alreadyOnTarget: state.counts['alreadyOnTarget'] ?? 0,
    deletedSources: (state.counts['deletedSources'] ?? 0) + finished.deleted,
    failures,
  });
}

async function plan(blob: Blob, context: BlobContext): Promise<void> {
  if (blob.byteSize >= 0) context.count('moved');
}

/** One migration's services and its source deletions, which lag one batch behind the switch (a reader that loaded the row just before still finds its object). */
class Move {
  private current: string[] = [];
  private previous: string[] = [];

  constructor(private readonly rt: Runtime, private readonly source: StorageService, private readonly target: StorageService, readonly deleteSource: boolean) {
    const shared = sharedStorage(source, target);
    if (shared !== undefined) {
      throw new ArgumentError(`migrateBlobs: "${source.name}" and "${target.name}" store into the same ${shared}; a copy would overwrite the source object. Migrate to a separate bucket or root.`);
    }
  }

  async one(blob: Blob, context: BlobContext): Promise<void> {
    if (blob.byteSize < 0) return; // a key reservation whose upload never finished: the sweeper's
    let placed: { encryption: unknown; copied: boolean };
    try {
      placed = await this.place(blob);
    } catch (error) {
      context.problem({ problem: problemOf(error, 'copy-failed'), detail: `Not moved: ${detailOf(error)}` });
      await this.dropCopy(blob.key);
      return;
    }
    if (!(await switchService(this.rt.dataSource, blob.id, this.source.name, this.target.name, placed.encryption))) return this.lostRace(blob, context);
    context.count(placed.copied ? 'moved' : 'alreadyOnTarget');
    if (this.deleteSource) this.current.push(blob.key);
  }

  /** The object on the target, checked; a copy a killed run left there is kept when its bytes and encryption are right. */
  private async place(blob: Blob): Promise<{ encryption: unknown; copied: boolean }> {
    if (await this.target.exists(blob.key)) {
      const kept = await this.reusable(blob);
      if (kept) return { encryption: kept.encryption, copied: false };
    }
    await this.target.upload(blob.key, await this.source.download(blob.key), copyOptions(blob));
    return { encryption: await checkStored(this.target, blob), copied: true };
  }

  private async reusable(blob: Blob): Promise<{ encryption: unknown } | undefined> {
    try {
      if (!(await bytesMatch(this.target, blob))) return undefined;
      return { encryption: await checkStored(this.target, blob) };
    } catch (error) {
      if (error instanceof EncryptionError || error instanceof IntegrityError || error instanceof FileNotFoundError) return undefined;
      throw error;
    }
  }

  /** The row changed meanwhile: moved by another run (fine), or purged (the copy is nobody's: removed). */
  private async lostRace(blob: Blob, context: BlobContext): Promise<void> {
    if ((await serviceOfKey(this.rt.dataSource, blob.key)) === this.target.name) return context.count('alreadyOnTarget');
    await this.dropCopy(blob.key);
  }

  /** Removes a copy on the target unless a row now points there. Best effort: a rerun overwrites it. */
  private async dropCopy(key: string): Promise<void> {
    if ((await serviceOfKey(this.rt.dataSource, key)) === this.target.name) return;
    await this.target.delete(key).catch(() => undefined);
  }

  /** Deletes the sources of the batch before last (their rows committed on the target a batch ago). */
  async afterBatch(context: BatchContext): Promise<void> {
    if (!this.deleteSource) return;
    const due = this.previous;
    this.previous = this.current;
    this.current = [];
    const failures: BlobProblem[] = [];
    context.count('deletedSources', await this.deleteSources(due, failures));
    for (const problem of failures) context.problem(problem);
  }

  /** The remaining deletions, then the sources a killed run switched but never deleted: objects on the source whose row is on the target. */
  async finish(): Promise<{ deleted: number; failures: BlobProblem[] }> {
    const failures: BlobProblem[] = [];
    let deleted = await this.deleteSources([...this.previous, ...this.current], failures);
    this.previous = this.current = [];
    if (typeof this.source.listObjects === 'function') {
      let keys: string[] = [];
      for await (const object of this.source.listObjects()) {
        keys.push(object.key);
        if (keys.length < LIST_BATCH) continue;
        deleted += await this.deleteSources(keys, failures);
        keys = [];
      }
      deleted += await this.deleteSources(keys, failures);
    }
    for (const problem of failures) this.rt.events.emit('operation:failed', { operation: 'migrate', problem });
    return { deleted, failures };
  }

  private async deleteSources(keys: readonly string[], failures: BlobProblem[]): Promise<number> {
    let deleted = 0;
    for (const [key, blobId] of await keysOn(this.rt.dataSource, this.target.name, keys)) {
      try {
        await this.source.delete(key);
        deleted += 1;
      } catch (error) {
        const problem: BlobProblem = { blobId, key, service: this.source.name, problem: 'copy-failed', detail: `Moved, but the source object could not be deleted: ${detailOf(error)}` };
        failures.push(problem);
      }
    }
    return deleted;
  }
}

/** The storage two services share (a Disk root, an S3 bucket on one endpoint), if they do. */
function sharedStorage(a: StorageService, b: StorageService): string | undefined {
  const [x, y] = [storageOf(a), storageOf(b)];
  return x !== undefined && x === y ? x : undefined;
}

function storageOf(service: StorageService): string | undefined {
  const json = (service as { toJSON?: () => unknown }).toJSON?.() as { root?: unknown; bucket?: unknown; endpoint?: unknown } | undefined;
  if (typeof json?.root === 'string') return `root ${json.root}`;
  if (typeof json?.bucket === 'string') return `bucket ${json.bucket}${typeof json.endpoint === 'string' ? ` at ${json.endpoint}` : ''}`;
  return undefined;
}
