import type { EntitySubscriberInterface, InsertEvent, QueryRunner, RemoveEvent, TransactionCommitEvent, TransactionRollbackEvent } from 'typeorm';
import { deleteAttachments, findAttachments } from '../records/attachment-store.ts';
import { asPersistenceError } from '../records/database.ts';
import { lockRecord, recordRef, type RecordRef } from '../records/record-ref.ts';
import type { AttacheRuntime } from '../records/runtime.ts';
import { attachTarget } from './attach-ops.ts';
import { AttachChange } from './change.ts';
import { accessorOf } from './decorators.ts';
import { definitionsOf } from './definitions.ts';
import { enqueuePurges, purgeDetached } from './dispose.ts';
import { normalizeAll } from './input.ts';
import { takeStaged, type StagedChange } from './staged.ts';

/** Work tied to one transaction, tagged with the (savepoint) depth it was done at. */
interface PendingWork {
  changes: Array<{ change: AttachChange; depth: number }>;
  afterCommit: Array<{ task: () => Promise<void>; depth: number }>;
  /** The outermost COMMIT was sent: a rollback after it may follow a COMMIT that did commit. */
  commitSent: boolean;
}

/**
 * Ties attachments to TypeORM's unit of work: staged attaches of an unsaved record run when it
 * is inserted (through the one AttachChange, so a rollback removes what they stored), and a
 * removed record's attachments go with it, their blobs disposed of after commit per `dependent`.
 * Attach and remove of one record hold the same record lock, so they never interleave.
 */
export class AttacheSubscriber implements EntitySubscriberInterface<object> {
  private readonly pending = new WeakMap<QueryRunner, PendingWork>();

  constructor(private readonly rt: AttacheRuntime) {}

  async afterInsert(event: InsertEvent<object>): Promise<void> {
    const record = event.entity;
    if (!record || typeof record !== 'object') return;
    const staged = takeStaged(record);
    if (staged.length === 0) return;
    const ref = recordRef(this.rt.dataSource, record)!;
    if (!event.queryRunner.isTransactionActive) {
      // No transaction around the save: give the rows one of their own, so they are all or nothing.
      await event.manager.transaction((manager) => this.storeStaged({ ...event, manager, queryRunner: manager.queryRunner! }, record, ref, staged));
      await this.settle(event.queryRunner);
      return;
    }
    await this.storeStaged(event, record, ref, staged);
  }

  private async storeStaged(event: Pick<InsertEvent<object>, 'manager' | 'queryRunner'>, record: object, ref: RecordRef, staged: StagedChange[]): Promise<void> {
    const work = this.workFor(event.queryRunner);
    const depth = depthOf(event.queryRunner);
    const definitions = definitionsOf(record.constructor);
    for (const { name, inputs, options } of staged) {
      const definition = definitions.get(name)!;
      const change = new AttachChange(this.rt, attachTarget(this.rt, definition, record, ref), await normalizeAll(inputs), options, definition.dependent);
      await change.prepare();
      work.changes.push({ change, depth });
      try {
        await change.writeRows(event.manager, { recordInserted: true });
      } catch (error) {
        await change.discard(false);
        throw error;
      }
      accessorOf(record, definition).reset();
    }
  }

  async beforeRemove(event: RemoveEvent<object>): Promise<void> {
    const record = event.entity ?? event.databaseEntity;
    const target = event.metadata.target;
    if (!record || typeof target !== 'function') return;
    const definitions = definitionsOf(target);
    const ref = definitions.size > 0 ? recordRef(this.rt.dataSource, record) : null;
    if (!ref) return;
    const work = this.workFor(event.queryRunner);
    try {
      await lockRecord(event.manager, ref);
      const rows = await findAttachments(event.manager, ref, [...definitions.keys()]);
      await deleteAttachments(event.manager, rows);
      for (const row of rows) {
        const dependent = definitions.get(row.name)?.dependent;
        // purge_later: the job is written with the removal, so it exists if and only if the removal commits.
        if (dependent === 'purge_later') await enqueuePurges(this.rt, event.queryRunner, [row.blobId]);
        else if (dependent === 'purge') work.afterCommit.push({ depth: depthOf(event.queryRunner), task: () => purgeDetached(this.rt, [row.blobId]) });
      }
    } catch (error) {
      throw asPersistenceError(error, `remove the attachments of ${ref.type} ${ref.id}`);
    }
    if (!event.queryRunner.isTransactionActive) await this.settle(event.queryRunner);
  }

  beforeTransactionCommit(event: TransactionCommitEvent): void {
    const work = this.pending.get(event.queryRunner);
    if (!work) return;
    const depth = depthOf(event.queryRunner);
    if (depth <= 1) work.commitSent = true;
    else for (const item of [...work.changes, ...work.afterCommit]) if (item.depth >= depth) item.depth = depth - 1;
  }

  async afterTransactionCommit(event: TransactionCommitEvent): Promise<void> {
    // A released savepoint is not a commit: the outer transaction may still roll back.
    if (!event.queryRunner.isTransactionActive) await this.settle(event.queryRunner);
  }

  async beforeTransactionRollback(event: TransactionRollbackEvent): Promise<void> {
    const work = this.pending.get(event.queryRunner);
    if (!work) return;
    const depth = depthOf(event.queryRunner);
    const undone = work.changes.filter((item) => item.depth >= depth);
    work.changes = work.changes.filter((item) => item.depth < depth);
    work.afterCommit = work.afterCommit.filter((item) => item.depth < depth);
    if (depth <= 1) this.pending.delete(event.queryRunner);
    for (const { change } of undone) {
      if (depth <= 1 && work.commitSent) {
        // The COMMIT got no answer: its outcome is only known once this transaction has ended on the server.
        this.rt.background.run('confirm a lost commit and clean up', async () => {
          if ((await change.discard(true)) === 'committed') await change.afterCommit();
        });
      } else {
        await change.discard(false);
      }
    }
  }

  /** The outermost transaction committed (or there was none): run the after-commit work. */
  private async settle(queryRunner: QueryRunner): Promise<void> {
    const work = this.pending.get(queryRunner);
    this.pending.delete(queryRunner);
    for (const { change } of work?.changes ?? []) await change.afterCommit();
    for (const { task } of work?.afterCommit ?? []) await task();
  }

  private workFor(queryRunner: QueryRunner): PendingWork {
    let work = this.pending.get(queryRunner);
    if (!work) {
      work = { changes: [], afterCommit: [], commitSent: false };
      this.pending.set(queryRunner, work);
    }
    return work;
  }
}

/** The query runner's transaction depth (1 = the outermost transaction; more inside savepoints). */
function depthOf(queryRunner: QueryRunner): number {
  const depth = (queryRunner as unknown as { transactionDepth?: unknown }).transactionDepth;
  return typeof depth === 'number' && depth > 0 ? depth : 1;
}
