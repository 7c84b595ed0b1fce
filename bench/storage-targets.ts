/**
 * The sides the storage bench compares (bench/storage.ts): attache's services as the registry
 * builds them from a storage.yml-style config, and the raw equivalent against the same place:
 *   Disk     vs pipeline(source, fs.createWriteStream) and fs.createReadStream
 *   S3       vs @aws-sdk/lib-storage Upload (same part size and queue size) and GetObject
 *   SecureS3 vs the same, with ServerSideEncryption aws:kms + SSEKMSKeyId
 * Each S3 side records the requests it really sent (an SDK middleware), so the table shows the
 * path each row took (PutObject or multipart, signed payload or not, Content-MD5 or not).
 */
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3Service } from '../src/services/s3/S3Service.ts';
import type { StorageService } from '../src/services/Service.ts';
import { MIB, sizeLabel } from './measure.ts';

export type ServiceName = 'Disk' | 'S3' | 'SecureS3';
export type Impl = 'raw' | 'attache';

/** lib-storage's queue size, and S3Service's default (not a storage.yml setting). */
export const QUEUE_SIZE = 4;
const CONTENT_TYPE = 'application/octet-stream';

/** One side of a comparison: how it stores, reads back and removes an object. */
export interface Side {
  upload(key: string, body: Readable, size: number): Promise<void>;
  download(key: string): Promise<AsyncIterable<Uint8Array>>;
  remove(key: string): Promise<void>;
  /** The path of the operations since the last call: S3 summarizes the requests sent ("PutObject", "multipart 8×8 MiB, signed"). */
  takePath?(direction: 'upload' | 'download'): string;
}

export interface Target {
  name: ServiceName;
  raw: Side;
  attache: Side;
  /** Settings worth printing. */
  info?: string;
  /** Called after each round (S3: frees the server's deleted data). */
  afterRound?(): void;
}

export function diskTarget(service: StorageService, rawRoot: string): Target {
  const file = (key: string): string => path.join(rawRoot, key);
  return {
    name: 'Disk',
    raw: {
      upload: async (key, body) => {
        await mkdir(rawRoot, { recursive: true });
        await pipeline(body, createWriteStream(file(key)));
      },
      download: async (key) => createReadStream(file(key)),
      remove: (key) => rm(file(key), { force: true }),
      takePath: (direction) => (direction === 'upload' ? 'fs.createWriteStream' : 'fs.createReadStream (64 KiB reads)'),
    },
    attache: { ...attacheSide(service), takePath: (direction) => (direction === 'upload' ? 'temp file + rename, 1 MiB writes, MD5 on a worker' : 'read stream (512 KiB reads), unverified') },
  };
}

export function s3Target(name: 'S3' | 'SecureS3', service: StorageService, bucket: BenchBucket, kmsKeyId: string | undefined): Target {
  if (!(service instanceof S3Service)) throw new Error(`${name}: expected an S3Service`);
  const { partSize, multipartThreshold } = service;
  const client = bucket.client;
  const sse = kmsKeyId === undefined ? {} : { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: kmsKeyId };
  const rawRequests = recordRequests(client, `raw-${name}`);
  const attacheRequests = recordRequests(service.client, `attache-${name}`);
  return {
    name,
    raw: {
      async upload(key, body) {
        const params = { Bucket: bucket.name, Key: key, Body: body, ContentType: CONTENT_TYPE, ...sse };
        await new Upload({ client, params, partSize, queueSize: QUEUE_SIZE, leavePartsOnError: false }).done();
      },
      async download(key) {
        const answer = await client.send(new GetObjectCommand({ Bucket: bucket.name, Key: key }));
        return answer.Body as Readable;
      },
      remove: async (key) => void (await client.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: key }))),
      takePath: () => rawRequests.take(),
    },
    attache: { ...attacheSide(service), takePath: () => attacheRequests.take() },
    info: `multipart_threshold ${sizeLabel(multipartThreshold)}, part size ${sizeLabel(partSize)}, queue size ${QUEUE_SIZE}${kmsKeyId ? `, SSE-KMS key ${kmsKeyId}` : ''}`,
    afterRound: () => bucket.collectGarbage(),
  };
}

function attacheSide(service: StorageService): Side {
  return {
    async upload(key, body, size) {
      const result = await service.upload(key, body, { contentType: CONTENT_TYPE, filename: 'bench.bin' });
      if (result.byteSize !== size) throw new Error(`${service.name} stored ${result.byteSize} of ${size} bytes`);
    },
    download: (key) => service.download(key),
    remove: (key) => service.delete(key),
  };
}

interface SentRequest {
  command: string;
  unsignedPayload: boolean;
  contentMd5: boolean;
  bytes: number;
}

/** Records each request a client sends, as signed (deserialize step: after signing). */
const recorders = new WeakMap<S3Client, { take(): string }>();

function recordRequests(client: S3Client, name: string): { take(): string } {
  const known = recorders.get(client);
  if (known) return known;
  const sent: SentRequest[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = (args as { request?: { headers?: Record<string, string> } }).request;
      const headers = request?.headers ?? {};
      const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
      sent.push({
        command: String((context as { commandName?: string }).commandName ?? '?').replace(/Command$/, ''),
        unsignedPayload: /UNSIGNED|STREAMING/.test(lower['x-amz-content-sha256'] ?? ''),
        contentMd5: lower['content-md5'] !== undefined,
        bytes: Number(lower['content-length'] ?? 0),
      });
      return next(args);
    },
    { step: 'deserialize', name: `benchRecorder-${name}`, override: true },
  );
  const recorder = { take: () => describeRequests(sent.splice(0)) };
  recorders.set(client, recorder);
  return recorder;
}

function describeRequests(sent: SentRequest[]): string {
  const writes = sent.filter((r) => r.command === 'PutObject' || r.command === 'UploadPart');
  const parts = sent.filter((r) => r.command === 'UploadPart');
  const kind = parts.length > 0 ? `multipart ${parts.length}×${Math.round(Math.max(...parts.map((p) => p.bytes)) / MIB)} MiB` : writes.length > 0 ? 'PutObject' : sent.map((r) => r.command).join('+') || '—';
  if (writes.length === 0) return kind;
  const payload = writes.every((r) => r.unsignedPayload) ? 'unsigned' : writes.some((r) => r.unsignedPayload) ? 'mixed' : 'signed';
  const md5 = writes.every((r) => r.contentMd5) ? '+MD5' : writes.some((r) => r.contentMd5) ? '+some MD5' : '';
  return `${kind}, ${payload}${md5}`;
}

export interface S3Environment {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  kmsKeyId: string | undefined;
  server: string;
}

/** The S3_* environment (../shared/s3 writes it); undefined without S3_ENDPOINT. */
export function s3Environment(): S3Environment | undefined {
  const env = process.env;
  const endpoint = env['S3_ENDPOINT'];
  if (!endpoint) return undefined;
  const required = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`S3_ENDPOINT is set but ${name} is not.`);
    return value;
  };
  return {
    endpoint,
    region: env['S3_REGION'] || 'us-east-1',
    accessKeyId: required('S3_ACCESS_KEY_ID'),
    secretAccessKey: required('S3_SECRET_ACCESS_KEY'),
    kmsKeyId: env['S3_KMS_KEY_ID'] || undefined,
    server: env['S3_SERVER'] || 'unknown server',
  };
}

/**
 * The ceph.conf of ../shared/s3's cluster (CEPH_CONF, else $RGW_BASE/cluster/ceph.conf): with it the
 * bench runs `radosgw-admin gc process --include-all` after each round, because RGW keeps deleted data
 * for hours and its 4 GiB memstore OSD blocks every write once full.
 */
function cephConf(): string | undefined {
  const base = process.env['RGW_BASE'] ?? path.join(process.env['TMPDIR'] ?? tmpdir(), 'attache-rgw');
  const conf = process.env['CEPH_CONF'] ?? path.join(base, 'cluster', 'ceph.conf');
  return existsSync(conf) ? conf : undefined;
}

/** A bucket with a random name, its objects and open uploads removed at the end; its client is the raw side's. */
export class BenchBucket {
  readonly gc: string;
  private constructor(readonly name: string, readonly client: S3Client, private readonly conf: string | undefined) {
    this.gc = conf ? `radosgw-admin gc process --include-all after each round (CEPH_CONF=${conf})` : 'no ceph.conf found: deleted data stays until RGW\'s own GC';
  }

  static async create(s3: S3Environment): Promise<BenchBucket> {
    // Raw SDK, as a user would set it up for an S3-compatible server: without WHEN_REQUIRED the SDK
    // sends aws-chunked CRC32 trailers on stream bodies, which RGW refuses (411).
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const name = `attache-bench-${randomBytes(6).toString('hex')}`;
    await client.send(new CreateBucketCommand({ Bucket: name }));
    return new BenchBucket(name, client, cephConf());
  }

  collectGarbage(): void {
    if (!this.conf) return;
    spawnSync('radosgw-admin', ['gc', 'process', '--include-all'], { env: { ...process.env, CEPH_CONF: this.conf }, stdio: 'ignore', timeout: 60_000 });
  }

  async remove(): Promise<void> {
    const { client, name } = this;
    try {
      const uploads = (await client.send(new ListMultipartUploadsCommand({ Bucket: name }))).Uploads ?? [];
      for (const upload of uploads) await client.send(new AbortMultipartUploadCommand({ Bucket: name, Key: upload.Key, UploadId: upload.UploadId }));
      for (;;) {
        const page = await client.send(new ListObjectsV2Command({ Bucket: name, MaxKeys: 1000 }));
        const objects = (page.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [{ Key: object.Key }]));
        if (objects.length === 0) break;
        await client.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: objects, Quiet: true } }));
      }
      await client.send(new DeleteBucketCommand({ Bucket: name }));
      this.collectGarbage();
    } finally {
      client.destroy();
    }
  }
}
