import { DeleteObjectCommand, PutObjectCommand, type PutObjectCommandInput, type S3Client } from '@aws-sdk/client-s3';
import { assertDeclared, byteLimit } from '../../core/checksum.ts';
import { md5Hasher, OffThreadMd5 } from '../../core/md5-worker.ts';
import { toReadable } from '../../core/streams.ts';
import { AttacheError, IntegrityError } from '../../core/errors.ts';
import type { UploadBody } from '../Service.ts';
import type { EncryptionAnswer, SseParams } from './encryption.ts';
import { isAmbiguousFailure } from './errors.ts';
import { MAX_PARTS, sendMultipart } from './multipart.ts';
import { PartReader, type Part } from './parts.ts';

export { abortMultipart } from './multipart.ts';

/** What PutObject and CreateMultipartUpload get besides bucket, key, body and checksum. */
export type ObjectParams = Omit<PutObjectCommandInput, 'Bucket' | 'Key' | 'Body' | 'ContentMD5' | 'ContentLength'>;

/** Where and how one object is written. */
export interface WriteTarget {
  client: S3Client;
  bucket: string;
  key: string;
  /** Content type, disposition, metadata, `upload` extras and the SSE `write` parameters. */
  objectParams: ObjectParams;
  /** What every UploadPart and the Complete carry: the SSE `part` parameters (an SSE-C key). */
  partParams: SseParams;
  /** A body that fits in one part (known size, or a stream that ends within one) is one PutObject; a longer one is multipart. */
  partSize: number;
  queueSize: number;
  /** Turns an SDK error into the service's AttacheError. */
  fail(error: unknown): AttacheError;
  /**
   * The key holds an object that must survive a failed write (reencrypt's rewrite of the same
   * bytes): after a failure of unknown outcome the key is not deleted.
   */
  replaces?: boolean;
}

export interface Expected {
  checksum?: string;
  byteSize?: number;
  maxByteSize?: number;
}

export interface Written {
  checksum: string;
  byteSize: number;
  /** The PutObject or CompleteMultipartUpload answer, for the encryption check. */
  answer: EncryptionAnswer;
}

/**
 * Sends `body` to S3, counting its bytes and computing its MD5 on the way, and checks `expected`.
 * Returns the measured checksum and size, never an ETag. A body that fits in one part (known size
 * up to the part size, or a stream that ends within one) is one PutObject; a longer one is a
 * multipart upload (multipart.ts). Every request body is a Buffer whose SHA-256 the SDK signs, so
 * S3 refuses bytes altered on the way (client.ts guards it). On any failure nothing is stored: a
 * checksum or size mismatch is found before the PutObject or before the last part is sent (the
 * upload is then aborted, not completed), and every failed multipart upload is aborted.
 * The body's own error is rethrown unchanged; S3 errors go through `target.fail`. A failure whose
 * outcome S3 did not report (a timeout, a dropped connection, a 5xx) may have stored the object
 * anyway, so the key is then deleted (an object it replaced is gone too; attache's keys are new),
 * unless `target.replaces` says the key holds an object that must survive.
 */
export async function writeObject(target: WriteTarget, body: UploadBody, expected: Expected): Promise<Written> {
  const limit = byteLimit(expected);
  const source = body instanceof Uint8Array ? body : toReadable(body);
  const known = expected.byteSize ?? (body instanceof Uint8Array ? body.byteLength : undefined);
  let sourceError: unknown;
  const noteSourceError = (error: unknown): void => void (sourceError ??= error);
  if (!(source instanceof Uint8Array)) source.once('error', noteSourceError);
  // Memory bound: at most queueSize + 1 part buffers (parts.ts), whatever the body's length.
  const partSize = known === undefined ? target.partSize : Math.max(target.partSize, Math.ceil(known / MAX_PARTS));
  let reader: PartReader | undefined;
  try {
    reader = new PartReader(source, { partSize, limit, knownSize: known });
    const first = await reader.next();
    if (first.last) return await putSingle(target, first, reader.byteSize, expected);
    const hasher = new OffThreadMd5();
    try {
      const parts = reader;
      const check = (checksum: string | undefined): void => assertDeclared(target.key, { checksum, byteSize: parts.byteSize }, expected);
      const checksumFirst = expected.checksum !== undefined;
      const { checksum, answer } = await sendMultipart({ ...target, partSize }, { reader, first, hasher, check, checksumFirst });
      return { checksum, byteSize: reader.byteSize, answer };
    } finally {
      hasher.destroy();
    }
  } catch (error) {
    await reader?.close().catch(() => undefined);
    if (!(source instanceof Uint8Array)) source.destroy();
    if (sourceError === undefined && target.replaces !== true) await discardIfAmbiguous(target.client, target.bucket, target.key, error);
    throw sourceError ?? (error instanceof AttacheError ? error : target.fail(error));
  } finally {
    if (!(source instanceof Uint8Array)) source.off('error', noteSourceError);
  }
}

/**
 * One PutObject of a body that fits in one part. Its MD5 is computed inline below a few MiB, else
 * on the worker. With an expected checksum it is awaited before the put (a mismatch stores
 * nothing); else it runs while S3 receives and stores the body: on the worker, or inline once the
 * SDK has signed and written the request (the event loop would only wait for the answer then).
 */
async function putSingle(target: WriteTarget, part: Part, byteSize: number, expected: Expected): Promise<Written> {
  const { client, bucket, key, objectParams } = target;
  const hasher = md5Hasher(part.bytes.length);
  const hash = (): Promise<string> => {
    hasher.update(part.bytes);
    return hasher.digest();
  };
  let digest: Promise<string> | undefined;
  if (expected.checksum !== undefined || hasher instanceof OffThreadMd5) {
    digest = hash();
    digest.catch(() => undefined); // awaited below, after the put when nothing is expected
    if (expected.checksum !== undefined) assertDeclared(key, { checksum: await digest, byteSize }, expected);
  }
  assertDeclared(key, { byteSize }, expected);
  const sending = client.send(new PutObjectCommand({ ...objectParams, Bucket: bucket, Key: key, Body: part.bytes, ContentLength: part.bytes.length }));
  if (digest === undefined) {
    sending.catch(() => undefined); // awaited below
    await new Promise((resolve) => setImmediate(resolve)); // the SDK signs and writes the request first
    digest = hash();
  }
  const answer = await sending;
  let checksum: string;
  try {
    checksum = await digest;
  } catch (error) {
    // Stored, but without a checksum the blob cannot be recorded: nothing may be left.
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
    throw error;
  }
  return { checksum, byteSize, answer };
}

/** After a write whose outcome is unknown (isAmbiguousFailure), deletes the key, best effort: "nothing is left" must hold. */
export async function discardIfAmbiguous(client: S3Client, bucket: string, key: string, error: unknown): Promise<void> {
  if (!isAmbiguousFailure(error)) return;
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
}

