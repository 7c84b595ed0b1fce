import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { Measure } from '../core/checksum.ts';
import { identifyContentType, SNIFF_BYTES } from '../content/content-type.ts';
import { Blob } from '../records/Blob.ts';
import { FileNotFoundError, IntegrityError } from '../core/errors.ts';
import { assertWithinLimits } from './blob-upload.ts';
import type { AttachmentDefinition } from './definitions.ts';
import type { AttacheRuntime } from '../records/runtime.ts';

/** Whether the blob's bytes were checked by attache (uploaded through it, or verified after a direct upload). */
export function isIdentified(blob: Blob): boolean {
  return blob.metadata?.['identified'] === true;
}

/**
 * Before a directly uploaded blob is attached: the object must exist, have the signed size and
 * checksum, sniff to an allowed type, and (SecureS3) carry the expected encryption. On success the
 * blob is marked identified with its sniffed type; on failure the unattached blob is purged and the
 * error rethrown (FileNotFoundError, IntegrityError, ContentTypeNotAllowedError, EncryptionError).
 */
export async function verifyDirectUpload(rt: AttacheRuntime, blob: Blob, definition: AttachmentDefinition): Promise<Blob> {
  try {
    const service = rt.service(blob.serviceName);
    if (!(await service.exists(blob.key))) throw new FileNotFoundError(`The direct upload for blob ${blob.key} never arrived.`);
    const facts = (await service.verifyStored?.(blob.key)) ?? {};
    const head = await measureStored(rt, blob);
    blob.contentType = await identifyContentType({ head, declared: blob.contentType, filename: blob.filename });
    assertWithinLimits(definition, blob);
    blob.metadata = { ...blob.metadata, ...facts.metadata, identified: true };
    await rt.dataSource.getRepository(Blob).save(blob);
    return blob;
  } catch (error) {
    await rt.purger.purge(blob, 'skip').catch(() => undefined);
    throw error;
  }
}

/** Streams the stored object once: checks size and MD5 against the blob row; returns its first bytes. */
async function measureStored(rt: AttacheRuntime, blob: Blob): Promise<Buffer> {
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
  await pipeline(await rt.service(blob.serviceName).download(blob.key), measure, sink);
  if (measure.byteSize !== blob.byteSize) throw IntegrityError.sizeMismatch(blob.key, blob.byteSize, measure.byteSize);
  if (blob.checksum && measure.checksum !== blob.checksum) throw IntegrityError.checksumMismatch(blob.key);
  return Buffer.concat(head).subarray(0, SNIFF_BYTES);
}
