import { parseMediaType } from '../content-type.ts';
import { Blob } from '../entities/Blob.ts';
import { ArgumentError, ConfigurationError } from '../errors.ts';
import { sanitizeFilename } from '../filename.ts';
import { generateKey } from '../keys.ts';
import { DEFAULT_EXPIRES_IN } from '../signing/MessageVerifier.ts';
import { assertWithinLimits } from './blob-upload.ts';
import { definitionOf, type AttachmentDefinition } from './definitions.ts';
import { sanitizeMetadata } from './metadata.ts';
import type { AttacheRuntime } from './runtime.ts';

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
}

export interface DirectUploadResponse {
  /** Attach with `record.avatar.attach(signedId)` once the upload is done. */
  signedId: string;
  directUpload: { url: string; headers: Record<string, string> };
}

const MD5_BASE64 = /^[A-Za-z0-9+/]{22}==$/;

/**
 * Creates the blob row of a direct upload and returns where and how the client uploads it.
 * Refuses, before any byte is sent, what the attachment's limits forbid (FileTooLargeError,
 * ContentTypeNotAllowedError) and malformed requests (ArgumentError).
 */
export async function createDirectUpload(rt: AttacheRuntime, request: DirectUploadRequest): Promise<DirectUploadResponse> {
  const definition = resolveAttachment(rt, request?.attachment);
  const { byteSize, checksum } = request;
  if (!Number.isSafeInteger(byteSize) || byteSize < 0) throw new ArgumentError('byteSize must be a non-negative integer.');
  if (typeof checksum !== 'string' || !MD5_BASE64.test(checksum)) throw new ArgumentError('checksum must be the base64 MD5 of the file.');
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
  await rt.dataSource.getRepository(Blob).save(blob);
  const url = await service.urlForDirectUpload(blob.key, { expiresIn: DEFAULT_EXPIRES_IN, contentType, contentLength: byteSize, checksum });
  const headers = service.headersForDirectUpload(blob.key, { contentType, checksum, filename: blob.filename });
  return { signedId: rt.verifier.sign(blob.id, 'blob_id'), directUpload: { url, headers } };
}

function resolveAttachment(rt: AttacheRuntime, attachment: unknown): AttachmentDefinition {
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
