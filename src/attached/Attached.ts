import type { EntityManager } from 'typeorm';
import type { Attachment } from '../records/Attachment.ts';
import type { Blob } from '../records/Blob.ts';
import { ConfigurationError } from '../core/errors.ts';
import { deleteAttachments, findAttachments } from '../records/attachment-store.ts';
import { database } from '../records/database.ts';
import { lockRecord, recordRef, type RecordRef } from '../records/record-ref.ts';
import { runtimeFor, type AttacheRuntime } from '../records/runtime.ts';
import { attachToSaved } from './attach-ops.ts';
import { enqueuePurges } from './dispose.ts';
import type { AttachmentDefinition } from './definitions.ts';
import { normalizeAll, type AttachInput } from './input.ts';
import type { AttachOptions } from './prepare.ts';
import { stage, stagedChange } from './staged.ts';

/** What AttachedOne and AttachedMany share: the record, its definition and the loaded rows. */
export abstract class Attached {
  /** Loaded attachments (with blobs), or undefined until loaded. */
  protected loaded: Attachment[] | undefined;

  constructor(readonly record: object, readonly definition: AttachmentDefinition) {}

  /** The attachment's name on the record. */
  get name(): string {
    return this.definition.name;
  }

  /** Forgets loaded rows; the next read queries again. Returns this. */
  reset(): this {
    this.loaded = undefined;
    return this;
  }

  /** Sets the loaded rows (used by `withAttached`, so later reads do not query). */
  preload(attachments: Attachment[]): void {
    this.loaded = attachments;
  }

  /** Whether something is attached (or staged on an unsaved record). Throws PersistenceError. */
  async attached(): Promise<boolean> {
    if (!this.ref()) return (stagedChange(this.record, this.name)?.inputs.length ?? 0) > 0;
    return (await this.load()).length > 0;
  }

  /** Removes the attachment rows only; blobs and files stay. Idempotent. Throws PersistenceError. */
  async detach(): Promise<void> {
    await this.removeRows('detach', async () => undefined);
  }

  /**
   * Removes the attachment rows and purges each blob nothing else is attached to, in one
   * transaction with the storage deletes: if storage refuses, nothing changes and a retry purges
   * it all. Idempotent. Throws StorageAccessError or PersistenceError.
   */
  async purge(): Promise<void> {
    const rt = this.runtime();
    await this.removeRows('purge', async (manager, blobs) => {
      for (const blob of blobs) await rt.purger.purgeIn(manager, blob, 'skip');
    });
  }

  /**
   * Like purge, but the blobs are purged by a job: the rows go and the purge jobs are enqueued in
   * one transaction, so the jobs exist if and only if the detach committed. Throws PersistenceError
   * or the queue's error (then nothing changed).
   */
  async purgeLater(): Promise<void> {
    const rt = this.runtime();
    await this.removeRows('purge later', (manager, blobs) => enqueuePurges(rt, manager.queryRunner, blobs.map((b) => b.id)));
  }

  protected async attachInputs(inputs: AttachInput[], options: AttachOptions = {}): Promise<void> {
    const ref = this.ref();
    if (!ref) {
      stage(this.record, this.name, inputs, this.definition.kind === 'one', options);
      return;
    }
    const rt = this.runtime();
    const normalized = await normalizeAll(inputs);
    this.loaded = undefined;
    await attachToSaved(rt, ref, this.definition, this.record, normalized, options);
  }

  protected async load(): Promise<Attachment[]> {
    const ref = this.ref();
    if (!ref) return [];
    this.loaded ??= await database(`load ${ref.type}#${this.name}`, () => findAttachments(this.runtime().dataSource.manager, ref, [this.name]));
    return this.loaded;
  }

  protected async loadBlobs(): Promise<Blob[]> {
    return (await this.load()).map((a) => a.blob).filter((b): b is Blob => b !== undefined);
  }

  protected runtime(): AttacheRuntime {
    const rt = runtimeFor(this.record.constructor);
    if (!rt) throw new ConfigurationError(`No Attache is initialized for ${this.record.constructor.name}: call Attache.init({ dataSource, … }) first.`);
    return rt;
  }

  protected ref(): RecordRef | null {
    return recordRef(this.runtime().dataSource, this.record);
  }

  /** Deletes this attachment's rows under the record lock, runs `then` in the same transaction, and returns the detached blobs. */
  private async removeRows(verb: string, then: (manager: EntityManager, blobs: Blob[]) => Promise<void>): Promise<Blob[]> {
    const ref = this.ref();
    if (!ref) return [];
    const removed = await database(`${verb} ${ref.type}#${this.name}`, () =>
      this.runtime().dataSource.transaction(async (manager) => {
        await lockRecord(manager, ref);
        const rows = await findAttachments(manager, ref, [this.name]);
        await deleteAttachments(manager, rows);
        const blobs = rows.map((a) => a.blob).filter((b): b is Blob => b !== undefined);
        await then(manager, blobs);
        return blobs;
      }),
    );
    this.loaded = [];
    return removed;
  }
}
