import path from 'node:path';
import type { EntityManager } from 'typeorm';
import { ConfigurationError, FileNotFoundError } from '../core/errors.ts';
import { runChange } from '../attached/attach-ops.ts';
import { AttachChange } from '../attached/change.ts';
import type { NewFile } from '../attached/input.ts';
import { Blob } from '../records/Blob.ts';
import { errorCode, FOREIGN_KEY_VIOLATION } from '../records/database.ts';
import { PREVIEW_ATTACHMENT, PREVIEW_RECORD_TYPE, VARIANT_ATTACHMENT, VARIANT_RECORD_TYPE } from '../records/purge.ts';
import { lockKey, recordLockKey } from '../records/record-ref.ts';
import type { AttacheRuntime } from '../records/runtime.ts';
import { AlreadyStored, claimVariantRecord, previewImage } from './image-records.ts';

/** An encoded image to store for a blob. */
export interface ImageFile {
  data: Buffer;
  contentType: string;
  /** Facts already known (width, height): stored with `analyzed: true`, so no analysis job runs for it. */
  metadata: Record<string, unknown>;
  /** The stored filename's extension (`png`, `webp`). */
  extension: string;
}

/**
 * A variant's image stored through attache's one attach sequence: uploaded to the original's
 * service first (encrypted and checked like every write there), then, in one transaction, its
 * variant record, blob and `image` attachment. So a variant record is never visible before its
 * bytes are stored (Rails #58853). Throws AlreadyStored when another writer won the race.
 */
class VariantImageChange extends AttachChange {
  constructor(rt: AttacheRuntime, private readonly original: Blob, private readonly digest: string, file: NewFile, private readonly facts: Record<string, unknown>) {
    super(rt, { attachment: `${VARIANT_RECORD_TYPE}#${VARIANT_ATTACHMENT}`, kind: 'one', service: rt.service(original.serviceName), limits: {} }, [file]);
  }

  override async writeRows(manager: EntityManager, options?: { recordInserted?: boolean }): Promise<void> {
    const id = await claimed(() => claimVariantRecord(manager, this.original.id, this.digest));
    this.target.ref = { type: VARIANT_RECORD_TYPE, id };
    for (const blob of this.blobs) blob.metadata = { ...blob.metadata, ...this.facts, analyzed: true };
    await super.writeRows(manager, options);
  }
}

/** A preview image stored as Rails 6.1 does: attached to the original blob as `preview_image`. Throws AlreadyStored. */
class PreviewImageChange extends AttachChange {
  constructor(rt: AttacheRuntime, private readonly original: Blob, file: NewFile, private readonly facts: Record<string, unknown>) {
    const ref = { type: PREVIEW_RECORD_TYPE, id: original.id, entity: rt.dataSource.getMetadata(Blob) };
    super(rt, { ref, attachment: `${PREVIEW_RECORD_TYPE}#${PREVIEW_ATTACHMENT}`, kind: 'one', service: rt.service(original.serviceName), limits: {} }, [file]);
  }

  override async writeRows(manager: EntityManager, options?: { recordInserted?: boolean }): Promise<void> {
    await lockKey(manager, recordLockKey(this.target.ref!));
    if (await previewImage(manager, this.original.id)) throw new AlreadyStored('The preview was stored by another writer.');
    for (const blob of this.blobs) blob.metadata = { ...blob.metadata, ...this.facts, analyzed: true };
    await super.writeRows(manager, options);
  }
}

/** Stores a variant image of `original` under `digest`; returns its blob, or null when another writer stored it first. */
export async function storeVariantImage(rt: AttacheRuntime, original: Blob, digest: string, image: ImageFile): Promise<Blob | null> {
  return store(rt, new VariantImageChange(rt, original, digest, newFile(original, image), image.metadata));
}

/** Stores the preview image of `original`; returns its blob, or null when another writer stored it first. */
export async function storePreviewImage(rt: AttacheRuntime, original: Blob, image: ImageFile): Promise<Blob | null> {
  return store(rt, new PreviewImageChange(rt, original, newFile(original, image), image.metadata));
}

async function store(rt: AttacheRuntime, change: AttachChange): Promise<Blob | null> {
  try {
    await runChange(rt, change);
    return change.blobs[0] ?? null;
  } catch (error) {
    if (error instanceof AlreadyStored) return null;
    // 22P02: active_storage_attachments.record_id is uuid, which cannot hold a variant record's or blob's bigint id.
    if (causedBy(error, '22P02')) {
      throw new ConfigurationError('Variants and previews need active_storage_attachments.record_id to hold bigint ids (the bigint or string migration option); this schema uses uuid.', { cause: error });
    }
    throw error;
  }
}

/** Rails' filename of a variant or preview image: the original's base name with the image's extension. */
function newFile(original: Blob, image: ImageFile): NewFile {
  const base = path.basename(original.filename, path.extname(original.filename)) || 'image';
  return { kind: 'file', body: image.data, filename: `${base}.${image.extension.toLowerCase()}`, declaredType: image.contentType, metadata: {}, identify: true, knownSize: image.data.length };
}

/** Whether the error, or an error it wraps, has the SQLSTATE `code`. */
function causedBy(error: unknown, code: string): boolean {
  let e: unknown = error;
  for (let depth = 0; e && depth < 8; depth++, e = (e as { cause?: unknown }).cause) {
    if (errorCode(e) === code || errorCode((e as { driverError?: unknown }).driverError) === code) return true;
  }
  return false;
}

/** The variant record insert, with a purged original named as such. */
async function claimed(claim: () => Promise<string>): Promise<string> {
  try {
    return await claim();
  } catch (error) {
    if (errorCode(error) === FOREIGN_KEY_VIOLATION) throw new FileNotFoundError('The original blob was purged while its variant was made: nothing was stored.', { cause: error });
    throw error;
  }
}
