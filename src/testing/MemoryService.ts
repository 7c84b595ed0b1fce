import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inspect } from 'node:util';
import { assertDeclared, byteLimit, isByteCount, md5Base64, Measure } from '../core/checksum.ts';
import { ArgumentError, FileNotFoundError } from '../core/errors.ts';
import { assertValidKey } from '../core/keys.ts';
import { toReadable } from '../core/streams.ts';
import { storedUploadHeaders } from '../content/serving.ts';
import type { AdapterDefinition } from '../services/registry.ts';
import type { DirectUploadHeaderOptions, DirectUploadOptions, PendingWrite, StorageService, StoredObject, UploadBody, UploadOptions, UploadResult, UrlOptions } from '../services/Service.ts';

/**
 * Keeps every object in a Map, for app tests (adapter `Memory`). It validates keys, sizes and
 * checksums exactly as Disk and S3 do and passes the same contract suite; nothing survives the
 * process. Its URLs (`memory://service/key`) name the object but cannot be fetched: serve
 * Memory blobs over HTTP with `blob.proxyUrl()`.
 */
export class MemoryService implements StorageService {
  readonly name: string;
  readonly #objects = new Map<string, Buffer>();
  readonly #modified = new Map<string, Date>();

  constructor(name = 'memory') {
    this.name = name;
  }

  /** Returns the stored checksum and size. Throws InvalidKeyError, ArgumentError, IntegrityError, FileTooLargeError; a body stream's error is rethrown unchanged. Keeps nothing on failure. */
  async upload(key: string, body: UploadBody, options: UploadOptions = {}): Promise<UploadResult> {
    assertValidKey(key);
    const measure = new Measure({ maxByteSize: byteLimit(options) });
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk);
        done();
      },
    });
    await pipeline(toReadable(body), measure, sink);
    assertDeclared(key, measure, options);
    this.#store(key, Buffer.concat(chunks));
    return { checksum: measure.checksum, byteSize: measure.byteSize };
  }

  /** Returns a stream of a copy of the object. Throws FileNotFoundError when missing. */
  async download(key: string): Promise<Readable> {
    return streamOf(this.#get(key));
  }

  /** Returns bytes start..end inclusive (end clamped to the end). Throws ArgumentError for a bad or unsatisfiable range, FileNotFoundError when missing. */
  async downloadRange(key: string, start: number, end: number): Promise<Readable> {
    assertValidKey(key);
    if (!isByteCount(start) || !isByteCount(end) || end < start) {
      throw new ArgumentError(`Invalid byte range ${String(start)}-${String(end)}: expected integers with 0 <= start <= end.`);
    }
    const data = this.#get(key);
    if (start >= data.length) throw new ArgumentError(`Range not satisfiable: byte ${start} is past the end of a ${data.length}-byte object.`);
    return streamOf(data.subarray(start, end + 1));
  }

  /** Removes the object. Idempotent. Throws InvalidKeyError. */
  async delete(key: string): Promise<void> {
    assertValidKey(key);
    this.#objects.delete(key);
    this.#modified.delete(key);
  }

  /** Removes every object whose key starts with `prefix`, taken literally. Idempotent. Throws InvalidKeyError. */
  async deletePrefixed(prefix: string): Promise<void> {
    assertValidKey(prefix, 'prefix');
    for (const key of [...this.#objects.keys()]) if (key.startsWith(prefix)) await this.delete(key);
  }

  /** Every stored object under `prefix` (literal). Throws InvalidKeyError for a bad prefix. */
  listObjects(options: { prefix?: string } = {}): AsyncIterable<StoredObject> {
    if (options.prefix !== undefined) assertValidKey(options.prefix, 'prefix');
    const found = [...this.#objects].filter(([key]) => key.startsWith(options.prefix ?? ''));
    const modified = this.#modified;
    return (async function* () {
      for (const [key, data] of found) yield { key, byteSize: data.length, lastModified: modified.get(key)! };
    })();
  }

  /** None: a Memory write is one step, it never leaves an unfinished write. */
  async *listPendingWrites(): AsyncGenerator<PendingWrite> {}

  /** Nothing to discard (see listPendingWrites). Throws ArgumentError for a write of an unknown kind. */
  async discardPendingWrite(write: PendingWrite): Promise<void> {
    if (write?.kind !== 'temp-file' && write?.kind !== 'multipart-upload') throw new ArgumentError('Not a pending write.');
  }

  /** Whether an object is stored under `key`. Throws InvalidKeyError. */
  async exists(key: string): Promise<boolean> {
    assertValidKey(key);
    return this.#objects.has(key);
  }

  /** Returns `memory://<service>/<key>`: a name for the object in assertions, not a fetchable URL. */
  async url(key: string, options: UrlOptions): Promise<string> {
    assertValidKey(key);
    return `memory://${encodeURIComponent(this.name)}/${encodeURI(key)}?disposition=${options.disposition}`;
  }

  /** Returns `memory://<service>/<key>`; nothing can PUT to it (direct uploads need Disk or S3). */
  async urlForDirectUpload(key: string, _options: DirectUploadOptions): Promise<string> {
    assertValidKey(key);
    return `memory://${encodeURIComponent(this.name)}/${encodeURI(key)}`;
  }

  /** Returns the headers Disk would ask for: the stored Content-Type and Content-Disposition (storedHeaders) and Content-MD5. */
  headersForDirectUpload(key: string, options: DirectUploadHeaderOptions): Record<string, string> {
    assertValidKey(key);
    return storedUploadHeaders(options);
  }

  /** Returns the checksum and size of the concatenation. Throws FileNotFoundError for a missing source and then stores nothing. */
  async compose(sourceKeys: readonly string[], destinationKey: string): Promise<UploadResult> {
    assertValidKey(destinationKey);
    const whole = Buffer.concat(sourceKeys.map((key) => this.#get(key)));
    this.#store(destinationKey, whole);
    return { checksum: md5Base64(whole), byteSize: whole.length };
  }

  /** The stored keys, sorted: for asserting in tests that nothing was left behind. */
  keys(): string[] {
    return [...this.#objects.keys()].sort();
  }

  toJSON(): { name: string; adapter: 'Memory'; objects: number } {
    return { name: this.name, adapter: 'Memory', objects: this.#objects.size };
  }

  [inspect.custom](): { name: string; adapter: 'Memory'; objects: number } {
    return this.toJSON();
  }

  #store(key: string, data: Buffer): void {
    this.#objects.set(key, data);
    this.#modified.set(key, new Date());
  }

  #get(key: string): Buffer {
    assertValidKey(key);
    const data = this.#objects.get(key);
    if (data === undefined) throw FileNotFoundError.forKey(key);
    return data;
  }
}

/** A stream of a copy of `data`, so a reader can never change what is stored. */
function streamOf(data: Buffer): Readable {
  return Readable.from(data.length > 0 ? [Buffer.from(data)] : [], { objectMode: false });
}

/** The `Memory` adapter: no settings; each configured service gets its own empty store. */
export const memoryAdapter: AdapterDefinition = {
  settings: [],
  required: [],
  create: (_settings, { name }) => new MemoryService(name),
};
