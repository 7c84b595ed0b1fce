import { mkdir, open, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inspect } from 'node:util';
import { assertDeclared, byteLimit, isByteCount } from '../../core/checksum.ts';
import { toReadable } from '../../core/streams.ts';
import { AttacheError, ArgumentError, ConfigurationError, FileNotFoundError, StorageAccessError } from '../../core/errors.ts';
import { assertValidKey } from '../../core/keys.ts';
import type {
  DirectUploadHeaderOptions,
  DirectUploadOptions,
  DiskUrlBuilder,
  DiskUrlPort,
  PendingWrite,
  StorageService,
  StoredObject,
  UploadBody,
  UploadOptions,
  UploadResult,
  UrlOptions,
} from '../Service.ts';
import { storedHeaders, storedUploadHeaders } from '../../content/serving.ts';
import { deletePrefixed } from './delete-prefixed.ts';
import { DiskLayout, fsCode, isMissing } from './paths.ts';
import { discardTempFile, storedObjects, tempFiles } from './pending.ts';
import { StagedFile, type StagedUpload } from './staged.ts';
import { writeTemp } from './write-temp.ts';

/** Read in 512 KiB chunks: fewer, larger reads stream files markedly faster than the 64 KiB default. */
const READ_CHUNK = 512 * 1024;

export interface DiskServiceOptions {
  name: string;
  /** Relative paths resolve against the current directory. */
  root: string;
  public?: boolean;
  urls?: DiskUrlBuilder;
}

/**
 * Stores each object as a file at `root/ab/cd/<key>`, the ActiveStorage Disk layout.
 * Writes go to a temp file inside the root and are renamed into place, so a failed write leaves nothing.
 */
export class DiskService implements StorageService {
  readonly name: string;
  readonly root: string;
  readonly public: boolean;
  readonly #layout: DiskLayout;
  readonly #urls: DiskUrlBuilder | undefined;

  constructor(options: DiskServiceOptions) {
    if (typeof options.root !== 'string' || options.root.trim() === '') throw ConfigurationError.invalidSetting(options.name, 'root', 'a non-empty path');
    this.name = options.name;
    this.#layout = new DiskLayout(options.root);
    this.root = this.#layout.root;
    this.public = options.public ?? false;
    this.#urls = options.urls;
  }

  /**
   * Returns the stored checksum and size. Throws InvalidKeyError, ArgumentError, IntegrityError,
   * FileTooLargeError or StorageAccessError; an error of the body stream itself is rethrown unchanged.
   * Keeps nothing on failure (an existing object under `key` stays as it was).
   */
  async upload(key: string, body: UploadBody, options: UploadOptions = {}): Promise<UploadResult> {
    const staged = await this.stageUpload(key, body, options);
    await staged.commit();
    return { checksum: staged.checksum, byteSize: staged.byteSize };
  }

  /**
   * Writes and verifies the bytes as upload() does, into a temp file, but leaves them out of sight
   * until `commit()` renames them into place, so a caller can check something (a blob row under a
   * lock) in between; `discard()` drops them. The key is validated before a byte is read. Throws
   * as upload() does and then keeps nothing. A staged file never committed nor discarded is a pending write.
   */
  async stageUpload(key: string, body: UploadBody, options: UploadOptions = {}): Promise<StagedUpload> {
    const target = this.#layout.pathFor(key);
    const limit = byteLimit(options);
    return this.#stage(key, target, toReadable(body), limit, options, body instanceof Uint8Array ? body.byteLength : undefined);
  }

  /** Returns a stream of the whole file. Throws FileNotFoundError when missing. */
  async download(key: string): Promise<Readable> {
    const { handle } = await this.#openForRead(key);
    return this.#guarded(handle.createReadStream({ highWaterMark: READ_CHUNK }));
  }

  /** Returns bytes start..end inclusive (end is clamped to EOF). Throws ArgumentError for a bad or unsatisfiable range, FileNotFoundError when missing. */
  async downloadRange(key: string, start: number, end: number): Promise<Readable> {
    this.#layout.pathFor(key);
    if (!isByteCount(start) || !isByteCount(end) || end < start) {
      throw new ArgumentError(`Invalid byte range ${String(start)}-${String(end)}: expected integers with 0 <= start <= end.`);
    }
    const { handle, size } = await this.#openForRead(key);
    if (start >= size) {
      await handle.close();
      throw new ArgumentError(`Range not satisfiable: byte ${start} is past the end of a ${size}-byte file.`);
    }
    return this.#guarded(handle.createReadStream({ start, end, highWaterMark: READ_CHUNK }));
  }

  /** Removes the file. Idempotent. Throws InvalidKeyError or StorageAccessError. */
  async delete(key: string): Promise<void> {
    const file = this.#layout.pathFor(key);
    try {
      await unlink(file);
    } catch (error) {
      // EISDIR: the key is only a folder of other keys, so no object is stored under it.
      if (!['ENOENT', 'ENOTDIR', 'EISDIR'].includes(fsCode(error) ?? '')) throw this.#accessError('delete a file', error);
    }
  }

  /** Removes every file whose key starts with `prefix`, taken literally. Idempotent. Throws InvalidKeyError or StorageAccessError. */
  async deletePrefixed(prefix: string): Promise<void> {
    await deletePrefixed(this.#layout, prefix);
  }

  /** Returns whether a file is stored under `key`. Throws InvalidKeyError, never FileNotFoundError. */
  async exists(key: string): Promise<boolean> {
    return (await this.size(key)) !== null;
  }

  /** The stored file's size in bytes, or null when nothing is stored under `key`. Throws InvalidKeyError, StorageAccessError. */
  async size(key: string): Promise<number | null> {
    const file = this.#layout.pathFor(key);
    try {
      const info = await stat(file);
      return info.isFile() ? info.size : null;
    } catch (error) {
      if (isMissing(error)) return null;
      throw this.#accessError('check a file', error);
    }
  }


  /** Returns a signed download URL. Throws ConfigurationError when no URL builder was configured. */
  async url(key: string, options: UrlOptions): Promise<string> {
    this.#layout.pathFor(key);
    return this.#urlBuilder().download(key, options);
  }

  /**
   * Returns a signed direct-upload URL whose signed type is the stored one (storedHeaders), the type
   * headersForDirectUpload tells the client to send. Throws ConfigurationError when no URL builder was configured.
   */
  async urlForDirectUpload(key: string, options: DirectUploadOptions): Promise<string> {
    this.#layout.pathFor(key);
    return this.#urlBuilder().upload(key, { ...options, contentType: storedHeaders(options).contentType });
  }

  /** Returns the stored Content-Type and Content-Disposition (storedHeaders: a risky type as application/octet-stream) and Content-MD5. Throws InvalidKeyError. */
  headersForDirectUpload(key: string, options: DirectUploadHeaderOptions): Record<string, string> {
    this.#layout.pathFor(key);
    return storedUploadHeaders(options);
  }

  /** Returns the checksum and size of the concatenation. Throws FileNotFoundError for a missing source and then stores nothing. */
  async compose(sourceKeys: readonly string[], destinationKey: string): Promise<UploadResult> {
    const target = this.#layout.pathFor(destinationKey);
    for (const key of sourceKeys) this.#layout.pathFor(key);
    const staged = await this.#stage(destinationKey, target, Readable.from(this.#concatenate(sourceKeys)), undefined, {});
    await staged.commit();
    return { checksum: staged.checksum, byteSize: staged.byteSize };
  }

  /** Every regular file under `prefix` (literal) with its size and mtime; symlinks and the temp folder are skipped. Throws InvalidKeyError (at once), StorageAccessError. */
  listObjects(options: { prefix?: string } = {}): AsyncIterable<StoredObject> {
    const prefix = options.prefix ?? '';
    if (prefix !== '') assertValidKey(prefix, 'prefix');
    return storedObjects(this.#layout, prefix, this.name);
  }

  /** The temp files of writes that never reached their rename (killed processes, unfinished stageUpload). Throws StorageAccessError. */
  listPendingWrites(): AsyncIterable<PendingWrite> {
    return tempFiles(this.#layout, this.name);
  }

  /** Deletes a listed temp file. Idempotent. Throws ArgumentError for another kind or a malformed id, StorageAccessError. */
  discardPendingWrite(write: PendingWrite): Promise<void> {
    return discardTempFile(this.#layout, write, this.name);
  }

  toJSON(): { name: string; adapter: 'Disk'; root: string } {
    return { name: this.name, adapter: 'Disk', root: this.root };
  }

  [inspect.custom](): { name: string; adapter: 'Disk'; root: string } {
    return this.toJSON();
  }

  /** The one write path (upload, stageUpload, compose): write and measure into a temp file (writeTemp), verify; the StagedFile renames it into place. */
  async #stage(key: string, target: string, source: Readable, limit: number | undefined, expected: UploadOptions, sizeHint?: number): Promise<StagedFile> {
    const temp = this.#layout.tempPath();
    try {
      const limits = { maxByteSize: limit, expectedBytes: expected.byteSize ?? sizeHint };
      const { checksum, byteSize } = await writeTemp(this.#layout, temp, source, limits, (action, cause) => this.#accessError(action, cause));
      assertDeclared(key, { checksum, byteSize }, expected);
      return new StagedFile(checksum, byteSize, temp, target, (action, cause) => this.#accessError(action, cause));
    } catch (error) {
      // Every error here is already typed, or is the body stream's own: only the temp file needs undoing.
      await rm(temp, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  async #openForRead(key: string): Promise<{ handle: FileHandle; size: number }> {
    const file = this.#layout.pathFor(key);
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      throw isMissing(error) ? FileNotFoundError.forKey(key, error) : this.#accessError('open a file', error);
    }
    const info = await handle.stat().catch(async (error: unknown) => {
      await handle.close();
      throw this.#accessError('inspect a file', error);
    });
    if (info.isFile()) return { handle, size: info.size };
    await handle.close();
    throw FileNotFoundError.forKey(key);
  }

  async *#concatenate(keys: readonly string[]): AsyncGenerator<Buffer> {
    for (const key of keys) {
      const { handle } = await this.#openForRead(key);
      yield* this.#guarded(handle.createReadStream({ highWaterMark: READ_CHUNK }));
    }
  }

  /** Translates a read stream's fs errors into StorageAccessError; destroying the result closes the file. */
  #guarded(stream: Readable): Readable {
    const out = new PassThrough();
    stream.once('error', (error) => out.destroy(this.#accessError('read a file', error)));
    out.once('close', () => stream.destroy());
    return stream.pipe(out);
  }

  #urlBuilder(): DiskUrlBuilder {
    if (this.#urls) return this.#urls;
    throw new ConfigurationError(`Service "${this.name}" cannot build URLs: pass a secret to Attache.init so Disk URLs can be signed.`);
  }

  #accessError(action: string, cause: unknown): StorageAccessError {
    return new StorageAccessError(`Disk service "${this.name}" could not ${action}.`, { cause });
  }
}
