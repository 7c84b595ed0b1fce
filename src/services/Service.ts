import type { Readable } from 'node:stream';

/** Bytes a service accepts: a stream (read once) or bytes in memory. */
export type UploadBody = Readable | Uint8Array;

export interface UploadOptions {
  /** Expected base64 MD5 (Rails' format). When given, a mismatch is an IntegrityError and nothing is kept. */
  checksum?: string;
  /** Declared size in bytes. More bytes than this is a FileTooLargeError; fewer is an IntegrityError. */
  byteSize?: number;
  /** Hard cap: more bytes than this is a FileTooLargeError and nothing is kept. */
  maxByteSize?: number;
  contentType?: string;
  filename?: string;
  disposition?: 'inline' | 'attachment';
  /** Custom metadata the service may store beside the object. */
  customMetadata?: Record<string, string>;
}

/** How compose stores its result (the stored type and disposition follow serving.ts, as for upload). */
export interface ComposeOptions {
  contentType?: string;
  filename?: string;
  disposition?: 'inline' | 'attachment';
  customMetadata?: Record<string, string>;
}

export interface UploadResult {
  /** base64 MD5 of the bytes stored, computed while streaming. */
  checksum: string;
  byteSize: number;
  /** Facts the blob's metadata should record (for example `encryption`). Never key material. */
  metadata?: Record<string, unknown>;
}

export interface UrlOptions {
  /** Lifetime in seconds (1 to 604800). */
  expiresIn: number;
  disposition: 'inline' | 'attachment';
  filename: string;
  contentType: string;
}

export interface DirectUploadOptions {
  /** Lifetime in seconds (1 to 604800). */
  expiresIn: number;
  /** The file's true type; the service signs the type it stores (application/octet-stream for a risky one, see serving.ts). */
  contentType: string;
  contentLength: number;
  checksum: string;
  customMetadata?: Record<string, string>;
  /** When given, the Content-Disposition is signed too; pass the same filename and disposition to headersForDirectUpload. */
  filename?: string;
  disposition?: 'inline' | 'attachment';
}

export interface DirectUploadHeaderOptions {
  /** The file's true type, as given to urlForDirectUpload. */
  contentType: string;
  checksum: string;
  filename?: string;
  disposition?: 'inline' | 'attachment';
  customMetadata?: Record<string, string>;
}

export interface MultipartDirectUploadOptions {
  /** Lifetime of the part URLs in seconds (1 to 604800). */
  expiresIn: number;
  contentType: string;
  filename?: string;
  /** Size and base64 MD5 of each part, in order; every part but the last is at least 5 MiB. */
  parts: ReadonlyArray<{ byteSize: number; checksum: string }>;
}

export interface MultipartDirectUpload {
  uploadId: string;
  /** One presigned PUT per part, with the exact headers the client must send (Content-MD5 signed). */
  parts: Array<{ partNumber: number; url: string; headers: Record<string, string> }>;
}

/** One stored object, as listObjects reports it. */
export interface StoredObject {
  key: string;
  byteSize: number;
  lastModified: Date;
}

/** A write that started and never finished: a Disk temp file (a process killed mid-write) or an S3 multipart upload. */
export interface PendingWrite {
  kind: 'temp-file' | 'multipart-upload';
  /** The temp file's name in the service's temp folder, or the S3 upload id. */
  id: string;
  /** The key being written: known for S3 multipart uploads, not for Disk temp files. */
  key?: string;
  /** When the write started: the upload's Initiated time; for a temp file its birth time where the filesystem keeps one, else its last write. */
  startedAt: Date;
  /** The service holding it (a Mirror lists its primary's and its mirrors'). Set by listPendingWrites. */
  service?: string;
}

/** Builds signed Disk URLs; the app's HTTP routes implement it (services never import http). */
export interface DiskUrlBuilder {
  download(key: string, options: UrlOptions): string;
  upload(key: string, options: DirectUploadOptions): string;
}

/** Hands each Disk service its URL builder (provided once Attache has a secret to sign with). */
export interface DiskUrlPort {
  forDisk(service: string): DiskUrlBuilder;
}

/**
 * The contract every storage service fulfils (Disk, S3, SecureS3, Mirror and user adapters).
 * Keys are validated by the service itself. Every vendor error leaves as an AttacheError.
 */
export interface StorageService {
  /** The service's name in storage.yml (also stored in `service_name`). */
  readonly name: string;

  /**
   * Stores the bytes under `key`, replacing any object there. `options.contentType` is the file's true
   * type: the service stores the type and disposition storedHeaders (serving.ts) decides. Throws
   * InvalidKeyError, ArgumentError, IntegrityError, FileTooLargeError, StorageAccessError (S3: also
   * after a timeout), EncryptionError (SecureS3), or the body stream's own error; keeps nothing on failure.
   */
  upload(key: string, body: UploadBody, options?: UploadOptions): Promise<UploadResult>;

  /** A stream of the whole object. Rejects with FileNotFoundError when missing, StorageAccessError; the stream errors with StorageAccessError if the storage stops sending. */
  download(key: string): Promise<Readable>;

  /** A stream of bytes `start` to `end` inclusive (end clamped to EOF). ArgumentError for a bad range, FileNotFoundError when missing, StorageAccessError. */
  downloadRange(key: string, start: number, end: number): Promise<Readable>;

  /** Removes the object. Idempotent: a missing object is not an error. Throws InvalidKeyError, StorageAccessError. */
  delete(key: string): Promise<void>;

  /** Removes every object whose key starts with `prefix`, taken literally (no globbing). Idempotent. Throws InvalidKeyError, StorageAccessError. */
  deletePrefixed(prefix: string): Promise<void>;

  /** Whether an object is stored under `key`. Throws InvalidKeyError, StorageAccessError; never FileNotFoundError. */
  exists(key: string): Promise<boolean>;

  /** A URL a client can GET the object from, valid for `expiresIn` seconds. */
  url(key: string, options: UrlOptions): Promise<string>;

  /** A URL a client can PUT exactly these bytes to. */
  urlForDirectUpload(key: string, options: DirectUploadOptions): Promise<string>;

  /** The headers the client must send with the direct-upload PUT. */
  headersForDirectUpload(key: string, options: DirectUploadHeaderOptions): Record<string, string>;

  /**
   * Optional: checks what the server reports about a stored object (SecureS3: its encryption, by
   * HeadObject) against this service's configuration, and returns facts for the blob's metadata
   * (`encryption: { algorithm, kmsKeyId }`). Only checks: it never deletes, since the object may be
   * another app's; the caller decides. Throws EncryptionError on a mismatch, FileNotFoundError when
   * missing, StorageAccessError. Called before a directly uploaded blob is attached.
   */
  verifyStored?(key: string): Promise<{ metadata?: Record<string, unknown> }>;

  /**
   * Optional: multipart direct uploads for large files. Starts a multipart upload (encrypted like
   * every write of the service) and presigns one PUT per part with its Content-MD5 signed.
   */
  createMultipartDirectUpload?(key: string, options: MultipartDirectUploadOptions): Promise<MultipartDirectUpload>;

  /**
   * Completes a multipart direct upload from the parts the server holds, after checking there are
   * exactly `partCount` of them; verifies the result like any write. On failure the upload is
   * aborted and nothing is left. Throws IntegrityError, EncryptionError, FileNotFoundError.
   */
  completeMultipartDirectUpload?(key: string, uploadId: string, partCount: number): Promise<void>;

  /** Aborts a multipart direct upload (idempotent). */
  abortMultipartDirectUpload?(key: string, uploadId: string): Promise<void>;

  /**
   * Every stored object, or those whose key starts with `prefix` (taken literally), fetched page by
   * page (S3 ListObjectsV2 with continuation; Disk walks root/ab/cd/ without following symlinks and
   * skips its temp folder). No order is promised; objects written or deleted meanwhile may or may not
   * appear. A Mirror lists its primary. Throws InvalidKeyError for a bad prefix (when called or on the
   * first step), StorageAccessError while iterating. Reads only.
   */
  listObjects(options?: { prefix?: string }): AsyncIterable<StoredObject>;

  /**
   * Writes that started and never finished: Disk temp files (`*.part` in `.attache-tmp`, left by a
   * killed process or an unfinished stageUpload), S3 incomplete multipart uploads (ListMultipartUploads).
   * A write in progress is listed too: judge by `startedAt`. Throws StorageAccessError while iterating. Reads only.
   */
  listPendingWrites(): AsyncIterable<PendingWrite>;

  /**
   * Removes a pending write from listPendingWrites: deletes the temp file or aborts the multipart
   * upload. Idempotent: one already gone is not an error. A write still in progress then fails with
   * StorageAccessError and stores nothing. Throws ArgumentError for a write of another kind or a
   * malformed id, StorageAccessError.
   */
  discardPendingWrite(write: PendingWrite): Promise<void>;

  /** Concatenates the source objects, in order, into `destinationKey` (stored headers as for upload). FileNotFoundError for a missing source, and then nothing is stored; StorageAccessError. */
  compose(sourceKeys: readonly string[], destinationKey: string, options?: ComposeOptions): Promise<UploadResult>;
}
