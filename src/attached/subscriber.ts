import type { EntitySubscriberInterface, InsertEvent, QueryRunner, RemoveEvent, TransactionCommitEvent, TransactionRollbackEvent } from 'typeorm';
import { discardUploads, disposeDetached, prepareBlobs, writeAttachmentRows, type PreparedBlobs } from './attach-ops.ts';
import { deleteAttachments, findAttachments } from '../records/attachment-store.ts';
import { accessorOf } from './decorators.ts';
import { definitionsOf, serviceFor } from './definitions.ts';
import { normalizeInput } from './input.ts';
import { recordRef } from '../records/record-ref.ts';
import type { AttacheRuntime } from '../records/runtime.ts';
import { takeStaged, type StagedChange } from './staged.ts';

interface PendingWork {
  uploads: PreparedBlobs[];
  afterCommit: Array<() => Promise<void>>;
}

/**
 * Ties attachments to TypeORM's unit of work: staged attaches of an unsaved record are stored
 * when it is inserted (and removed again if that transaction rolls back), and a removed
 * record's attachments are deleted with it and their blobs purged after commit per `dependent`.
 */
export class AttacheSubscriber implements EntitySubscriberInterface<object> {
  private readonly pending = new WeakMap<QueryRunner, PendingWork>();

  constructor(private readonly rt: AttacheRuntime) {}

  async afterInsert(event: InsertEvent<object>): Promise<void> {
    const record = event.entity;
    if (!record || typeof record !== 'object') return;
    const changes = takeStaged(record);
    if (changes.length === 0) return;
    const work = this.workFor(event.queryRunner);
    try {
      await this.storeStaged(event, record, changes, work);
    } catch (error) {
      if (!event.queryRunner.isTransactionActive) await this.afterTransactionRollback({ queryRunner: event.queryRunner } as TransactionRollbackEvent);
      throw error;
    }
    await this.settleIfNoTransaction(event.queryRunner);
  }

  private async storeStaged(event: InsertEvent<object>, record: object, changes: StagedChange[], work: PendingWork): Promise<void> {
    const ref = recordRef(this.rt.dataSource, record)!;
    const definitions = definitionsOf(record.constructor);
    for (const change of changes) {
      const definition = definitions.get(change.name)!;
      const inputs = await Promise.all(change.inputs.map(normalizeInput));
      const prepared = await prepareBlobs(this.rt, inputs, definition, serviceFor(this.rt, definition, record));
      work.uploads.push(prepared);
      const { detached } = await writeAttachmentRows(event.manager, ref, definition, prepared.blobs);
      work.afterCommit.push(() => disposeDetached(this.rt, definition, detached));
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
    const rows = await findAttachments(event.manager, ref, [...definitions.keys()]);
    await deleteAttachments(event.manager, rows);
    const work = this.workFor(event.queryRunner);
    for (const row of rows) {
      const definition = definitions.get(row.name)!;
      if (row.blob) work.afterCommit.push(() => disposeDetached(this.rt, definition, [row.blob!]));
    }
    await this.settleIfNoTransaction(event.queryRunner);
  }

  async afterTransactionCommit(event: TransactionCommitEvent): Promise<void> {
    const work = this.pending.get(event.queryRunner);
    this.pending.delete(event.queryRunner);
    for (const task of work?.afterCommit ?? []) await task();
  }

  async afterTransactionRollback(event: TransactionRollbackEvent): Promise<void> {
    const work = this.pending.get(event.queryRunner);
    this.pending.delete(event.queryRunner);
    for (const prepared of work?.uploads ?? []) await discardUploads(this.rt, prepared);
  }

  private workFor(queryRunner: QueryRunner): PendingWork {
    let work = this.pending.get(queryRunner);
    if (!work) {
      work = { uploads: [], afterCommit: [] };
      this.pending.set(queryRunner, work);
    }
    return work;
  }

  /** Outside a transaction each statement is final, so the after-commit work runs now. */
  private async settleIfNoTransaction(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.isTransactionActive) return;
    await this.afterTransactionCommit({ queryRunner } as TransactionCommitEvent);
  }
}
