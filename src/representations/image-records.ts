import { In, type EntityManager } from 'typeorm';
import { AttacheError } from '../core/errors.ts';
import { Attachment } from '../records/Attachment.ts';
import type { Blob } from '../records/Blob.ts';
import { PREVIEW_ATTACHMENT, PREVIEW_RECORD_TYPE, VARIANT_ATTACHMENT, VARIANT_RECORD_TYPE } from '../records/purge.ts';
import { VariantRecord } from '../records/VariantRecord.ts';

/** Another writer stored the image first (its rows committed while this one uploaded): use that one. */
export class AlreadyStored extends AttacheError {
  override readonly code = 'E_ALREADY_STORED';
}

/** The blob attached as `name` to (recordType, recordId), or null. */
export async function attachedImage(manager: EntityManager, recordType: string, recordId: string, name: string): Promise<Blob | null> {
  const row = await manager.getRepository(Attachment).findOne({ where: { recordType, recordId, name }, relations: { blob: true }, order: { id: 'ASC' } });
  return row?.blob ?? null;
}

/** The stored image of variant (blobId, digest): the variant record by its unique index, then its `image`. Null when there is none. */
export async function variantImage(manager: EntityManager, blobId: string, digest: string): Promise<Blob | null> {
  const record = await manager.getRepository(VariantRecord).findOne({ where: { blobId, variationDigest: digest }, select: { id: true } });
  return record ? attachedImage(manager, VARIANT_RECORD_TYPE, record.id, VARIANT_ATTACHMENT) : null;
}

/** The stored preview image of a blob, or null. */
export function previewImage(manager: EntityManager, blobId: string): Promise<Blob | null> {
  return attachedImage(manager, PREVIEW_RECORD_TYPE, blobId, PREVIEW_ATTACHMENT);
}

/**
 * Inside the transaction that stores a variant: the id of its variant record, inserted now, or
 * an existing record that has no image (a writer that died between its rows, or Rails' record
 * published before its upload failed) taken over. The unique index on (blob_id,
 * variation_digest) makes a concurrent inserter wait for this transaction. Throws AlreadyStored
 * when the variant has an image already.
 */
export async function claimVariantRecord(manager: EntityManager, blobId: string, digest: string): Promise<string> {
  const inserted = await manager.createQueryBuilder().insert().into(VariantRecord).values({ blobId, variationDigest: digest }).orIgnore().returning(['id']).execute();
  const id = (inserted.raw as Array<{ id?: string | number }>)[0]?.id;
  if (id !== undefined) return String(id);
  const existing = await manager.getRepository(VariantRecord).findOneOrFail({ where: { blobId, variationDigest: digest }, lock: { mode: 'pessimistic_write' } });
  if (await attachedImage(manager, VARIANT_RECORD_TYPE, existing.id, VARIANT_ATTACHMENT)) throw new AlreadyStored('The variant was stored by another writer.');
  return existing.id;
}

/** What `withAttached(…, { variants: true })` loads for many blobs: their preview images and every stored variant image, by digest. */
export interface StoredImages {
  previews: Map<string, Blob>;
  variants: Map<string, Map<string, Blob>>;
}

/** The preview images and variant images of `blobIds` (and of their previews) in three queries. */
export async function storedImagesOf(manager: EntityManager, blobIds: readonly string[]): Promise<StoredImages> {
  const result: StoredImages = { previews: new Map(), variants: new Map() };
  if (blobIds.length === 0) return result;
  const previews = await manager.getRepository(Attachment).find({ where: { recordType: PREVIEW_RECORD_TYPE, recordId: In([...blobIds]), name: PREVIEW_ATTACHMENT }, relations: { blob: true }, order: { id: 'ASC' } });
  for (const row of previews) if (row.blob && !result.previews.has(row.recordId)) result.previews.set(row.recordId, row.blob);
  const owners = [...blobIds, ...[...result.previews.values()].map((b) => b.id)];
  const records = await manager.getRepository(VariantRecord).find({ where: { blobId: In(owners) }, select: { id: true, blobId: true, variationDigest: true } });
  for (const owner of owners) result.variants.set(owner, new Map());
  if (records.length === 0) return result;
  const images = await manager.getRepository(Attachment).find({ where: { recordType: VARIANT_RECORD_TYPE, recordId: In(records.map((r) => r.id)), name: VARIANT_ATTACHMENT }, relations: { blob: true } });
  const byRecord = new Map(images.flatMap((row) => (row.blob ? [[row.recordId, row.blob] as const] : [])));
  for (const record of records) {
    const image = byRecord.get(record.id);
    if (image) result.variants.get(record.blobId)?.set(record.variationDigest, image);
  }
  return result;
}
