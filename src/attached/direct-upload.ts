import { isBase64Md5 } from '../core/checksum.ts';
import { parseMediaType } from '../content/content-type.ts';
import { Blob } from '../records/Blob.ts';
import { ArgumentError, ConfigurationError, FileNotFoundError } from '../core/errors.ts';
import { sanitizeFilename } from '../content/filename.ts';
import { generateKey } from '../core/keys.ts';
import { DEFAULT_EXPIRES_IN } from '../signing/MessageVerifier.ts';
import { assertWithinLimits } from './blob-upload.ts';
import { definitionOf, type AttachmentDefinition } from './definitions.ts';
import { sanitizeMetadata } from '../content/metadata.ts';
import type { AttacheRuntime, DirectUploadCompleteClaims } from '../records/runtime.ts';
import { database } from '../records/database.ts';
import { signDirectUploadId } from '../records/signed-ids.ts';

/** What a client asks for before uploading straight to storage. Everything else is decided by the server. */
export interface DirectUploadRequest {
  /** `Entity#attachment`, e.g. `User#avatar`: the server takes the service and the limits from its definition. */
  attachment: string;
  filename: string;
  /** Exact size in bytes. */
  byteSize: number;
  /** base64 MD5 of the whole file. */
  checksum: string;
  contentType: string;
  metadata?: Record<string, unknown>;
  /** For large files: size and base64 MD5 of each part. Used when the service supports multipart direct uploads. */
  parts?: Array<{ byteSize: number; checksum: string }>;
}

/** Where and how the client sends bytes: the URL and the exact headers to send. */
export interface DirectUploadTarget {
  url: string;
  headers: Record<string, string>;
}

export interface DirectUploadResponse {
  /** Attach with `record.avatar.attach(signedId)` once the upload is done. */
  signedId: string;
  /** One PUT of the whole file, or one PUT per part followed by a POST to `complete`. */
  directUpload: DirectUploadTarget | { parts: Array<DirectUploadTarget & { partNumber: number }>; complete: DirectUploadTarget };
}

/** Multipart part URLs and the completion token live this long (seconds): big files take a while. */
const MULTIPART_EXPIRES_IN = 24 * 60 * 60;

/**
 * Creates the blob row of a direct upload and returns where and how the client uploads it.
 * Refuses, before any byte is sent, what the attachment's limits forbid (FileTooLargeError,
 * ContentTypeNotAllowedError) and malformed requests (ArgumentError).
 */
export async function createDirectUpload(rt: AttacheRuntime, request: DirectUploadRequest): Promise<DirectUploadResponse> {
  return (await startDirectUpload(rt, request)).response;
}

/** createDirectUpload, with the blob row it saved (Rails' answer shows the row's columns). */
export async function startDirectUpload(rt: AttacheRuntime, request: DirectUploadRequest): Promise<{ blob: Blob; response: DirectUploadResponse }> {
  const definition = resolveAttachment(rt, request?.attachment);
  const { byteSize, checksum } = request;
  if (typeof request.filename !== 'string' || request.filename === '') throw new ArgumentError('filename must be a non-empty string.');
  if (typeof request.contentType !== 'string') throw new ArgumentError('contentType must be a string.');
  if (request.metadata !== undefined && (request.metadata === null || typeof request.metadata !== 'object' || Array.isArray(request.metadata))) {
    throw new ArgumentError('metadata must be an object.');
  }
  if (!Number.isSafeInteger(byteSize) || byteSize < 0) throw new ArgumentError('byteSize must be a non-negative integer.');
  if (!isBase64Md5(checksum)) throw new ArgumentError('checksum must be the base64 MD5 of the file.');
  const contentType = parseMediaType(request.contentType) ?? 'application/octet-stream';
  assertWithinLimits(definition, { byteSize, contentType });
  const service = rt.service(directUploadService(definition));
  const blob = rt.dataSource.getRepository(Blob).create({
    key: generateKey(),
    filename: sanitizeFilename(request.filename),
    contentType,
    byteSize,
    checksum,
    serviceName: service.name,
    metadata: sanitizeMetadata(request.metadata),
  });
  const parts = checkParts(request.parts, byteSize);
  await database('save a direct upload\'s blob', () => rt.dataSource.getRepository(Blob).save(blob));
  const signedId = signDirectUploadId(rt, blob, `${rt.dataSource.getMetadata(definition.target).name}#${definition.name}`);
  try {
    if (parts && service.createMultipartDirectUpload) {
      const upload = await service.createMultipartDirectUpload(blob.key, { expiresIn: MULTIPART_EXPIRES_IN, contentType, filename: blob.filename, parts });
      const complete = rt.routes.directUploadComplete({ blobId: blob.id, uploadId: upload.uploadId, partCount: parts.length }, MULTIPART_EXPIRES_IN);
      return { blob, response: { signedId, directUpload: { parts: upload.parts, complete: { url: complete, headers: {} } } } };
    }
    const url = await service.urlForDirectUpload(blob.key, { expiresIn: DEFAULT_EXPIRES_IN, contentType, contentLength: byteSize, checksum });
    const headers = service.headersForDirectUpload(blob.key, { contentType, checksum, filename: blob.filename });
    return { blob, response: { signedId, directUpload: { url, headers } } };
  } catch (error) {
    await rt.dataSource.getRepository(Blob).delete({ id: blob.id }).catch(() => undefined);
    throw error;
  }
}

/**
 * Completes a multipart direct upload named by a completion token (from createDirectUpload).
 * Idempotent: a retry after a lost answer finds the upload completed and the object stored, and
 * succeeds. On failure the upload is aborted; the blob row stays (unattached, so `sweep()` and
 * `purgeUnattached()` reclaim it) and attaching it fails its existence check.
 * Throws InvalidSignatureError, FileNotFoundError, IntegrityError, EncryptionError, PersistenceError.
 */
export async function completeDirectUpload(rt: AttacheRuntime, token: string): Promise<void> {
  const claims = rt.verifier.verify<DirectUploadCompleteClaims>(token, 'direct_upload_complete');
  const blob = await database('find a direct upload\'s blob', () => rt.dataSource.getRepository(Blob).findOneBy({ id: String(claims.blobId) }));
  if (!blob) throw new FileNotFoundError('The blob of this direct upload no longer exists.');
  const service = rt.service(blob.serviceName);
  if (!service.completeMultipartDirectUpload) throw new ConfigurationError(`Service "${service.name}" has no multipart direct uploads.`);
  try {
    await service.completeMultipartDirectUpload(blob.key, claims.uploadId, claims.partCount);
  } catch (error) {
    if (error instanceof FileNotFoundError && (await service.exists(blob.key).catch(() => false))) return; // completed before: a retried POST
    await service.abortMultipartDirectUpload?.(blob.key, claims.uploadId).catch(() => undefined);
    throw error;
  }
}

/** The parts, checked against the whole size; undefined when the client sent none. Throws ArgumentError. */
function checkParts(parts: unknown, byteSize: number): DirectUploadRequest['parts'] {
  if (parts === undefined) return undefined;
  if (!Array.isArray(parts) || parts.length === 0 || parts.length > 10_000) throw new ArgumentError('parts must list 1 to 10000 parts.');
  let total = 0;
  const clean = parts.map((part: unknown) => {
    const { byteSize: size, checksum } = (part ?? {}) as { byteSize?: unknown; checksum?: unknown };
    if (!Number.isSafeInteger(size) || (size as number) < 1) throw new ArgumentError('Each part needs a positive byteSize.');
    if (!isBase64Md5(checksum)) throw new ArgumentError('Each part needs the base64 MD5 of its bytes.');
    total += size as number;
    return { byteSize: size as number, checksum };
  });
  if (total !== byteSize) throw new ArgumentError('The parts do not add up to byteSize.');
  return clean;
}

export function resolveAttachment(rt: AttacheRuntime, attachment: unknown): AttachmentDefinition {
  const match = typeof attachment === 'string' ? /^([A-Za-z_$][\w$]*)#([A-Za-z_$][\w$]*)$/.exec(attachment) : null;
  if (!match) throw new ArgumentError('attachment must look like "User#avatar".');
  const entity = rt.dataSource.entityMetadatas.find((m) => m.name === match[1]);
  if (!entity || typeof entity.target !== 'function') throw new ArgumentError(`No entity named ${match[1]}.`);
  return definitionOf(entity.target, match[2]!);
}

function directUploadService(definition: AttachmentDefinition): string | undefined {
  if (typeof definition.service === 'function') {
    throw new ConfigurationError(`${definition.target.name}#${definition.name} picks its service per record, so direct uploads cannot choose one.`);
  }
  return definition.service;
}
