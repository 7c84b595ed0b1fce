import { In, type EntityManager } from 'typeorm';
import { Attachment } from './Attachment.ts';
import { Blob } from './Blob.ts';
import type { RecordRef } from './record-ref.ts';

/**
 * Serializes writers of one record's attachment (two concurrent has-one attaches end with one row).
 * Must run inside a transaction: the lock is released at commit or rollback.
 */
export async function lockAttachment(manager: EntityManager, ref: RecordRef, name: string): Promise<void> {
  await manager.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`attache:${ref.type}:${ref.id}:${name}`]);
}

/** The record's attachments named `names`, with their blobs, oldest first. */
export async function findAttachments(manager: EntityManager, ref: RecordRef, names: readonly string[]): Promise<Attachment[]> {
  return manager.getRepository(Attachment).find({
    where: { recordType: ref.type, recordId: ref.id, name: In([...names]) },
    relations: { blob: true },
    order: { id: 'ASC' },
  });
}

/** Attachments of many records of one type in one query, with their blobs. */
export async function findAttachmentsOfMany(manager: EntityManager, type: string, ids: readonly string[], names: readonly string[]): Promise<Attachment[]> {
  if (ids.length === 0) return [];
  return manager.getRepository(Attachment).find({
    where: { recordType: type, recordId: In([...ids]), name: In([...names]) },
    relations: { blob: true },
    order: { id: 'ASC' },
  });
}

/** Saves unsaved blobs and inserts one attachment per blob not yet attached under `name`. */
export async function insertAttachments(manager: EntityManager, ref: RecordRef, name: string, blobs: readonly Blob[], existing: readonly Attachment[] = []): Promise<Attachment[]> {
  const attachments: Attachment[] = [];
  const seen = new Set(existing.map((a) => a.blobId));
  for (const blob of blobs) {
    if (!blob.id) await manager.getRepository(Blob).save(blob);
    if (seen.has(blob.id)) continue;
    seen.add(blob.id);
    const row = manager.getRepository(Attachment).create({ name, recordType: ref.type, recordId: ref.id, blobId: blob.id });
    row.blob = blob; // TypeORM writes blob_id from the relation when both map the column
    await manager.getRepository(Attachment).save(row);
    attachments.push(row);
  }
  return attachments;
}

/** Deletes attachment rows (not blobs). */
export async function deleteAttachments(manager: EntityManager, attachments: readonly Attachment[]): Promise<void> {
  if (attachments.length === 0) return;
  await manager.getRepository(Attachment).delete({ id: In(attachments.map((a) => a.id)) });
}

/** Whether any attachment row still points at the blob. */
export async function isAttached(manager: EntityManager, blobId: string): Promise<boolean> {
  return manager.getRepository(Attachment).exists({ where: { blobId } });
}
