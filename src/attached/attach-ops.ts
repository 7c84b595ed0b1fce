import type { EntityManager } from 'typeorm';
import type { Attachment } from '../records/Attachment.ts';
import { Blob } from '../records/Blob.ts';
import { AttacheError, ArgumentError, PersistenceError } from '../core/errors.ts';
import type { StorageService } from '../services/Service.ts';
import { deleteAttachments, findAttachments, insertAttachments, lockAttachment } from '../records/attachment-store.ts';
import { assertWithinLimits, uploadNewFile } from './blob-upload.ts';
import type { AttachmentDefinition } from './definitions.ts';
import type { NormalizedInput } from './input.ts';
import type { RecordRef } from '../records/record-ref.ts';
import { isIdentified, verifyDirectUpload } from './verify-upload.ts';
import type { AttacheRuntime } from '../records/runtime.ts';

export interface PreparedBlobs {
  blobs: Blob[];
  /** Blobs whose objects this call uploaded: removed again if the rows are not committed. */
  uploaded: Blob[];
}

/** Uploads new files and resolves existing or signed blobs. On failure, removes what it uploaded. */
export async function prepareBlobs(rt: AttacheRuntime, inputs: readonly NormalizedInput[], definition: AttachmentDefinition, service: StorageService): Promise<PreparedBlobs> {
  const prepared: PreparedBlobs = { blobs: [], uploaded: [] };
  try {
    for (const input of inputs) {
      const blob = await resolveBlob(rt, input, definition, service);
      prepared.blobs.push(blob);
      if (input.kind === 'file') prepared.uploaded.push(blob);
    }
    return prepared;
  } catch (error) {
    await discardUploads(rt, prepared);
    throw error;
  }
}

async function resolveBlob(rt: AttacheRuntime, input: NormalizedInput, definition: AttachmentDefinition, service: StorageService): Promise<Blob> {
  if (input.kind === 'file') return uploadNewFile(rt.dataSource, input, { service, limits: definition });
  const blob = input.kind === 'blob' ? input.blob : await rt.findSignedOrFail(input.signedId);
  if (!blob.id) throw new ArgumentError('Only a saved Blob can be attached; pass the file itself instead.');
  if (!isIdentified(blob)) return verifyDirectUpload(rt, blob, definition);
  assertWithinLimits(definition, blob);
  return blob;
}

/** Best-effort removal of objects uploaded for rows that were never committed. */
export async function discardUploads(rt: AttacheRuntime, prepared: PreparedBlobs): Promise<void> {
  for (const blob of prepared.uploaded) {
    await rt.purger.deleteObjects(blob).catch(() => undefined);
  }
}

/**
 * Writes the rows for prepared blobs inside `manager`'s transaction: for a has-one, the old
 * attachment is swapped out. Returns the new attachments and the blobs that were detached.
 */
export async function writeAttachmentRows(manager: EntityManager, ref: RecordRef, definition: AttachmentDefinition, blobs: readonly Blob[]): Promise<{ attachments: Attachment[]; detached: Blob[] }> {
  await lockAttachment(manager, ref, definition.name);
  const existing = await findAttachments(manager, ref, [definition.name]);
  let kept = existing;
  let detached: Blob[] = [];
  if (definition.kind === 'one') {
    const incoming = new Set(blobs.map((b) => b.id).filter(Boolean));
    const removed = existing.filter((a) => !incoming.has(a.blobId));
    await deleteAttachments(manager, removed);
    kept = existing.filter((a) => incoming.has(a.blobId));
    detached = removed.map((a) => a.blob).filter((b): b is Blob => b !== undefined);
  }
  const attachments = await insertAttachments(manager, ref, definition.name, blobs, kept);
  return { attachments: [...kept, ...attachments], detached };
}

/**
 * Attaches to a saved record: upload first, then the rows in one transaction; if it fails the
 * uploads are removed. After commit, detached blobs are purged per `dependent`.
 */
export async function attachToSaved(rt: AttacheRuntime, ref: RecordRef, definition: AttachmentDefinition, service: StorageService, inputs: readonly NormalizedInput[]): Promise<Attachment[]> {
  const prepared = await prepareBlobs(rt, inputs, definition, service);
  let result: { attachments: Attachment[]; detached: Blob[] };
  try {
    result = await rt.dataSource.transaction((manager) => writeAttachmentRows(manager, ref, definition, prepared.blobs));
  } catch (error) {
    await discardUploads(rt, prepared);
    throw asAttacheError(error, `Could not save the ${definition.name} attachment of ${ref.type} ${ref.id}.`);
  }
  await disposeDetached(rt, definition, result.detached);
  return result.attachments;
}

/** Purges (now or later, per `dependent`) detached blobs that nothing else is attached to. */
export async function disposeDetached(rt: AttacheRuntime, definition: Pick<AttachmentDefinition, 'dependent'>, blobs: readonly Blob[]): Promise<void> {
  for (const blob of blobs) {
    if (definition.dependent === 'purge') await rt.purger.purge(blob, 'skip');
    else if (definition.dependent === 'purge_later') await rt.queue.enqueue({ type: 'purge', blobId: blob.id });
  }
}

/** An AttacheError as is; anything else (pg, TypeORM) wrapped as PersistenceError with cause. */
export function asAttacheError(error: unknown, message: string): AttacheError {
  return error instanceof AttacheError ? error : new PersistenceError(message, { cause: error });
}
