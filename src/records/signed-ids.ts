import { FileNotFoundError, InvalidSignatureError } from '../core/errors.ts';
import type { Purpose } from '../signing/MessageVerifier.ts';
import { Blob } from './Blob.ts';
import { database } from './database.ts';
import type { AttacheRuntime } from './runtime.ts';

/** What a direct upload's signed id carries: the blob and the attachment (`User#avatar`) it was made for. */
interface DirectUploadPayload {
  id: string;
  attachment: string;
}

/** A blob found by a signed id, and what the id says about it. */
export interface SignedBlob {
  blob: Blob;
  /** Set for attache's own direct uploads: the attachment the upload was made for. */
  directUpload?: { attachment: string };
}

/** The purposes a caller may attach or look up: never `blob_url`, the id shown inside links. */
export const ATTACHABLE: readonly Purpose[] = ['blob_id', 'direct_upload'];

/** An attachable signed id for the blob (`blob.signedId()`): permanent unless `expiresIn` seconds. */
export function signBlobId(rt: AttacheRuntime, blob: Pick<Blob, 'id'>, expiresIn?: number): string {
  return rt.verifier.sign(blob.id, 'blob_id', expiresIn);
}

/** The id inside redirect and proxy URLs: it serves the blob but can never be attached. */
export function signBlobUrlId(rt: AttacheRuntime, blob: Pick<Blob, 'id'>, expiresIn?: number): string {
  return rt.verifier.sign(blob.id, 'blob_url', expiresIn);
}

/** The signed id a direct upload answers with, bound to the attachment it was made for. */
export function signDirectUploadId(rt: AttacheRuntime, blob: Pick<Blob, 'id'>, attachment: string): string {
  const payload: DirectUploadPayload = { id: blob.id, attachment };
  return rt.verifier.sign(payload, 'direct_upload');
}

/**
 * The blob behind a signed id of one of `purposes`. Throws InvalidSignatureError (tampered,
 * expired, another purpose), FileNotFoundError (the blob is gone) or PersistenceError.
 */
export async function findSignedBlob(rt: AttacheRuntime, signedId: unknown, purposes: readonly Purpose[] = ATTACHABLE): Promise<SignedBlob> {
  const { purpose, payload } = rt.verifier.verifyAny<unknown>(signedId, purposes);
  const direct = purpose === 'direct_upload' ? directUploadPayload(payload) : undefined;
  const id = direct ? direct.id : payload;
  if (typeof id !== 'string' || !/^\d+$/.test(id)) throw new InvalidSignatureError('tampered');
  const blob = await database('find a blob by signed id', () => rt.dataSource.getRepository(Blob).findOneBy({ id }));
  if (!blob) throw new FileNotFoundError('The blob of this signed id no longer exists.');
  return direct ? { blob, directUpload: { attachment: direct.attachment } } : { blob };
}

function directUploadPayload(payload: unknown): DirectUploadPayload {
  const { id, attachment } = (payload ?? {}) as Partial<DirectUploadPayload>;
  if (typeof id !== 'string' || typeof attachment !== 'string') throw new InvalidSignatureError('tampered');
  return { id, attachment };
}
