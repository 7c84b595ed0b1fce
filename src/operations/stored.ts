import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Measure } from '../core/checksum.ts';
import { AttacheError, EncryptionError, FileNotFoundError, IntegrityError } from '../core/errors.ts';
import type { StorageService } from '../services/Service.ts';
import type { BlobProblem } from './types.ts';

/** What the blob row says the object is. */
export interface Expected {
  key: string;
  byteSize: number;
  checksum: string | null;
}

/**
 * The stored object's size, or null when there is none: the service's listing with the key as
 * prefix (one folder on Disk, one ListObjectsV2 on S3). Undefined when the service cannot list
 * (then only whether it exists is known). Throws StorageAccessError.
 */
export async function storedSize(service: StorageService, key: string): Promise<number | null | undefined> {
  if (typeof service.listObjects !== 'function') return (await service.exists(key)) ? undefined : null;
  for await (const object of service.listObjects({ prefix: key })) {
    if (object.key === key) return object.byteSize;
  }
  return null;
}

/** The MD5 and size of the stored bytes, streamed (constant memory). Throws FileNotFoundError, StorageAccessError. */
export async function measureStored(service: StorageService, key: string): Promise<{ checksum: string; byteSize: number }> {
  const measure = new Measure();
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  await pipeline(await service.download(key), measure, sink);
  return { checksum: measure.checksum, byteSize: measure.byteSize };
}

/**
 * What the service reports about the stored object's encryption, checked against its
 * configuration (SecureS3's verifyStored, a HeadObject), or undefined for a service that does not
 * encrypt. Throws EncryptionError on a mismatch, FileNotFoundError, StorageAccessError.
 */
export async function storedEncryption(service: StorageService, key: string): Promise<unknown> {
  if (typeof service.verifyStored !== 'function') return undefined;
  const { metadata } = await service.verifyStored(key);
  return metadata?.['encryption'];
}

/** Checks the stored object's size and encryption against the row. Returns the encryption facts. Throws IntegrityError (size), FileNotFoundError, EncryptionError. */
export async function checkStored(service: StorageService, expected: Expected): Promise<unknown> {
  const size = await storedSize(service, expected.key);
  if (size === null) throw FileNotFoundError.forKey(expected.key);
  if (size !== undefined && size !== expected.byteSize) throw IntegrityError.sizeMismatch(expected.key, expected.byteSize, size);
  return storedEncryption(service, expected.key);
}

/** Whether the stored bytes are the row's (size and MD5), downloading them. Throws FileNotFoundError, StorageAccessError. */
export async function bytesMatch(service: StorageService, expected: Expected): Promise<boolean> {
  if (!expected.checksum) return false;
  const measured = await measureStored(service, expected.key);
  return measured.byteSize === expected.byteSize && measured.checksum === expected.checksum;
}

/** The problem kind of a per-blob failure. */
export function problemOf(error: unknown, otherwise: BlobProblem['problem']): BlobProblem['problem'] {
  if (error instanceof FileNotFoundError) return 'missing';
  if (error instanceof EncryptionError) return 'encryption';
  if (error instanceof IntegrityError) return error.reason;
  return otherwise;
}

/** A failure's message for a report: attache's own (which names no secret), else its class only. */
export function detailOf(error: unknown): string {
  if (error instanceof AttacheError) return error.message;
  return error instanceof Error ? `${error.name} (not an attache error)` : 'unknown failure';
}
