import { DeleteObjectCommand, HeadObjectCommand, type HeadObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { ArgumentError, FileNotFoundError } from '../../core/errors.ts';
import { assertValidKey } from '../../core/keys.ts';
import { assertExpiresIn } from '../../signing/MessageVerifier.ts';
import type {
  DirectUploadHeaderOptions,
  DirectUploadOptions,
  MultipartDirectUpload,
  MultipartDirectUploadOptions,
  PendingWrite,
  StorageService,
  StoredObject,
  UploadBody,
  UploadOptions,
  UploadResult,
  UrlOptions,
} from '../Service.ts';
import { copyCompose, copyPlan } from './compose.ts';
import { concatenate, getObject, measureObject } from './download.ts';
import { sseParams, type Encryption, type EncryptionAnswer } from './encryption.ts';
import type { WriteOptions } from './object-params.ts';
import { translateS3Error } from './errors.ts';
import { abortPending, deleteUnder, multipartUploads, storedObjects } from './listing.ts';
import {
  abortMultipartDirect,
  assertMultipartOptions,
  assertPartCount,
  assertUploadId,
  completeMultipartDirect,
  createMultipartDirect,
} from './multipart-direct.ts';
import { isByteCount } from '../../core/checksum.ts';
import { S3Targets, type S3ServiceOptions } from './targets.ts';
import { writeObject, type Written } from './upload.ts';
import { directUploadHeaders, objectUrl, presignedGet, presignedPut } from './urls.ts';

export type { S3ServiceOptions } from './targets.ts';

const MIB = 1024 * 1024;

/**
 * Stores objects in an S3 bucket (AWS or S3-compatible). Every request's SSE parameters come
 * from `sseParams` (encryption.ts); every SDK error leaves through `translateS3Error` (errors.ts).
 */
export class S3Service implements StorageService {
  readonly name: string;
  readonly bucket: string;
  readonly client: S3Client;
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly public: boolean;
  readonly multipartThreshold: number;
  readonly partSize: number;
  readonly #targets: S3Targets;

  constructor(options: S3ServiceOptions) {
    this.name = options.name;
    this.bucket = options.bucket;
    this.client = options.client;
    this.region = options.region;
    this.endpoint = options.endpoint;
    this.public = options.public ?? false;
    this.multipartThreshold = options.multipartThreshold ?? 100 * MIB;
    this.partSize = Math.min(options.partSize ?? 8 * MIB, this.multipartThreshold);
    this.#targets = new S3Targets(options, () => this.encryption, { partSize: this.partSize });
  }

  /** The encryption every write applies: none for plain S3 (SecureS3Service overrides). */
  protected get encryption(): Encryption | undefined {
    return undefined;
  }

  /**
   * Returns the MD5 and size measured while streaming (never an ETag). Throws InvalidKeyError, ArgumentError, IntegrityError,
   * FileTooLargeError, StorageAccessError or EncryptionError; the body's own error unchanged. Keeps nothing on failure.
   */
  async upload(key: string, body: UploadBody, options: UploadOptions = {}): Promise<UploadResult> {
    assertValidKey(key);
    return this.#confirmed(key, await writeObject(this.#targets.write(key, options), body, options));
  }

  /** Returns a stream of the object. Throws FileNotFoundError when missing; a failing stream errors with StorageAccessError. */
  async download(key: string): Promise<Readable> {
    assertValidKey(key);
    return getObject(this.#targets.read(key));
  }

  /** Returns bytes start..end inclusive (end clamped to EOF). Throws ArgumentError for a bad or unsatisfiable range, FileNotFoundError when missing. */
  async downloadRange(key: string, start: number, end: number): Promise<Readable> {
    assertValidKey(key);
    if (!isByteCount(start) || !isByteCount(end) || end < start) {
      throw new ArgumentError(`Invalid byte range ${String(start)}-${String(end)}: expected integers with 0 <= start <= end.`);
    }
    return getObject(this.#targets.read(key), { start, end });
  }

  /** Removes the object. Idempotent. Throws InvalidKeyError or StorageAccessError. */
  async delete(key: string): Promise<void> {
    assertValidKey(key);
    await this.request('delete', key, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
  }

  /** Removes every object whose key starts with `prefix` (literally: S3 prefixes never glob), a page of ≤1000 at a time. Idempotent. */
  async deletePrefixed(prefix: string): Promise<void> {
    assertValidKey(prefix, 'prefix');
    await deleteUnder(this.#targets.list(), prefix);
  }

  /** Every object (ListObjectsV2, 1000 a page) under `prefix`, literally. Throws InvalidKeyError at once, StorageAccessError while iterating. */
  listObjects(options: { prefix?: string } = {}): AsyncIterable<StoredObject> {
    const prefix = options.prefix ?? '';
    if (prefix !== '') assertValidKey(prefix, 'prefix');
    return storedObjects(this.#targets.list(), prefix);
  }

  /** The bucket's incomplete multipart uploads (ListMultipartUploads), attache's and anyone's. Throws StorageAccessError while iterating. */
  listPendingWrites(): AsyncIterable<PendingWrite> {
    return multipartUploads(this.#targets.list());
  }

  /** Aborts a listed multipart upload (no SSE key needed). Idempotent. Throws ArgumentError for another kind or a write without id and key, StorageAccessError. */
  async discardPendingWrite(write: PendingWrite): Promise<void> {
    await abortPending(this.#targets.list(), write);
  }

  /** Returns whether the object exists (HeadObject). Throws InvalidKeyError or StorageAccessError, never FileNotFoundError. */
  async exists(key: string): Promise<boolean> {
    assertValidKey(key);
    try {
      await this.head(key);
      return true;
    } catch (error) {
      if (error instanceof FileNotFoundError) return false;
      throw error;
    }
  }

  /** A presigned GET (disposition and type signed) or, for a public service, the plain object URL. ArgumentError for a bad expiresIn, before any SDK call. */
  async url(key: string, options: UrlOptions): Promise<string> {
    assertValidKey(key);
    assertExpiresIn(options.expiresIn);
    if (this.public) return objectUrl({ bucket: this.bucket, region: this.region, endpoint: this.endpoint, forcePathStyle: this.#targets.forcePathStyle }, key);
    return this.request('sign a URL for', key, () => presignedGet(this.#targets.url(key), options));
  }

  /** A presigned PUT signing Content-Type, Content-Length, Content-MD5 and the SSE headers. ArgumentError for bad options, before any SDK call. */
  async urlForDirectUpload(key: string, options: DirectUploadOptions): Promise<string> {
    assertValidKey(key);
    return this.request('sign a direct upload for', key, () => presignedPut(this.#targets.url(key), options));
  }

  /** The headers the direct-upload PUT must carry: type, MD5, disposition (with a filename), metadata and the SSE headers. */
  headersForDirectUpload(key: string, options: DirectUploadHeaderOptions): Record<string, string> {
    assertValidKey(key);
    return directUploadHeaders(this.#targets.policy(), options);
  }

  /**
   * Starts a multipart direct upload (CreateMultipartUpload with the type, disposition, `upload`
   * extras and SSE `write` parameters of every write) and presigns one UploadPart PUT per part with
   * its Content-MD5 and Content-Length signed. InvalidKeyError / ArgumentError before any SDK call.
   */
  async createMultipartDirectUpload(key: string, options: MultipartDirectUploadOptions): Promise<MultipartDirectUpload> {
    assertValidKey(key);
    assertMultipartOptions(options);
    return createMultipartDirect(this.#targets.multipart(key, options), options);
  }

  /**
   * Completes a multipart direct upload whose parts must be exactly 1..partCount, then checks the
   * result like any write (SecureS3 fails closed). On failure the upload is aborted: IntegrityError,
   * EncryptionError (object deleted), FileNotFoundError (no such upload), StorageAccessError.
   */
  async completeMultipartDirectUpload(key: string, uploadId: string, partCount: number): Promise<void> {
    assertValidKey(key);
    assertUploadId(uploadId);
    assertPartCount(partCount);
    const answer = await completeMultipartDirect(this.#targets.multipart(key), uploadId, partCount);
    await this.confirmWrite(key, answer);
  }

  /** Aborts a multipart direct upload. Idempotent: an upload already gone is not an error. */
  async abortMultipartDirectUpload(key: string, uploadId: string): Promise<void> {
    assertValidKey(key);
    assertUploadId(uploadId);
    await abortMultipartDirect(this.#targets.multipart(key), uploadId);
  }

  /**
   * Concatenates the sources into `destinationKey`: server-side with UploadPartCopy when S3 allows it
   * (every part but the last ≥ 5 MiB), else by streaming them through the upload path. Returns the
   * MD5 of the stored result, read back through Measure. FileNotFoundError for a missing source, and then nothing is stored.
   */
  async compose(sourceKeys: readonly string[], destinationKey: string, options: WriteOptions = {}): Promise<UploadResult> {
    assertValidKey(destinationKey);
    for (const key of sourceKeys) assertValidKey(key);
    const sources = [];
    for (const key of sourceKeys) sources.push({ key, size: (await this.head(key)).ContentLength ?? 0 });
    const target = this.#targets.write(destinationKey, options);
    const plan = copyPlan(sources);
    if (plan === undefined) {
      const bytes = Readable.from(concatenate(sourceKeys.map((key) => this.#targets.read(key))), { objectMode: false });
      return this.#confirmed(destinationKey, await writeObject(target, bytes, {}));
    }
    const answer = await copyCompose({ ...target, copySourceParams: sseParams(this.encryption, 'copySource') }, plan);
    const metadata = await this.confirmWrite(destinationKey, answer);
    return { ...(await measureObject(this.#targets.read(destinationKey))), ...(metadata && { metadata }) };
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, adapter: 'S3', bucket: this.bucket, region: this.region, ...(this.endpoint !== undefined && { endpoint: this.endpoint }), public: this.public };
  }

  [inspect.custom](): Record<string, unknown> {
    return this.toJSON();
  }

  /** Checks a write's answer and returns facts for the blob's metadata. Plain S3 checks nothing; SecureS3 fails closed here. */
  protected async confirmWrite(_key: string, _answer: EncryptionAnswer): Promise<Record<string, unknown> | undefined> {
    return undefined;
  }

  /** HeadObject with the SSE `read` parameters. Throws FileNotFoundError when missing. */
  protected async head(key: string): Promise<HeadObjectCommandOutput> {
    return this.request('inspect', key, () => this.client.send(new HeadObjectCommand({ ...sseParams(this.encryption, 'read'), Bucket: this.bucket, Key: key })));
  }

  /** Runs an SDK call; its error leaves as an AttacheError (errors.ts). */
  protected async request<T>(action: string, key: string | undefined, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw translateS3Error(error, { service: this.name, action, key });
    }
  }

  async #confirmed(key: string, written: Written): Promise<UploadResult> {
    const metadata = await this.confirmWrite(key, written.answer);
    return { checksum: written.checksum, byteSize: written.byteSize, ...(metadata && { metadata }) };
  }

}
