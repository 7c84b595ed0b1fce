import { ConfigurationError, EncryptionError } from '../../core/errors.ts';
import { translateS3Error } from './errors.ts';
import { rewriteObject, type InPlaceSupport, type RewriteResult } from './rewrite.ts';
import { S3Targets } from './targets.ts';
import { assertValidKey } from '../../core/keys.ts';
import type { DirectUploadHeaderOptions, DirectUploadOptions, MultipartDirectUpload, MultipartDirectUploadOptions, UrlOptions } from '../Service.ts';
import { answersEncryption, describeEncryption, encryptionFacts, encryptionMismatch, type Encryption, type EncryptionAnswer } from './encryption.ts';
import { S3Service, type S3ServiceOptions } from './S3Service.ts';

export interface SecureS3ServiceOptions extends S3ServiceOptions {
  /** Applied to every write; see encryption.ts. */
  encryption: Encryption;
}

/**
 * S3 that encrypts every object (SSE-KMS by default, with the configured key) on every write path,
 * and fails closed: after each write it reads the server's answer (or a HeadObject when the answer
 * is silent) and, if the algorithm or key differs from what was asked, deletes the object and
 * throws EncryptionError. Blobs record `metadata.encryption = { algorithm, kmsKeyId }`.
 */
export class SecureS3Service extends S3Service {
  readonly #encryption: Encryption;
  readonly #options: SecureS3ServiceOptions;
  readonly #inPlace: InPlaceSupport = {};

  constructor(options: SecureS3ServiceOptions) {
    if (options.public) {
      throw new ConfigurationError(`Service "${options.name}" (SecureS3) cannot be public: encrypted objects are served only through signed URLs.`);
    }
    super(options);
    this.#encryption = options.encryption;
    this.#options = options;
  }

  /** The KMS key id every write names (undefined for SSE-S3, SSE-C, or SSE-KMS with the bucket's default key). */
  get kmsKeyId(): string | undefined {
    return this.#encryption.mode === 'server' ? this.#encryption.kmsKeyId : undefined;
  }

  /**
   * Puts the stored object under `kmsKeyId` (default: the configured key), keeping its bytes and
   * headers: nothing when the server already reports that key, else in place (UpdateObjectEncryption
   * after a probe proved it, or CopyObject), else a streaming rewrite to the same key, read back and
   * checked against `checksum`. Reads of the object keep working throughout (the old key stays in
   * KMS). Never deletes: a rewrite that does not take is EncryptionError with the object intact.
   * Throws ConfigurationError (SSE-C or SSE-S3, or no key), IntegrityError (size or MD5 not as
   * expected), FileNotFoundError, StorageAccessError. Idempotent.
   */
  async rewriteEncryption(key: string, options: { kmsKeyId?: string; checksum: string | null; byteSize: number }): Promise<RewriteResult> {
    assertValidKey(key);
    const encryption = this.#rewriteEncryption(options.kmsKeyId);
    const targets = new S3Targets(this.#options, () => encryption, { partSize: this.partSize });
    const fail = (error: unknown, action: string) => translateS3Error(error, { service: this.name, action, key });
    const target = { client: this.client, bucket: this.bucket, key, encryption, write: targets.write(key, {}), read: targets.read(key), fail };
    return rewriteObject(target, options, this.#inPlace);
  }

  #rewriteEncryption(kmsKeyId: string | undefined): Extract<Encryption, { mode: 'server' }> {
    const current = this.#encryption;
    if (current.mode !== 'server' || current.algorithm === 'AES256') {
      throw new ConfigurationError(`Service "${this.name}" does not encrypt with SSE-KMS: there is no KMS key to re-encrypt under.`);
    }
    const key = kmsKeyId ?? current.kmsKeyId;
    if (key === undefined || key === '') throw ConfigurationError.missingSetting(this.name, 'kms_key_id');
    return { ...current, kmsKeyId: key };
  }

  protected override get encryption(): Encryption {
    return this.#encryption;
  }

  /** A presigned GET. Throws ConfigurationError in SSE-C mode: a browser cannot send the key, so such objects go through the app's proxy route. */
  override async url(key: string, options: UrlOptions): Promise<string> {
    this.#refuseCustomerKey('url()');
    return super.url(key, options);
  }

  /** A presigned PUT that also signs the SSE headers. ConfigurationError in SSE-C mode (the key would go to the client). */
  override async urlForDirectUpload(key: string, options: DirectUploadOptions): Promise<string> {
    this.#refuseCustomerKey('urlForDirectUpload()');
    return super.urlForDirectUpload(key, options);
  }

  /** The direct-upload headers, SSE headers included. ConfigurationError in SSE-C mode. */
  override headersForDirectUpload(key: string, options: DirectUploadHeaderOptions): Record<string, string> {
    this.#refuseCustomerKey('headersForDirectUpload()');
    return super.headersForDirectUpload(key, options);
  }

  /** A multipart direct upload whose CreateMultipartUpload carries the SSE headers. ConfigurationError in SSE-C mode. */
  override async createMultipartDirectUpload(key: string, options: MultipartDirectUploadOptions): Promise<MultipartDirectUpload> {
    this.#refuseCustomerKey('createMultipartDirectUpload()');
    return super.createMultipartDirectUpload(key, options);
  }

  /** Completes it and fails closed (the object deleted on an encryption mismatch). ConfigurationError in SSE-C mode. */
  override async completeMultipartDirectUpload(key: string, uploadId: string, partCount: number): Promise<void> {
    this.#refuseCustomerKey('completeMultipartDirectUpload()');
    return super.completeMultipartDirectUpload(key, uploadId, partCount);
  }

  /** Aborts it (idempotent). ConfigurationError in SSE-C mode, where no multipart direct upload can exist. */
  override async abortMultipartDirectUpload(key: string, uploadId: string): Promise<void> {
    this.#refuseCustomerKey('abortMultipartDirectUpload()');
    return super.abortMultipartDirectUpload(key, uploadId);
  }

  /**
   * Checks what the server reports about a stored object (HeadObject) against the configured
   * encryption, and returns the blob metadata facts. Only checks: it never deletes, because the
   * object may belong to a Rails app; the caller decides. Throws EncryptionError when the algorithm
   * or key differs (or the server reports none), FileNotFoundError when missing, StorageAccessError.
   */
  async verifyStored(key: string): Promise<{ metadata: { encryption: { algorithm: string; kmsKeyId?: string } } }> {
    assertValidKey(key);
    const reported = await this.head(key);
    const mismatch = encryptionMismatch(this.#encryption, reported);
    if (mismatch !== undefined) throw new EncryptionError(`SecureS3 service "${this.name}" found "${key}" not encrypted as configured: ${mismatch}. The object was left in place.`);
    return { metadata: { encryption: encryptionFacts(this.#encryption, reported) } };
  }

  /** Fail closed after attache's own writes: anything but a confirmed match (a mismatch, a silent server, a failed HEAD) deletes the object and throws. */
  protected override async confirmWrite(key: string, answer: EncryptionAnswer): Promise<{ encryption: { algorithm: string; kmsKeyId?: string } }> {
    let confirmed: EncryptionAnswer;
    try {
      confirmed = answersEncryption(answer) ? answer : await this.head(key);
    } catch (error) {
      await this.delete(key).catch(() => undefined);
      throw error;
    }
    const mismatch = encryptionMismatch(this.#encryption, confirmed);
    if (mismatch === undefined) return { encryption: encryptionFacts(this.#encryption, confirmed) };
    const deleted = await this.delete(key).then(() => true, () => false);
    throw new EncryptionError(
      `SecureS3 service "${this.name}" refused "${key}": ${mismatch}. ${deleted ? 'The object was deleted.' : 'Deleting the object failed too: remove it by hand.'}`,
    );
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), adapter: 'SecureS3', encryption: describeEncryption(this.#encryption) };
  }

  #refuseCustomerKey(operation: string): void {
    if (this.#encryption.mode === 'customer') {
      throw new ConfigurationError(
        `Service "${this.name}" uses SSE-C: ${operation} is not available, because a client cannot send the key. Serve SSE-C objects through the app's proxy route.`,
      );
    }
  }
}
