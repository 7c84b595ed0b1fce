import { AbortMultipartUploadCommand, DeleteObjectCommand, PutObjectCommand, type PutObjectCommandInput, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable, pipeline } from 'node:stream';
import { byteLimit, Measure } from '../../core/checksum.ts';
import { toReadable } from '../../core/streams.ts';
import { AttacheError, ArgumentError, IntegrityError } from '../../core/errors.ts';
import type { UploadBody } from '../Service.ts';
import type { EncryptionAnswer, SseParams } from './encryption.ts';
import { isAmbiguousFailure, isNoSuchUpload } from './errors.ts';

/** S3 refuses more parts than this in one multipart upload. */
const MAX_PARTS = 10_000;

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
  /** Bodies of known size up to this many bytes go as one PutObject; longer ones (and streams longer than a part) as multipart. */
  threshold: number;
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
 * Streams `body` to S3 through Measure (size and MD5), checking `expected`. Returns the measured
 * checksum and size, never an ETag. On any failure nothing is stored: a checksum or size mismatch
 * is found before the PutObject or before the last part is handed to lib-storage (which then
 * aborts instead of completing), and every failed multipart upload is aborted.
 * The body's own error is rethrown unchanged; S3 errors go through `target.fail`. A failure whose
 * outcome S3 did not report (a timeout, a dropped connection, a 5xx) may have stored the object
 * anyway, so the key is then deleted (an object it replaced is gone too; attache's keys are new),
 * unless `target.replaces` says the key holds an object that must survive.
 */
export async function writeObject(target: WriteTarget, body: UploadBody, expected: Expected): Promise<Written> {
  const limit = byteLimit(expected);
  const source = toReadable(body);
  let sourceError: unknown;
  const noteSourceError = (error: unknown): void => void (sourceError ??= error);
  source.once('error', noteSourceError);
  const measure = new Measure({ maxByteSize: limit });
  const chunks = pipeline(source, measure, () => undefined)[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    // Memory bound: a body of known size up to `threshold` is buffered for the single put's
    // Content-MD5 (as Rails does with multipart_threshold); a stream of unknown size is buffered
    // only up to one part: if it ends there it is one put, else multipart starts at once. The
    // multipart path then holds at most queueSize × partSize (lib-storage's parts in flight).
    const known = expected.byteSize ?? (body instanceof Uint8Array ? body.byteLength : undefined);
    const head = await readHead(chunks, known === undefined ? Math.min(target.threshold, target.partSize) : target.threshold);
    if (head.ended) {
      assertExpected(target.key, measure, expected);
      const bytes = Buffer.concat(head.chunks);
      head.chunks.length = 0; // the joined copy is the only one kept while the put is in flight
      return await putSingle(target, bytes, measure);
    }
    return await putMultipart(target, { head: head.chunks, rest: chunks, measure, expected });
  } catch (error) {
    source.destroy();
    if (sourceError === undefined && target.replaces !== true) await discardIfAmbiguous(target.client, target.bucket, target.key, error);
    throw sourceError ?? (error instanceof AttacheError ? error : target.fail(error));
  } finally {
    source.off('error', noteSourceError);
  }
}

async function readHead(chunks: AsyncIterator<Buffer>, threshold: number): Promise<{ chunks: Buffer[]; ended: boolean }> {
  const head: Buffer[] = [];
  let length = 0;
  while (length <= threshold) {
    const next = await chunks.next();
    if (next.done) return { chunks: head, ended: true };
    head.push(next.value);
    length += next.value.length;
  }
  return { chunks: head, ended: false };
}

async function putSingle(target: WriteTarget, bytes: Buffer, measure: Measure): Promise<Written> {
  const { client, bucket, key, objectParams } = target;
  const answer = await client.send(
    new PutObjectCommand({ ...objectParams, Bucket: bucket, Key: key, Body: bytes, ContentLength: bytes.length, ContentMD5: measure.checksum }),
  );
  return { checksum: measure.checksum, byteSize: measure.byteSize, answer };
}

interface MultipartSource {
  head: Buffer[];
  rest: AsyncIterator<Buffer>;
  measure: Measure;
  expected: Expected;
}

/** lib-storage in constant memory; each part gets its Content-MD5 from the client's middleware (client.ts). */
async function putMultipart(target: WriteTarget, source: MultipartSource): Promise<Written> {
  const { client, bucket, key } = target;
  const { head, rest, measure, expected } = source;
  let bodyFailure: unknown;
  async function* bytes(): AsyncGenerator<Buffer> {
    try {
      while (head.length > 0) yield head.shift()!;
      for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
      // Checked before the stream ends, so lib-storage has not sent the last part: a mismatch aborts, never completes.
      assertExpected(key, measure, expected);
    } catch (error) {
      bodyFailure = error;
      throw error;
    }
  }
  const partSize = expected.byteSize === undefined ? target.partSize : Math.max(target.partSize, Math.ceil(expected.byteSize / MAX_PARTS));
  const upload = new Upload({
    client,
    params: { ...target.objectParams, ...target.partParams, Bucket: bucket, Key: key, Body: Readable.from(bytes(), { objectMode: false }) },
    partSize,
    queueSize: target.queueSize,
    leavePartsOnError: false,
  });
  try {
    const answer = await upload.done();
    return { checksum: measure.checksum, byteSize: measure.byteSize, answer };
  } catch (error) {
    // lib-storage aborts on failure, but its abort can fail too (the connection that broke the part): try again.
    if (upload.uploadId !== undefined) await abortMultipart(client, bucket, key, upload.uploadId).catch(() => undefined);
    // The body's failure is the cause even when lib-storage's own abort failed afterwards and threw instead.
    throw bodyFailure ?? error;
  }
}

/** Aborts a multipart upload; one already gone (NoSuchUpload) counts as aborted. */
export async function abortMultipart(client: S3Client, bucket: string, key: string, uploadId: string): Promise<void> {
  try {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
  } catch (error) {
    if (!isNoSuchUpload(error)) throw error;
  }
}

/** After a write whose outcome is unknown (isAmbiguousFailure), deletes the key, best effort: "nothing is left" must hold. */
export async function discardIfAmbiguous(client: S3Client, bucket: string, key: string, error: unknown): Promise<void> {
  if (!isAmbiguousFailure(error)) return;
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
}

function assertExpected(key: string, measure: Measure, expected: Expected): void {
  if (expected.checksum !== undefined && expected.checksum !== measure.checksum) throw IntegrityError.checksumMismatch(key);
  const { byteSize } = expected;
  if (byteSize !== undefined && measure.byteSize < byteSize) throw IntegrityError.sizeMismatch(key, byteSize, measure.byteSize);
}

