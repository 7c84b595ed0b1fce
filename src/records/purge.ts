import type { DataSource } from 'typeorm';
import { Blob } from './Blob.ts';
import { VariantRecord } from './VariantRecord.ts';
import { AttachmentError, AttacheError, PersistenceError } from '../core/errors.ts';
import type { StorageService } from '../services/Service.ts';
import { isAttached } from './attachment-store.ts';

export type ServiceLookup = (name: string) => StorageService;

/**
 * Deletes blobs: the row (and its variant records) in a transaction, then the stored object
 * and its variants. The row goes first, so a failure never leaves a row without an object.
 */
export class Purger {
  constructor(private readonly dataSource: DataSource, private readonly serviceFor: ServiceLookup) {}

  /**
   * Purges a blob that no attachment points at. Idempotent: a blob already gone only has its object removed.
   * Throws AttachmentError when attachments remain (`onAttached: 'refuse'`), or skips it (`'skip'`).
   */
  async purge(blob: Pick<Blob, 'id' | 'key' | 'serviceName'>, onAttached: 'refuse' | 'skip' = 'refuse'): Promise<boolean> {
    const deleted = await this.deleteRow(blob.id, onAttached);
    if (!deleted && onAttached === 'skip') return false;
    await this.deleteObjects(blob);
    return true;
  }

  /** Loads a blob by id and purges it unless it is attached somewhere (the purge job). Idempotent. */
  async purgeById(blobId: string): Promise<void> {
    const blob = await this.dataSource.getRepository(Blob).findOneBy({ id: blobId });
    if (blob) await this.purge(blob, 'skip');
  }

  /** Removes the stored bytes of a blob (and its variants); used to clean up after a failed write. */
  async deleteObjects(blob: Pick<Blob, 'key' | 'serviceName'>): Promise<void> {
    const service = this.serviceFor(blob.serviceName);
    await service.delete(blob.key);
    await service.deletePrefixed(`variants/${blob.key}/`);
  }

  private async deleteRow(blobId: string, onAttached: 'refuse' | 'skip'): Promise<boolean> {
    try {
      return await this.dataSource.transaction(async (manager) => {
        const row = await manager.getRepository(Blob).findOne({ where: { id: blobId }, lock: { mode: 'pessimistic_write' } });
        if (!row) return true;
        if (await isAttached(manager, blobId)) {
          if (onAttached === 'skip') return false;
          throw new AttachmentError(`Blob ${row.key} is still attached; detach it everywhere before purging it.`);
        }
        await manager.getRepository(VariantRecord).delete({ blobId });
        await manager.getRepository(Blob).delete({ id: blobId });
        return true;
      });
    } catch (error) {
      if (error instanceof AttacheError) throw error;
      throw new PersistenceError(`Could not delete blob ${blobId}.`, { cause: error });
    }
  }
}
