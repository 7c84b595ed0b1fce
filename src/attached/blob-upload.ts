import type { DataSource } from 'typeorm';
import { identifyContentType, SNIFF_BYTES } from '../content/content-type.ts';
import { Blob } from '../records/Blob.ts';
import { ContentTypeNotAllowedError, FileTooLargeError } from '../core/errors.ts';
import { sanitizeFilename } from '../content/filename.ts';
import type { StorageService } from '../services/Service.ts';
import { discard, peekHead } from '../core/streams.ts';
import { contentTypeAllowed, type AttachmentOptions } from './definitions.ts';
import type { NewFile } from './input.ts';
import { sanitizeMetadata } from '../content/metadata.ts';

export type Limits = Pick<AttachmentOptions, 'maxByteSize' | 'contentTypes'>;

export interface UploadTarget {
  service: StorageService;
  limits: Limits;
}

/**
 * Uploads a new file under `key` and returns its unsaved Blob row. Limits are checked before a
 * byte is stored; on any failure nothing is left in storage (the service keeps nothing).
 * Throws FileTooLargeError, ContentTypeNotAllowedError, IntegrityError, a service error, or the
 * source's own error.
 */
export async function uploadNewFile(dataSource: DataSource, file: NewFile, { service, limits }: UploadTarget, key: string): Promise<Blob> {
  const { maxByteSize } = limits;
  if (maxByteSize !== undefined && file.knownSize !== undefined && file.knownSize > maxByteSize) {
    discard(file.body);
    throw FileTooLargeError.exceeds(maxByteSize, 'the attachment\'s maxByteSize');
  }
  const { head, body } = await peekHead(file.body, SNIFF_BYTES);
  const filename = sanitizeFilename(file.filename);
  const contentType = await identifyContentType({ head, declared: file.declaredType, filename, trustDeclared: !file.identify });
  assertContentTypeAllowed(limits, contentType, body);
  const result = await service.upload(key, body, { maxByteSize, contentType, filename });
  return dataSource.getRepository(Blob).create({
    key,
    filename,
    contentType,
    metadata: { ...sanitizeMetadata(file.metadata), identified: true, ...result.metadata },
    serviceName: service.name,
    byteSize: result.byteSize,
    checksum: result.checksum,
  });
}

/** Refuses a blob (new or existing) that breaks the attachment's declared limits. */
export function assertWithinLimits(limits: Limits, blob: Pick<Blob, 'byteSize' | 'contentType'>): void {
  if (limits.maxByteSize !== undefined && blob.byteSize > limits.maxByteSize) {
    throw FileTooLargeError.exceeds(limits.maxByteSize, 'the attachment\'s maxByteSize');
  }
  assertContentTypeAllowed(limits, blob.contentType ?? 'application/octet-stream');
}

function assertContentTypeAllowed(limits: Limits, contentType: string, body?: NewFile['body']): void {
  if (contentTypeAllowed(limits, contentType)) return;
  if (body) discard(body);
  throw new ContentTypeNotAllowedError(`Content type ${contentType} is not allowed here. Allowed: ${(limits.contentTypes ?? []).join(', ')}.`);
}
