import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type CompletedPart,
  type CompleteMultipartUploadCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { FileTooLargeError, StorageAccessError } from '../../core/errors.ts';
import type { Md5Hasher } from '../../core/md5-worker.ts';
import { isNoSuchUpload } from './errors.ts';
import type { Part, PartReader } from './parts.ts';
import type { WriteTarget } from './upload.ts';

/** S3 refuses more parts than this in one multipart upload. */
export const MAX_PARTS = 10_000;

/** What a multipart upload needs besides its target: the reader, the first part (already read) and the hasher of the whole body. */
export interface MultipartBody {
  reader: PartReader;
  first: Part;
  hasher: Md5Hasher;
  /**
   * Called before the last part is sent, with the body's checksum when `checksumFirst`, else
   * without (the size alone); throws to abort instead of completing.
   */
  check(checksum: string | undefined): void;
  /** Whether the digest must be known before the last part leaves (an expected checksum to compare). */
  checksumFirst: boolean;
}

/**
 * Sends a body as a multipart upload, driving the SDK's commands directly: CreateMultipartUpload,
 * up to `queueSize` UploadParts in flight (each a part-sized Buffer, so the SDK signs its SHA-256
 * and S3 refuses altered bytes: client.ts), then CompleteMultipartUpload. Each part is hashed for
 * the whole-body MD5 on the worker while it is sent; before the last part leaves, the body is
 * `check`ed (with the digest when there is a checksum to compare), so a mismatch aborts; the digest
 * is always known before Complete. On any failure the parts in flight are cancelled
 * and the upload is aborted: no multipart upload is left behind. Returns the checksum and Complete's answer.
 */
export async function sendMultipart(target: WriteTarget, body: MultipartBody): Promise<{ checksum: string; answer: CompleteMultipartUploadCommandOutput }> {
  const { client, bucket, key } = target;
  const created = await client.send(new CreateMultipartUploadCommand({ ...target.objectParams, Bucket: bucket, Key: key }));
  const uploadId = created.UploadId;
  if (uploadId === undefined || uploadId === '') throw new StorageAccessError(`S3 could not start a multipart upload of "${key}": the server answered no UploadId.`);
  const cancel = new AbortController();
  const queue = new PartQueue(target.queueSize);
  try {
    const { checksum, parts } = await sendParts(target, uploadId, body, queue, cancel.signal);
    const answer = await client.send(
      new CompleteMultipartUploadCommand({ ...target.partParams, Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
    );
    return { checksum, answer };
  } catch (error) {
    cancel.abort();
    await queue.settle();
    // The abort runs after every part has stopped, so no part lands in an aborted upload (S3 would keep it).
    await abortMultipart(client, bucket, key, uploadId).catch(() => abortMultipart(client, bucket, key, uploadId).catch(() => undefined));
    throw error;
  }
}

async function sendParts(target: WriteTarget, uploadId: string, body: MultipartBody, queue: PartQueue, signal: AbortSignal): Promise<{ checksum: string; parts: CompletedPart[] }> {
  const { reader, hasher } = body;
  const parts: CompletedPart[] = [];
  let part = body.first;
  for (let number = 1; ; number++) {
    if (number > MAX_PARTS) {
      part.release();
      throw FileTooLargeError.exceeds(MAX_PARTS * target.partSize, `${MAX_PARTS} parts of ${target.partSize} bytes`);
    }
    hasher.update(part.bytes);
    const hashed = hasher.settled();
    hashed.catch(() => undefined); // awaited below once the part is sent; a failed send must not leave it unhandled
    // With a checksum to compare, the last part waits for the digest, so a mismatch aborts. Without
    // one, only the size can differ (known now); the digest then has until Complete to finish.
    let digest: Promise<string> | undefined;
    if (part.last) {
      digest = hasher.digest();
      digest.catch(() => undefined); // awaited below
      body.check(body.checksumFirst ? await digest : undefined);
    }
    const current = part;
    await queue.room();
    queue.add(
      uploadPart(target, uploadId, number, current.bytes, signal).then(async (etag) => {
        parts[number - 1] = { PartNumber: number, ETag: etag };
        await hashed;
      }).finally(() => current.release()),
    );
    if (digest !== undefined) {
      const checksum = await digest;
      await queue.settle(true);
      return { checksum, parts };
    }
    // The next part is read while up to queueSize parts are in flight (as lib-storage does): queueSize + 1 buffers.
    part = await reader.next();
  }
}

async function uploadPart(target: WriteTarget, uploadId: string, number: number, bytes: Buffer, signal: AbortSignal): Promise<string | undefined> {
  const command = new UploadPartCommand({
    ...target.partParams,
    Bucket: target.bucket,
    Key: target.key,
    UploadId: uploadId,
    PartNumber: number,
    Body: bytes,
    ContentLength: bytes.length,
  });
  const answer = await target.client.send(command, { abortSignal: signal });
  return answer.ETag;
}

/** Parts in flight: at most `size`; the first failure is kept and thrown by the next room() or settle(true). */
class PartQueue {
  readonly #running = new Set<Promise<void>>();
  #failure: { error: unknown } | undefined;

  constructor(readonly size: number) {}

  add(sending: Promise<void>): void {
    const tracked = sending.catch((error: unknown) => void (this.#failure ??= { error })).finally(() => this.#running.delete(tracked));
    this.#running.add(tracked);
  }

  /** Waits until fewer than `size` parts are in flight; throws the first failure. */
  async room(): Promise<void> {
    while (this.#failure === undefined && this.#running.size >= this.size) await Promise.race(this.#running);
    this.#throwFailure();
  }

  /** Waits for every part in flight; with `strict`, stops at the first failure and throws it. */
  async settle(strict = false): Promise<void> {
    while (this.#running.size > 0 && !(strict && this.#failure !== undefined)) await Promise.race(this.#running);
    if (strict) this.#throwFailure();
  }

  #throwFailure(): void {
    if (this.#failure !== undefined) throw this.#failure.error;
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
