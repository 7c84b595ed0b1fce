import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { isBase64Md5 } from '../../core/checksum.ts';
import { ArgumentError, FileNotFoundError, IntegrityError, StorageAccessError, type AttacheError } from '../../core/errors.ts';
import { assertExpiresIn } from '../../signing/MessageVerifier.ts';
import type { MultipartDirectUpload, MultipartDirectUploadOptions } from '../Service.ts';
import { MIN_PART_SIZE } from './compose.ts';
import type { EncryptionAnswer, SseParams } from './encryption.ts';
import { isNoSuchUpload, S3Failure } from './errors.ts';
import { abortMultipart, discardIfAmbiguous, type ObjectParams } from './upload.ts';

/** S3's limits: part numbers 1..10000, a part at most 5 GiB, an object at most 5 TiB. */
export const MAX_PARTS = 10_000;
const MAX_PART_SIZE = 5 * 1024 ** 3;
const MAX_OBJECT_SIZE = 5 * 1024 ** 4;
/** ListParts answers at most 1000 parts per page. */
const LIST_PAGE = 1000;

/** Where a multipart direct upload goes: built by S3Service from the same parameters as its own writes. */
export interface MultipartDirectTarget {
  client: S3Client;
  bucket: string;
  key: string;
  /** The service's name, for messages. */
  service: string;
  /** CreateMultipartUpload's parameters: type, disposition, the `upload` extras and, last, the SSE `write` ones. */
  objectParams: ObjectParams;
  /** The SSE `part` parameters (an SSE-C key; empty for SSE-KMS and plain S3) for UploadPart and Complete. */
  partParams: SseParams;
  /** Turns an SDK error into the service's AttacheError; `action` is a verb phrase ("complete the multipart upload of"). */
  fail(error: unknown, action: string): AttacheError;
}

/**
 * Checks the options of a multipart direct upload: expiresIn, content type, filename, and the parts
 * (1 to 10000; sizes positive integers, every part but the last at least 5 MiB, none over 5 GiB;
 * checksums base64 MD5). Throws ArgumentError.
 */
export function assertMultipartOptions(options: MultipartDirectUploadOptions): void {
  if (typeof options !== 'object' || options === null) throw new ArgumentError('Multipart direct upload options are required.');
  assertExpiresIn(options.expiresIn);
  if (typeof options.contentType !== 'string' || options.contentType === '') throw new ArgumentError('"contentType" must be a non-empty string.');
  if (options.filename !== undefined && typeof options.filename !== 'string') throw new ArgumentError('"filename" must be a string.');
  const { parts } = options;
  if (!Array.isArray(parts) || parts.length === 0) throw new ArgumentError('"parts" must list at least one part.');
  if (parts.length > MAX_PARTS) throw new ArgumentError(`"parts" lists ${parts.length} parts: S3 allows at most ${MAX_PARTS}.`);
  let total = 0;
  for (const [index, part] of parts.entries()) {
    const where = `Part ${index + 1} of ${parts.length}`;
    const byteSize: unknown = (part as { byteSize?: unknown } | null)?.byteSize;
    if (!Number.isSafeInteger(byteSize) || (byteSize as number) < 1) throw new ArgumentError(`${where}: "byteSize" must be a positive integer number of bytes.`);
    const size = byteSize as number;
    if (size > MAX_PART_SIZE) throw new ArgumentError(`${where} is ${size} bytes: S3 parts are at most 5 GiB.`);
    if (index < parts.length - 1 && size < MIN_PART_SIZE) {
      throw new ArgumentError(`${where} is ${size} bytes: every part but the last must be at least ${MIN_PART_SIZE} bytes (5 MiB).`);
    }
    if (!isBase64Md5((part as { checksum?: unknown }).checksum)) throw new ArgumentError(`${where}: "checksum" must be the base64 MD5 of the part's bytes.`);
    total += size;
  }
  if (total > MAX_OBJECT_SIZE) throw new ArgumentError(`The parts add up to ${total} bytes: an S3 object is at most 5 TiB.`);
}

/** A part count of Complete: an integer 1..10000. Throws ArgumentError. */
export function assertPartCount(partCount: unknown): asserts partCount is number {
  if (!Number.isSafeInteger(partCount) || (partCount as number) < 1 || (partCount as number) > MAX_PARTS) {
    throw new ArgumentError(`"partCount" must be an integer from 1 to ${MAX_PARTS}.`);
  }
}

/** An upload id: a non-empty string. Throws ArgumentError. */
export function assertUploadId(uploadId: unknown): asserts uploadId is string {
  if (typeof uploadId !== 'string' || uploadId === '') throw new ArgumentError('"uploadId" must be a non-empty string.');
}

/**
 * Starts a multipart upload (with the SSE `write` parameters in `objectParams`) and presigns one
 * UploadPart PUT per part with Content-MD5 and Content-Length inside the signature, so the server
 * refuses a part whose bytes differ. The options must have passed assertMultipartOptions. Returns
 * the upload id and, per part, its URL and the exact headers the client must send. If presigning
 * fails, the upload is aborted. No file bytes pass through here.
 */
export async function createMultipartDirect(target: MultipartDirectTarget, options: MultipartDirectUploadOptions): Promise<MultipartDirectUpload> {
  const { client, bucket, key } = target;
  let uploadId: string | undefined;
  try {
    ({ UploadId: uploadId } = await client.send(new CreateMultipartUploadCommand({ ...target.objectParams, Bucket: bucket, Key: key })));
  } catch (error) {
    throw target.fail(error, 'start a multipart direct upload of');
  }
  if (uploadId === undefined || uploadId === '') {
    throw new StorageAccessError(`S3 service "${target.service}" could not start a multipart direct upload of "${key}": the server answered no UploadId.`);
  }
  const id = uploadId;
  try {
    const parts = await Promise.all(
      options.parts.map(async (part, index) => {
        const partNumber = index + 1;
        const command = new UploadPartCommand({
          ...target.partParams,
          Bucket: bucket,
          Key: key,
          UploadId: id,
          PartNumber: partNumber,
          ContentLength: part.byteSize,
          ContentMD5: part.checksum,
        });
        const signableHeaders = new Set(['content-length', 'content-md5']);
        const url = await getSignedUrl(client, command, { expiresIn: options.expiresIn, signableHeaders });
        // Content-Length is signed too, but a browser sets it from the body (and may not set it itself).
        return { partNumber, url, headers: { 'Content-MD5': part.checksum } };
      }),
    );
    return { uploadId: id, parts };
  } catch (error) {
    await abortMultipart(client, bucket, key, id).catch(() => undefined);
    throw target.fail(error, 'sign the parts of a multipart direct upload of');
  }
}

/**
 * Completes a multipart direct upload from the parts the server holds (ListParts, every page),
 * which must be exactly part numbers 1..partCount; returns Complete's answer for the encryption
 * check. Any failure aborts the upload, so no parts are left: IntegrityError for missing or extra
 * parts, FileNotFoundError when the upload does not exist (or is gone), else the translated S3 error.
 */
export async function completeMultipartDirect(target: MultipartDirectTarget, uploadId: string, partCount: number): Promise<EncryptionAnswer> {
  const { client, bucket, key } = target;
  const parts = await guarded(target, uploadId, 'list the parts of', () => listParts(target, uploadId, partCount));
  const problem = partProblem(parts, partCount);
  if (problem !== undefined) {
    await abortMultipart(client, bucket, key, uploadId).catch(() => undefined);
    throw new IntegrityError(
      `S3 service "${target.service}" refused to complete the multipart direct upload of "${key}": ${problem}. The upload was aborted.`,
    );
  }
  return guarded(target, uploadId, 'complete the multipart direct upload of', () =>
    client.send(
      new CompleteMultipartUploadCommand({ ...target.partParams, Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
    ),
  );
}

/** Aborts a multipart direct upload; one already gone (completed, aborted or never started) counts as aborted. */
export async function abortMultipartDirect(target: MultipartDirectTarget, uploadId: string): Promise<void> {
  try {
    await abortMultipart(target.client, target.bucket, target.key, uploadId);
  } catch (error) {
    throw target.fail(error, 'abort the multipart direct upload of');
  }
}

/** Runs a step of Complete: NoSuchUpload is FileNotFoundError (nothing to abort); any other failure aborts and is translated. */
async function guarded<T>(target: MultipartDirectTarget, uploadId: string, action: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (isNoSuchUpload(error)) {
      throw new FileNotFoundError(`S3 service "${target.service}" has no multipart upload "${uploadId}" of "${target.key}" (NoSuchUpload).`, { cause: new S3Failure(error) });
    }
    await abortMultipart(target.client, target.bucket, target.key, uploadId).catch(() => undefined);
    await discardIfAmbiguous(target.client, target.bucket, target.key, error); // a Complete that timed out may have completed
    throw target.fail(error, action);
  }
}

/** Every part the server holds, in part-number order; stops once more than `partCount` are seen. */
async function listParts(target: MultipartDirectTarget, uploadId: string, partCount: number): Promise<CompletedPart[]> {
  const { client, bucket, key } = target;
  const parts: CompletedPart[] = [];
  let marker: string | undefined;
  for (;;) {
    const page = await client.send(
      new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MaxParts: LIST_PAGE, ...(marker !== undefined && { PartNumberMarker: marker }) }),
    );
    for (const part of page.Parts ?? []) parts.push({ PartNumber: part.PartNumber, ETag: part.ETag });
    const next = page.NextPartNumberMarker;
    if (!page.IsTruncated || parts.length > partCount || next === undefined || next === marker) return parts;
    marker = next;
  }
}

/** Why the listed parts are not exactly 1..partCount (with ETags), or undefined when they are. */
function partProblem(parts: readonly CompletedPart[], partCount: number): string | undefined {
  const numbers = new Set(parts.map((part) => part.PartNumber));
  const missing: number[] = [];
  for (let n = 1; n <= partCount && missing.length < 5; n += 1) if (!numbers.has(n)) missing.push(n);
  if (missing.length > 0) return `part${missing.length > 1 ? 's' : ''} ${missing.join(', ')}${missing.length === 5 ? ', …' : ''} of ${partCount} never arrived`;
  const extra = parts.find((part) => part.PartNumber === undefined || part.PartNumber < 1 || part.PartNumber > partCount);
  if (extra !== undefined) return `the server holds part ${extra.PartNumber ?? '(unnumbered)'}, beyond the ${partCount} expected`;
  if (parts.length !== partCount) return `the server listed ${parts.length} parts, expected ${partCount}`;
  if (parts.some((part, index) => part.PartNumber !== index + 1)) return 'the server listed the parts out of order';
  if (parts.some((part) => typeof part.ETag !== 'string' || part.ETag === '')) return 'the server listed a part without an ETag';
  return undefined;
}
