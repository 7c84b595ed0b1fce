import { In, type EntityManager } from 'typeorm';
import { Attachment } from './Attachment.ts';
import type { RecordRef } from './record-ref.ts';

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

/** Deletes attachment rows (not blobs). */
export async function deleteAttachments(manager: EntityManager, attachments: readonly Pick<Attachment, 'id'>[]): Promise<void> {
  if (attachments.length === 0) return;
  await manager.getRepository(Attachment).delete({ id: In(attachments.map((a) => a.id)) });
}

/** Whether any attachment row still points at the blob. */
export async function isAttached(manager: EntityManager, blobId: string): Promise<boolean> {
  return manager.getRepository(Attachment).exists({ where: { blobId } });
}
