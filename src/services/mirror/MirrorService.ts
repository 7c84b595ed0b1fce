import type { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { ArgumentError, ConfigurationError } from '../../core/errors.ts';
import type { ServiceContext } from '../registry.ts';
import type { ComposeOptions, PendingWrite, StoredObject, DirectUploadHeaderOptions, DirectUploadOptions, StorageService, UploadBody, UploadOptions, UploadResult, UrlOptions } from '../Service.ts';

/**
 * Rails' MirrorService: writes go to the primary and then to every mirror; reads and URLs come
 * from the primary. Used to migrate between services without downtime.
 */
export class MirrorService implements StorageService {
  constructor(readonly name: string, readonly primary: StorageService, readonly mirrors: readonly StorageService[]) {}

  /**
   * Uploads to the primary (streaming), then copies the stored bytes to each mirror with the
   * primary's checksum. If a mirror fails, every copy made by this call is removed and the error rethrown.
   */
  async upload(key: string, body: UploadBody, options: UploadOptions = {}): Promise<UploadResult> {
    const result = await this.primary.upload(key, body, options);
    await this.#copyToMirrors(key, result, options);
    return result;
  }

  async #copyToMirrors(key: string, result: UploadResult, options: UploadOptions): Promise<void> {
    const done: StorageService[] = [];
    try {
      for (const mirror of this.mirrors) {
        await mirror.upload(key, await this.primary.download(key), { ...options, checksum: result.checksum, byteSize: result.byteSize });
        done.push(mirror);
      }
    } catch (error) {
      await Promise.allSettled([this.primary, ...done].map((service) => service.delete(key)));
      throw error;
    }
  }

  /**
   * Rails' MirrorService#mirror: copies the primary's object to each mirror that lacks it, checked
   * against `options.checksum` (a mismatch is an IntegrityError and that mirror keeps nothing).
   * The primary is never touched. Idempotent. Returns the mirrors it copied to.
   */
  async mirror(key: string, options: UploadOptions): Promise<StorageService[]> {
    const copied: StorageService[] = [];
    for (const mirror of this.mirrors) {
      if (await mirror.exists(key)) continue;
      await mirror.upload(key, await this.primary.download(key), options);
      copied.push(mirror);
    }
    return copied;
  }

  /** Reads from the primary. */
  download(key: string): Promise<Readable> {
    return this.primary.download(key);
  }

  downloadRange(key: string, start: number, end: number): Promise<Readable> {
    return this.primary.downloadRange(key, start, end);
  }

  /** Deletes from the primary and every mirror. Idempotent. */
  async delete(key: string): Promise<void> {
    await this.#everywhere((service) => service.delete(key));
  }

  async deletePrefixed(prefix: string): Promise<void> {
    await this.#everywhere((service) => service.deletePrefixed(prefix));
  }

  exists(key: string): Promise<boolean> {
    return this.primary.exists(key);
  }

  url(key: string, options: UrlOptions): Promise<string> {
    return this.primary.url(key, options);
  }

  /** Direct uploads go to the primary only (as in Rails); mirror them later by re-uploading. */
  urlForDirectUpload(key: string, options: DirectUploadOptions): Promise<string> {
    return this.primary.urlForDirectUpload(key, options);
  }

  headersForDirectUpload(key: string, options: DirectUploadHeaderOptions): Record<string, string> {
    return this.primary.headersForDirectUpload(key, options);
  }

  /** Large direct uploads go to the primary too; the methods exist only when the primary has them. */
  get createMultipartDirectUpload(): StorageService['createMultipartDirectUpload'] {
    return this.primary.createMultipartDirectUpload?.bind(this.primary);
  }

  get completeMultipartDirectUpload(): StorageService['completeMultipartDirectUpload'] {
    return this.primary.completeMultipartDirectUpload?.bind(this.primary);
  }

  get abortMultipartDirectUpload(): StorageService['abortMultipartDirectUpload'] {
    return this.primary.abortMultipartDirectUpload?.bind(this.primary);
  }

  /** What the primary reports about a directly uploaded object. */
  get verifyStored(): StorageService['verifyStored'] {
    return this.primary.verifyStored?.bind(this.primary);
  }

  /** Lists the primary's objects (reads come from the primary). */
  listObjects(options?: { prefix?: string }): AsyncIterable<StoredObject> {
    return this.primary.listObjects(options);
  }

  /** The pending writes of the primary and of every mirror, each with the name of the service holding it. */
  async *listPendingWrites(): AsyncGenerator<PendingWrite> {
    for (const service of [this.primary, ...this.mirrors]) {
      for await (const write of service.listPendingWrites()) yield { ...write, service: write.service ?? service.name };
    }
  }

  /** Discards a pending write on the service named by `write.service` (default: the primary). Idempotent. ArgumentError for a service not in this mirror. */
  discardPendingWrite(write: PendingWrite): Promise<void> {
    const name = write?.service ?? this.primary.name;
    const holder = [this.primary, ...this.mirrors].find((service) => service.name === name);
    if (holder === undefined) return Promise.reject(new ArgumentError(`Mirror service "${this.name}" has no service "${name}".`));
    return holder.discardPendingWrite(write);
  }

  /** Composes on the primary, then copies the result to the mirrors. */
  async compose(sourceKeys: readonly string[], destinationKey: string, options: ComposeOptions = {}): Promise<UploadResult> {
    const result = await this.primary.compose(sourceKeys, destinationKey, options);
    await this.#copyToMirrors(destinationKey, result, options);
    return result;
  }

  async #everywhere(action: (service: StorageService) => Promise<void>): Promise<void> {
    const results = await Promise.allSettled([this.primary, ...this.mirrors].map(action));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  toJSON(): { name: string; adapter: 'Mirror'; primary: string; mirrors: string[] } {
    return { name: this.name, adapter: 'Mirror', primary: this.primary.name, mirrors: this.mirrors.map((m) => m.name) };
  }

  [inspect.custom](): string {
    return `MirrorService ${JSON.stringify(this.toJSON())}`;
  }
}

/** The Mirror adapter: `primary: name` and `mirrors: [names]` of other services in the same file. */
export const mirrorAdapter = {
  settings: ['primary', 'mirrors'] as const,
  required: ['primary', 'mirrors'] as const,
  servicesIn: ['primary', 'mirrors'] as const,
  create(settings: Record<string, unknown>, context: ServiceContext): StorageService {
    const { primary, mirrors } = settings;
    if (typeof primary !== 'string') throw ConfigurationError.invalidSetting(context.name, 'primary', 'the name of another service');
    if (!Array.isArray(mirrors) || mirrors.length === 0 || !mirrors.every((m): m is string => typeof m === 'string')) {
      throw ConfigurationError.invalidSetting(context.name, 'mirrors', 'a list of service names');
    }
    const names = [primary, ...mirrors];
    if (names.includes(context.name) || new Set(names).size !== names.length) {
      throw ConfigurationError.invalidSetting(context.name, 'mirrors', 'distinct services other than the mirror itself');
    }
    return new MirrorService(context.name, context.services.service(primary), mirrors.map((m) => context.services.service(m)));
  },
};
