import { In, type DataSource, type EntityManager } from 'typeorm';
import { Attachment } from './Attachment.ts';
import { Blob } from './Blob.ts';
import { VariantRecord } from './VariantRecord.ts';
import { AttachmentError } from '../core/errors.ts';
import type { StorageService } from '../services/Service.ts';
import { isAttached } from './attachment-store.ts';
import { database } from './database.ts';

export type ServiceLookup = (name: string) => StorageService;

/** Rails' record type and attachment name of a variant's image (ActiveStorage 6.1+ variant tracking). */
export const VARIANT_RECORD_TYPE = 'ActiveStorage::VariantRecord';
export const VARIANT_ATTACHMENT = 'image';
/** Rails 6.1's `has_one_attached :preview_image` on ActiveStorage::Blob: a PDF's or video's preview image. */
export const PREVIEW_RECORD_TYPE = 'ActiveStorage::Blob';
export const PREVIEW_ATTACHMENT = 'preview_image';

/**
 * Deletes blobs: rows and stored objects in one transaction. The rows are deleted first (not yet
 * committed), then the objects; a storage failure rolls the rows back, so the blob is still there
 * and a retry purges it. A commit that fails after the objects went leaves rows without objects,
 * which the next purge (or the sweeper) removes: objects are deleted idempotently.
 */
export class Purger {
  private uuidRecordIds: Promise<boolean> | undefined;

  constructor(private readonly dataSource: DataSource, private readonly serviceFor: ServiceLookup) {}

  /**
   * Purges a blob that no attachment points at. Idempotent: a blob already gone only has its
   * object removed, unless another blob now holds its key. Throws AttachmentError when attachments
   * remain (`onAttached: 'refuse'`), or returns false (`'skip'`); StorageAccessError / PersistenceError.
   */
  async purge(blob: Pick<Blob, 'id' | 'key' | 'serviceName'>, onAttached: 'refuse' | 'skip' = 'refuse'): Promise<boolean> {
    return database(`purge blob ${blob.id}`, () => this.dataSource.transaction((manager) => this.purgeIn(manager, blob, onAttached)));
  }

  /** Loads a blob by id and purges it unless it is attached somewhere (the purge job). Idempotent. */
  async purgeById(blobId: string): Promise<void> {
    await database(`purge blob ${blobId}`, () =>
      this.dataSource.transaction(async (manager) => {
        const blob = await manager.getRepository(Blob).findOneBy({ id: blobId });
        if (blob) await this.purgeIn(manager, blob, 'skip');
      }),
    );
  }

  /** The purge of one blob inside the caller's transaction (detach-and-purge in one step). See purge(). */
  async purgeIn(manager: EntityManager, blob: Pick<Blob, 'id' | 'key' | 'serviceName'>, onAttached: 'refuse' | 'skip'): Promise<boolean> {
    const row = await manager.getRepository(Blob).findOne({ where: { id: blob.id }, lock: { mode: 'pessimistic_write' } });
    if (!row) {
      if (!(await manager.getRepository(Blob).existsBy({ key: blob.key }))) await this.deleteObjects(blob);
      return true;
    }
    if (await isAttached(manager, row.id)) {
      if (onAttached === 'skip') return false;
      throw new AttachmentError(`Blob ${row.key} is still attached; detach it everywhere before purging it.`);
    }
    const variants = await this.deleteVariantRows(manager, row.id);
    await manager.getRepository(Blob).delete({ id: row.id });
    for (const variant of variants) await this.purgeIn(manager, variant, 'skip');
    await this.deleteObjects(row);
    return true;
  }

  /** Removes the stored bytes of a blob and its legacy (untracked) variants. Idempotent. */
  async deleteObjects(blob: Pick<Blob, 'key' | 'serviceName'>): Promise<void> {
    const service = this.serviceFor(blob.serviceName);
    await service.delete(blob.key);
    await service.deletePrefixed(`variants/${blob.key}/`);
  }

  /** Deletes the blob's variant records and the attachments of their images and of its preview image; returns those image blobs to purge. */
  private async deleteVariantRows(manager: EntityManager, blobId: string): Promise<Blob[]> {
    const records = await manager.getRepository(VariantRecord).find({ where: { blobId }, select: { id: true } });
    // A uuid record_id column cannot hold a blob's id, so no preview can be attached there (and the lookup would fail).
    const previews = (await this.recordIdsAreUuid(manager)) ? [] : [{ recordType: PREVIEW_RECORD_TYPE, recordId: blobId, name: PREVIEW_ATTACHMENT }];
    const variants = records.length > 0 ? [{ recordType: VARIANT_RECORD_TYPE, recordId: In(records.map((r) => r.id)), name: VARIANT_ATTACHMENT }] : [];
    if (previews.length + variants.length === 0) return [];
    const attachments = await manager.getRepository(Attachment).find({ where: [...variants, ...previews], relations: { blob: true } });
    if (attachments.length > 0) await manager.getRepository(Attachment).delete({ id: In(attachments.map((a) => a.id)) });
    if (records.length > 0) await manager.getRepository(VariantRecord).delete({ id: In(records.map((r) => r.id)) });
    return attachments.flatMap((a) => (a.blob ? [a.blob] : []));
  }

  /** Whether active_storage_attachments.record_id is uuid (the migration's uuid option); asked once. */
  private recordIdsAreUuid(manager: EntityManager): Promise<boolean> {
    this.uuidRecordIds ??= manager
      .query(`SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 'active_storage_attachments'::regclass AND attname = 'record_id'`)
      .then((rows: Array<{ type?: string }>) => rows[0]?.type === 'uuid')
      .catch((error: unknown) => {
        this.uuidRecordIds = undefined;
        throw error;
      });
    return this.uuidRecordIds;
  }
}
