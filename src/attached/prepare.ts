import { ArgumentError, AttachmentError } from '../core/errors.ts';
import { generateKey } from '../core/keys.ts';
import { sanitizeFilename } from '../content/filename.ts';
import { sanitizeMetadata } from '../content/metadata.ts';
import { Blob, blobValues } from '../records/Blob.ts';
import { openVerified } from '../records/blob-io.ts';
import { database, errorCode, UNIQUE_VIOLATION } from '../records/database.ts';
import type { RecordRef } from '../records/record-ref.ts';
import type { AttacheRuntime } from '../records/runtime.ts';
import { findSignedBlob } from '../records/signed-ids.ts';
import type { StorageService } from '../services/Service.ts';
import { uploadNewFile, type Limits } from './blob-upload.ts';
import type { ExistingBlob, NewFile, NormalizedInput } from './input.ts';
import { verifyExisting } from './verify-upload.ts';

/** Where a change puts its blobs. */
export interface ChangeTarget {
  /** The record the blobs are attached to; absent for createAndUpload. */
  ref?: RecordRef;
  /** `User#avatar`: binds direct uploads, names the attachment in errors. Absent for createAndUpload. */
  attachment?: string;
  /** 'one' swaps the current attachment; 'many' appends. */
  kind?: 'one' | 'many';
  service: StorageService;
  limits: Limits;
}

export interface AttachOptions {
  /** Copy an existing blob stored on another service to this attachment's service (verified and encrypted like any upload) instead of refusing it. */
  copy?: boolean;
}

/** A blob ready for the row write. */
export interface PreparedBlob {
  blob: Blob;
  /** insert: new row; update: reserved-key placeholder or newly verified facts; none: row as is. */
  write: 'insert' | 'update' | 'none';
  /** This change stored the object (and reserved the key, when `write` is update on a new file): it may remove them again. */
  owned: boolean;
}

/** Byte size of a key reservation's placeholder row: never a real size, so it is recognizable. */
export const RESERVED_SIZE = -1;

/**
 * Turns one input into a prepared blob: uploads a new file (a trusted key is reserved by a row
 * first, so racers never overwrite each other's objects), or checks an existing blob (service,
 * binding, stored facts, limits), or copies it when asked. On failure it leaves nothing of its own.
 */
export async function prepareInput(rt: AttacheRuntime, input: NormalizedInput, target: ChangeTarget, options: AttachOptions): Promise<PreparedBlob> {
  if (input.kind === 'file') return prepareNewFile(rt, input, target);
  return prepareExisting(rt, input, target, options);
}

async function prepareNewFile(rt: AttacheRuntime, file: NewFile, target: ChangeTarget): Promise<PreparedBlob> {
  if (file.key === undefined) {
    return { blob: await uploadNewFile(rt.dataSource, file, target, generateKey()), write: 'insert', owned: true };
  }
  const reservation = await reserveKey(rt, file.key, target.service, file.filename);
  try {
    const blob = await uploadNewFile(rt.dataSource, file, target, file.key);
    blob.id = reservation.id;
    blob.createdAt = reservation.createdAt;
    return { blob, write: 'update', owned: true };
  } catch (error) {
    await releaseKey(rt, reservation);
    throw error;
  }
}

/** Claims a trusted key with a placeholder row before a byte is written. ArgumentError when the key is taken. */
async function reserveKey(rt: AttacheRuntime, key: string, service: StorageService, filename: string): Promise<Blob> {
  const repository = rt.dataSource.getRepository(Blob);
  const placeholder = repository.create({ key, filename: sanitizeFilename(filename), contentType: null, metadata: {}, serviceName: service.name, byteSize: RESERVED_SIZE, checksum: null });
  try {
    await repository.insert(blobValues(placeholder));
  } catch (error) {
    if (errorCode(error) === UNIQUE_VIOLATION) throw new ArgumentError(`A blob with key "${key}" exists already; a trusted key must be new.`, { cause: error });
    throw error;
  }
  return placeholder;
}

/** Gives a reserved key up again (its upload failed, so there is no object). */
async function releaseKey(rt: AttacheRuntime, reservation: Pick<Blob, 'id'>): Promise<void> {
  await database('release a reserved key', () => rt.dataSource.getRepository(Blob).delete({ id: reservation.id, byteSize: RESERVED_SIZE })).catch(() => undefined);
}

async function prepareExisting(rt: AttacheRuntime, input: ExistingBlob, target: ChangeTarget, options: AttachOptions): Promise<PreparedBlob> {
  const found = input.blob ? { blob: input.blob } : await findSignedBlob(rt, input.signedId);
  const { blob } = found;
  if (!blob.id) throw new ArgumentError('Only a saved Blob can be attached; pass the file itself instead.');
  const directUpload = 'directUpload' in found ? found.directUpload : undefined;
  if (directUpload && target.attachment !== undefined && directUpload.attachment !== target.attachment) {
    throw new AttachmentError(`This signed id was made for a direct upload to ${directUpload.attachment}; it cannot be attached as ${target.attachment}.`);
  }
  if (blob.serviceName !== target.service.name) {
    if (options.copy) return copyExisting(rt, blob, target);
    throw new AttachmentError(
      `Blob ${blob.id} is stored on service "${blob.serviceName}", but ${target.attachment ?? 'this attachment'} stores on "${target.service.name}": ` +
        'attach it with { copy: true } to copy it there.',
    );
  }
  try {
    const verified = await verifyExisting(blob, target.service, target.limits);
    return { blob: verified.blob, write: verified.changed ? 'update' : 'none', owned: false };
  } catch (error) {
    if (directUpload) await purgeFailedDirectUpload(rt, blob);
    throw error;
  }
}

/**
 * attache's own direct upload that failed its checks (never arrived, wrong bytes, wrong type or
 * encryption) is attache's to remove, unless it is attached somewhere already. A PUT arriving
 * later finds no row and is refused, so no file without a row appears.
 */
async function purgeFailedDirectUpload(rt: AttacheRuntime, blob: Blob): Promise<void> {
  await rt.purger.purge(blob, 'skip').catch((error: unknown) => rt.background.report('remove a direct upload that failed its checks', error));
}

/** A copy of an existing blob on the target service: its verified bytes, uploaded like a new file. */
async function copyExisting(rt: AttacheRuntime, blob: Blob, target: ChangeTarget): Promise<PreparedBlob> {
  const file: NewFile = {
    kind: 'file',
    body: await openVerified(rt, blob),
    filename: blob.filename,
    declaredType: blob.contentType ?? undefined,
    metadata: sanitizeMetadata(blob.metadata),
    identify: true,
    knownSize: blob.byteSize,
  };
  return prepareNewFile(rt, file, target);
}
