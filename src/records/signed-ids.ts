import { ArgumentError, ConfigurationError, FileNotFoundError, InvalidSignatureError } from '../core/errors.ts';
import type { Purpose } from '../signing/MessageVerifier.ts';
import { isRailsMessage } from '../signing/rails/RailsMode.ts';
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

/** Whose format a signed id is in: attache's own (HMAC-SHA256, purposes kept apart) or Rails' `blob_id`. */
export type SignedIdFormat = 'attache' | 'rails';

/**
 * An attachable signed id for the blob (`blob.signedId()`): permanent unless `expiresIn` seconds.
 * `'rails'` makes the id Rails' `Blob.find_signed` reads; it needs Rails mode (else ConfigurationError).
 */
export function signBlobId(rt: AttacheRuntime, blob: Pick<Blob, 'id'>, expiresIn?: number, format: SignedIdFormat = 'attache'): string {
  if (format === 'rails') return railsMode(rt).verifier.signBlobId(blob.id, { expiresIn });
  if (format !== 'attache') throw new ArgumentError('format must be "attache" or "rails".');
  return rt.verifier.sign(blob.id, 'blob_id', expiresIn);
}

/**
 * The id inside redirect and proxy URLs. attache's own serves the blob but can never be attached;
 * with Rails URLs it is Rails' `blob_id`, which Rails also attaches (what Rails mode gives up).
 */
export function signBlobUrlId(rt: AttacheRuntime, blob: Pick<Blob, 'id'>, expiresIn?: number): string {
  if (rt.rails?.urls === 'rails') return rt.rails.verifier.signBlobId(blob.id, { expiresIn });
  return rt.verifier.sign(blob.id, 'blob_url', expiresIn);
}

function railsMode(rt: AttacheRuntime): NonNullable<AttacheRuntime['rails']> {
  if (!rt.rails) throw new ConfigurationError('Rails-format signed ids need Rails mode: pass `rails: { secretKeyBase, messageFormat }` to Attache.init.');
  return rt.rails;
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
  const rails = railsBlobId(rt, signedId, purposes);
  const opened = rails === undefined ? rt.verifier.verifyAny<unknown>(signedId, purposes) : undefined;
  const direct = opened?.purpose === 'direct_upload' ? directUploadPayload(opened.payload) : undefined;
  const id = rails ?? (direct ? direct.id : opened?.payload);
  if (typeof id !== 'string' || !/^\d+$/.test(id)) throw new InvalidSignatureError('tampered');
  const blob = await database('find a blob by signed id', () => rt.dataSource.getRepository(Blob).findOneBy({ id }));
  if (!blob) throw new FileNotFoundError('The blob of this signed id no longer exists.');
  return direct ? { blob, directUpload: { attachment: direct.attachment } } : { blob };
}

/**
 * The blob id of a Rails `blob_id` message, or undefined when the id is not Rails' or Rails mode
 * is off. Rails has one purpose for attachable ids and link ids, so it opens both `blob_id` and `blob_url`.
 */
function railsBlobId(rt: AttacheRuntime, signedId: unknown, purposes: readonly Purpose[]): string | undefined {
  if (!rt.rails || !isRailsMessage(signedId)) return undefined;
  if (!purposes.includes('blob_id') && !purposes.includes('blob_url')) throw new InvalidSignatureError('purpose');
  return rt.rails.verifier.verifyBlobId(signedId);
}

function directUploadPayload(payload: unknown): DirectUploadPayload {
  const { id, attachment } = (payload ?? {}) as Partial<DirectUploadPayload>;
  if (typeof id !== 'string' || typeof attachment !== 'string') throw new InvalidSignatureError('tampered');
  return { id, attachment };
}
