import type { S3Client } from '@aws-sdk/client-s3';
import type { ReadTarget } from './download.ts';
import { sseParams, type Encryption } from './encryption.ts';
import { translateS3Error } from './errors.ts';
import type { ListTarget } from './listing.ts';
import type { MultipartDirectTarget } from './multipart-direct.ts';
import { objectParams, type WriteOptions, type WritePolicy } from './object-params.ts';
import type { ObjectParams, WriteTarget } from './upload.ts';
import type { UrlTarget } from './urls.ts';

export interface S3ServiceOptions {
  name: string;
  bucket: string;
  /** Built by createS3Client (client.ts): WHEN_REQUIRED checksums, part Content-MD5, debug log. */
  client: S3Client;
  region: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Objects are world-readable: url() gives the plain object URL. */
  public?: boolean;
  /** Rails' multipart threshold (default 100 MiB): it caps the part size; a body that fits in one part is one PutObject (upload.ts). */
  multipartThreshold?: number;
  /** Multipart part size (default 8 MiB, at most the threshold). */
  partSize?: number;
  /** Parts in flight per upload (default 4); memory is about queueSize × partSize. */
  queueSize?: number;
  /** Extra PutObject parameters (Rails' `upload:` options). */
  upload?: ObjectParams;
}

/**
 * The targets one S3 service hands to its request modules (upload, download, urls, listing,
 * multipart-direct). Each carries the service's client and bucket, its SSE parameters from sseParams,
 * its object parameters from objectParams, and translateS3Error as its way out for SDK errors.
 */
export class S3Targets {
  readonly forcePathStyle: boolean;

  constructor(
    private readonly options: S3ServiceOptions,
    private readonly encryption: () => Encryption | undefined,
    private readonly sizes: { partSize: number },
  ) {
    this.forcePathStyle = options.forcePathStyle ?? false;
  }

  /** What every write of this service applies: `upload:` options (the public ACL included) and the encryption. */
  policy(): WritePolicy {
    return { upload: this.options.upload ?? {}, encryption: this.encryption() };
  }

  /** Where a write goes; its object parameters come from objectParams (stored type policy, SSE last). */
  write(key: string, options: WriteOptions): WriteTarget {
    return {
      client: this.options.client,
      bucket: this.options.bucket,
      key,
      objectParams: objectParams(this.policy(), options),
      partParams: sseParams(this.encryption(), 'part'),
      partSize: this.sizes.partSize,
      queueSize: this.options.queueSize ?? 4,
      fail: (error, about = key) => this.fail(error, 'write', about),
    };
  }

  /** A multipart direct upload's target: the object parameters of write() (SSE `write` ones last). */
  multipart(key: string, options: WriteOptions = {}): MultipartDirectTarget {
    const { client, bucket, objectParams: params, partParams } = this.write(key, options);
    return { client, bucket, key, service: this.options.name, objectParams: params, partParams, fail: (error, action) => this.fail(error, action, key) };
  }

  url(key: string): UrlTarget {
    return { client: this.options.client, bucket: this.options.bucket, key, policy: this.policy() };
  }

  read(key: string): ReadTarget {
    return { client: this.options.client, bucket: this.options.bucket, key, sse: sseParams(this.encryption(), 'read'), fail: (error) => this.fail(error, 'read', key) };
  }

  list(): ListTarget {
    return { client: this.options.client, bucket: this.options.bucket, service: this.options.name, fail: (error, action, key) => this.fail(error, action, key) };
  }

  private fail(error: unknown, action: string, key?: string) {
    return translateS3Error(error, { service: this.options.name, action, key });
  }
}
