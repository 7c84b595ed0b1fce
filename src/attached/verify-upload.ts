import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { Measure } from '../core/checksum.ts';
import { identifyContentType, SNIFF_BYTES } from '../content/content-type.ts';
import type { Blob } from '../records/Blob.ts';
import { FileNotFoundError, IntegrityError } from '../core/errors.ts';
import type { StorageService } from '../services/Service.ts';
import { assertWithinLimits, type Limits } from './blob-upload.ts';

/** Whether the blob's bytes were checked by attache (uploaded through it, or verified after a direct upload). */
export function isIdentified(blob: Pick<Blob, 'metadata'>): boolean {
  return blob.metadata?.['identified'] === true;
}

/**
 * Checks an existing blob before any row points at it, on the service it is stored on:
 * - not yet identified (a direct upload, or a blob another app wrote): the object exists with the
 *   recorded size and MD5, and its first bytes decide the content type;
 * - identified: the object exists;
 * - where the service can check stored objects (SecureS3): the encryption the server reports.
 * Then the attachment's limits. Returns the blob with its facts updated (not saved) and whether
 * they changed. Never deletes anything: the caller decides (it may not be attache's object).
 * Throws FileNotFoundError, IntegrityError, EncryptionError, ContentTypeNotAllowedError, FileTooLargeError.
 */
export async function verifyExisting(blob: Blob, service: StorageService, limits: Limits): Promise<{ blob: Blob; changed: boolean }> {
  let { contentType, metadata } = blob;
  if (!isIdentified(blob)) {
    if (!(await service.exists(blob.key))) throw new FileNotFoundError(`The object of blob ${blob.key} has not arrived.`);
    const head = await measureStored(service, blob);
    contentType = await identifyContentType({ head, declared: blob.contentType, filename: blob.filename });
    metadata = { ...metadata, identified: true };
  } else if (!service.verifyStored && !(await service.exists(blob.key))) {
    throw new FileNotFoundError(`The object of blob ${blob.key} is missing from service "${service.name}".`);
  }
  const facts = (await service.verifyStored?.(blob.key))?.metadata;
  if (facts && !sameFacts(metadata, facts)) metadata = { ...metadata, ...facts };
  assertWithinLimits(limits, { byteSize: blob.byteSize, contentType });
  const changed = contentType !== blob.contentType || metadata !== blob.metadata;
  if (changed) Object.assign(blob, { contentType, metadata });
  return { blob, changed };
}

function sameFacts(metadata: Record<string, unknown> | null | undefined, facts: Record<string, unknown>): boolean {
  return Object.entries(facts).every(([key, value]) => JSON.stringify(metadata?.[key]) === JSON.stringify(value));
}

/** Streams the stored object once: checks size and MD5 against the blob row; returns its first bytes. */
async function measureStored(service: StorageService, blob: Blob): Promise<Buffer> {
  const measure = new Measure();
  const head: Buffer[] = [];
  let headLength = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (headLength < SNIFF_BYTES) {
        head.push(chunk);
        headLength += chunk.length;
      }
      done();
    },
  });
  await pipeline(await service.download(blob.key), measure, sink);
  if (measure.byteSize !== blob.byteSize) throw IntegrityError.sizeMismatch(blob.key, blob.byteSize, measure.byteSize);
  if (blob.checksum && measure.checksum !== blob.checksum) throw IntegrityError.checksumMismatch(blob.key);
  return Buffer.concat(head).subarray(0, SNIFF_BYTES);
}
