import type { DataSource } from 'typeorm';
import { MirrorService } from '../services/mirror/MirrorService.ts';
import type { StorageService, UploadOptions } from '../services/Service.ts';
import { Blob } from './Blob.ts';
import { database } from './database.ts';

/**
 * The mirror job: copies a blob from its Mirror service's primary to each mirror lacking it,
 * verified against the blob's checksum. A blob gone, or on a service that is not a Mirror, is a
 * no-op (Rails' `service.try(:mirror)`). A purge that ran meanwhile deleted the mirrors before
 * this copy landed, so the copies are checked against the row afterwards and removed when it is
 * gone: no mirror keeps an object no row names. Idempotent; safe to run twice at once.
 */
export async function mirrorBlob(dataSource: DataSource, serviceFor: (name: string) => StorageService, blobId: string): Promise<void> {
  const blob = await database(`load blob ${blobId}`, () => dataSource.getRepository(Blob).findOneBy({ id: blobId }));
  if (!blob || blob.byteSize < 0) return; // gone, or a key reservation whose upload never finished
  const service = serviceFor(blob.serviceName);
  if (!(service instanceof MirrorService)) return;
  const { key } = blob;
  const copied = await service.mirror(key, copyOptions(blob));
  if (copied.length === 0 || (await stillStored(dataSource, key))) return;
  await Promise.all(copied.map((mirror) => mirror.delete(key)));
}

/** How a copy of a blob's object is uploaded to another service: checked against its checksum and size, stored with its type and filename (mirror and migrate). */
export function copyOptions(blob: Pick<Blob, 'checksum' | 'byteSize' | 'contentType' | 'filename'>): UploadOptions {
  const { checksum, byteSize, contentType, filename } = blob;
  return { ...(checksum && { checksum }), byteSize, ...(contentType && { contentType }), filename };
}

/** Whether a blob row holds `key`; waits for a purge of it that is under way (its row lock) to end. */
async function stillStored(dataSource: DataSource, key: string): Promise<boolean> {
  return database(`check blob ${key}`, () =>
    dataSource.transaction(async (manager) => (await manager.getRepository(Blob).findOne({ where: { key }, lock: { mode: 'pessimistic_read' } })) !== null),
  );
}
