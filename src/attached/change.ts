import { In, Not, type EntityManager } from 'typeorm';
import { AttacheError, FileNotFoundError, PersistenceError } from '../core/errors.ts';
import { Attachment } from '../records/Attachment.ts';
import { Blob, blobValues } from '../records/Blob.ts';
import { commitOutcome, type CommitOutcome } from '../records/commit-outcome.ts';
import { asPersistenceError, errorCode, FOREIGN_KEY_VIOLATION } from '../records/database.ts';
import { lockKey, lockKeyAndAssertRecord, recordLockKey } from '../records/record-ref.ts';
import type { AttacheRuntime } from '../records/runtime.ts';
import type { Dependent } from './definitions.ts';
import { purgeDetached } from './dispose.ts';
import type { AttacheJob } from '../jobs/queue.ts';
import { MirrorService } from '../services/mirror/MirrorService.ts';
import type { NormalizedInput } from './input.ts';
import { writeAttachRows } from './row-write.ts';
import { prepareInput, RESERVED_SIZE, type AttachOptions, type ChangeTarget, type PreparedBlob } from './prepare.ts';

/**
 * Invariant: every attach (saved record, staged record at insert, createAndUpload) runs through
 * one AttachChange, so each guarantee lives here once:
 *   prepare()    uploads new files and checks existing blobs (nothing committed yet);
 *   writeRows()  inside the caller's transaction: record lock, record still there, has-one swap, rows,
 *                and the jobs asked for with later() (they exist if and only if the rows commit);
 *   afterCommit() purges replaced blobs with `dependent: 'purge'` (purge_later ones are jobs);
 *   discard()    after a failed transaction, removes what this change stored, and only once its
 *                rows are confirmed absent (a COMMIT without an answer may have committed).
 */
export class AttachChange {
  private readonly prepared: PreparedBlob[] = [];
  private detached: string[] = [];
  private readonly jobs: AttacheJob[] = [];
  private discarded = false;

  constructor(
    private readonly rt: AttacheRuntime,
    readonly target: ChangeTarget,
    private readonly inputs: readonly NormalizedInput[],
    private readonly options: AttachOptions = {},
    private readonly dependent: Dependent = false,
  ) {}

  /** The blobs of this change (after prepare). */
  get blobs(): Blob[] {
    return this.prepared.map((p) => p.blob);
  }

  /** The advisory lock the change's transaction holds: its record's, else its blob key's. */
  get lockKey(): string {
    return this.target.ref ? recordLockKey(this.target.ref) : `attache:blob:${this.prepared[0]?.blob.key ?? ''}`;
  }

  /** Asks for a job that must run only if this change commits: writeRows enqueues it inside the transaction. */
  later(job: AttacheJob): void {
    this.jobs.push(job);
  }

  /** Uploads and checks every input. On failure, removes what it stored and rethrows. */
  async prepare(): Promise<void> {
    try {
      for (const input of this.inputs) this.prepared.push(await prepareInput(this.rt, input, this.target, this.options));
    } catch (error) {
      for (const input of this.inputs.slice(this.prepared.length + 1)) if (input.kind === 'file') destroyBody(input.body);
      await this.removeOwned();
      throw error;
    }
  }

  /**
   * Writes the rows inside `manager`'s transaction. `recordInserted`: the record was inserted by
   * this transaction (so it exists). Throws AttachmentError (the record is gone), FileNotFoundError
   * (an existing blob was purged meanwhile) or PersistenceError.
   */
  async writeRows(manager: EntityManager, { recordInserted = false } = {}): Promise<void> {
    const { ref } = this.target;
    try {
      // One statement for the lock and the record check, one for every row (see writeAttachRows).
      if (ref && !recordInserted) await lockKeyAndAssertRecord(manager, this.lockKey, ref);
      else await lockKey(manager, this.lockKey);
      for (const prepared of this.prepared) if (prepared.write === 'update') await updateBlob(manager, prepared.blob);
      this.detached = await writeAttachRows(manager, {
        inserted: this.prepared.filter((p) => p.write === 'insert').map((p) => p.blob),
        existing: this.prepared.filter((p) => p.write !== 'insert').map((p) => p.blob),
        ref,
        name: this.attachmentName(),
        detachOthers: ref !== undefined && this.target.kind === 'one',
      });
      if (this.dependent === 'purge_later') for (const blobId of this.detached) this.later({ type: 'purge', blobId });
      if (ref) this.mirrorLater();
      if (ref) for (const job of this.rt.representations.jobsAfterAttach(this.target.attachment, this.blobs)) this.later(job);
      await this.enqueueJobs(manager); // last: every job asked for with later() joins this transaction
    } catch (error) {
      if (errorCode(error) === FOREIGN_KEY_VIOLATION) throw new FileNotFoundError('A blob being attached was purged meanwhile: nothing was attached.', { cause: error });
      throw asPersistenceError(error, `save the ${this.target.attachment ?? 'blob'} rows`);
    }
  }

  /** After commit: replaced blobs with `dependent: 'purge'` are purged now. Never throws: failures become events. */
  async afterCommit(): Promise<void> {
    if (this.dependent === 'purge') await purgeDetached(this.rt, this.detached);
  }

  /**
   * After the transaction failed: removes the objects (and reserved keys) this change stored.
   * With `commitSent` false the rows certainly are not there; otherwise the COMMIT may have
   * reached the database, so the outcome is confirmed first and nothing is removed unless the
   * rows are absent. Returns the outcome ('committed': the attach did happen).
   */
  async discard(commitSent: boolean): Promise<CommitOutcome> {
    if (this.discarded) return 'absent';
    this.discarded = true;
    const outcome = commitSent ? await commitOutcome(this.rt.dataSource, this.lockKey, (m) => this.rowsPresent(m)) : 'absent';
    if (outcome === 'absent') await this.removeOwned();
    return outcome;
  }

  /** The error a caller sees after a failed transaction with this outcome. */
  failure(error: unknown, outcome: CommitOutcome): AttacheError {
    if (outcome === 'unknown') {
      return new PersistenceError(
        'The database connection was lost while committing: whether the rows were saved is unknown. ' +
          'The uploaded objects were kept; sweep() removes any that no row points at.',
        { cause: error },
      );
    }
    return asPersistenceError(error, `save the ${this.target.attachment ?? 'blob'} rows`);
  }

  private async enqueueJobs(manager: EntityManager): Promise<void> {
    for (const job of this.jobs.splice(0)) await this.rt.enqueue(job, { transaction: manager.queryRunner });
  }

  /** An existing blob (a direct upload) attached on a Mirror service is on its primary only: Rails' mirror_later. */
  private mirrorLater(): void {
    if (!(this.target.service instanceof MirrorService)) return;
    for (const prepared of this.prepared) if (!prepared.owned) this.later({ type: 'mirror', blobId: prepared.blob.id });
  }

  /** Whether this change's attachment rows (or, without a record, its blob rows) exist. */
  private async rowsPresent(manager: EntityManager): Promise<boolean> {
    const keys = this.prepared.map((p) => p.blob.key);
    if (keys.length === 0) return false;
    const ref = this.target.ref;
    if (!ref) return (await manager.getRepository(Blob).countBy({ key: In(keys), byteSize: Not(RESERVED_SIZE) })) > 0;
    const found = await manager
      .getRepository(Attachment)
      .createQueryBuilder('a')
      .innerJoin('a.blob', 'b')
      .where('a.record_type = :type AND a.record_id = :id AND a.name = :name AND b.key IN (:...keys)', { type: ref.type, id: ref.id, name: this.attachmentName(), keys })
      .getCount();
    return found > 0;
  }

  /** Removes the objects and key reservations this change made. Failures are reported; the sweeper reclaims. */
  private async removeOwned(): Promise<void> {
    for (const prepared of this.prepared.filter((p) => p.owned)) {
      const { blob } = prepared;
      try {
        await this.target.service.delete(blob.key);
        if (prepared.write === 'update') await this.rt.dataSource.getRepository(Blob).delete({ id: blob.id, byteSize: RESERVED_SIZE });
      } catch (error) {
        this.report('remove the object of a failed attach', error);
      }
    }
  }

  private attachmentName(): string {
    return (this.target.attachment ?? '').split('#')[1] ?? '';
  }

  private report(action: string, error: unknown): void {
    this.rt.background.report(action, error instanceof AttacheError ? error : asPersistenceError(error, action));
  }
}

/** Finishes a reserved key's row, or records newly verified facts on an existing blob's row. */
async function updateBlob(manager: EntityManager, blob: Blob): Promise<void> {
  const { filename, contentType, metadata, byteSize, checksum } = blob;
  await manager.getRepository(Blob).update({ id: blob.id }, blobValues({ filename, contentType, metadata, byteSize, checksum }));
}

function destroyBody(body: unknown): void {
  if (body && typeof (body as { destroy?: unknown }).destroy === 'function') (body as { destroy(): void }).destroy();
}
