import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { generateKey } from '../../src/core/keys.ts';
import { inject } from 'vitest';
import type { StorageService } from '../../src/services/Service.ts';
import { createS3Client } from '../../src/services/s3/client.ts';
import type { ServiceContext } from '../../src/services/adapters.ts';
import { s3Adapter, secureS3Adapter } from '../../src/services/s3/adapters.ts';
import type { S3Endpoint } from './s3-global-setup.ts';

export type { S3Endpoint } from './s3-global-setup.ts';

/** What some tests need from the server beyond plain S3. */
export type S3Feature = 'kms' | 'kms2' | 'sseC' | 'silentAes256' | 'strict';

/** The run's S3 server (see s3-global-setup.ts). */
export function s3Endpoint(): S3Endpoint {
  return inject('s3');
}

const printed = new Set<string>();

/**
 * Why this run's server cannot show `feature` (undefined when it can). The reason is printed once
 * per file; use it as `describe.skipIf(missing('kms'))(…)` so skipped suites say why.
 */
export function missing(feature: S3Feature): string | undefined {
  const reason = reasonMissing(feature, s3Endpoint());
  if (reason !== undefined && !printed.has(feature)) {
    printed.add(feature);
    console.warn(`[attache] skipping ${feature} tests: ${reason}`);
  }
  return reason;
}

function reasonMissing(feature: S3Feature, s3: S3Endpoint): string | undefined {
  switch (feature) {
    case 'kms':
      if (s3.server === 's3rver') return 's3rver has no server-side encryption (run ../shared/s3/start.sh and source its env for Ceph RGW)';
      return s3.kmsKeyId ? undefined : 'S3_KMS_KEY_ID is not set';
    case 'kms2':
      return s3.kmsKeyId && s3.kmsKeyId2 ? undefined : 'needs two KMS keys (S3_KMS_KEY_ID and S3_KMS_KEY_ID_2)';
    case 'sseC':
      if (s3.server === 's3rver') return 's3rver has no SSE-C';
      return s3.server === 'ceph-rgw' || s3.endpoint.startsWith('https:') ? undefined : `${s3.server} accepts SSE-C only over HTTPS`;
    case 'silentAes256':
      return s3.server === 'ceph-rgw' ? undefined : `only Ceph RGW silently ignores AES256 (server: ${s3.server})`;
    case 'strict':
      if (s3.server !== 's3rver') return undefined;
      return 's3rver has no ListMultipartUploads, AbortMultipartUpload, UploadPartCopy, Content-MD5 or signature checks, and no ListObjectsV2 paging on Node ≥ 17';
  }
}

/** A plain SDK client for the server (no attache middleware): for tampering, listing and checks. */
export function rawClient(endpoint: string = s3Endpoint().endpoint): S3Client {
  const s3 = s3Endpoint();
  return new S3Client({
    endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** An attache S3 client (client.ts) whose HTTP debug log lines go to `lines`. */
export function loggedClient(lines: string[]): S3Client {
  const s3 = s3Endpoint();
  const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
  return createS3Client({ region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, credentials, debugLog: (line) => lines.push(line) });
}

/** storage.yml settings for an S3 or SecureS3 service on `bucket` (add encryption settings yourself). */
export function s3Settings(bucket: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const s3 = s3Endpoint();
  return {
    bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    access_key_id: s3.accessKeyId,
    secret_access_key: s3.secretAccessKey,
    force_path_style: true,
    ...extra,
  };
}

/** Builds a service through its adapter, as the registry would. */
export function makeService(adapter: 'S3' | 'SecureS3', name: string, settings: Record<string, unknown>): StorageService {
  return (adapter === 'S3' ? s3Adapter : secureS3Adapter).create(settings, { name } as ServiceContext);
}

/** Starts a multipart direct upload and never completes it: an incomplete multipart upload (a pending write). */
export async function openMultipartUpload(service: StorageService): Promise<void> {
  const checksum = createHash('md5').update('x').digest('base64');
  await service.createMultipartDirectUpload!(generateKey(), { expiresIn: 60, contentType: 'application/pdf', parts: [{ byteSize: 1, checksum }] });
}

export interface TestBucket {
  name: string;
  client: S3Client;
  /** Multipart uploads still open in the bucket (0 after every failed upload). */
  openUploads(): Promise<number>;
  /** Every object key in the bucket. */
  keys(): Promise<string[]>;
  /** Aborts open uploads, deletes every object and the bucket. */
  remove(): Promise<void>;
}

/** A new bucket with a random name; call remove() in afterAll. */
export async function createTestBucket(): Promise<TestBucket> {
  const client = rawClient();
  const name = `attache-${randomBytes(6).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: name }));
  const uploads = async () => (await client.send(new ListMultipartUploadsCommand({ Bucket: name }))).Uploads ?? [];
  const keys = async () => {
    const found: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: name, ContinuationToken: token }));
      found.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found;
  };
  return {
    name,
    client,
    openUploads: async () => (await uploads()).length,
    keys,
    async remove() {
      if (!missing('strict')) {
        for (const u of await uploads()) await client.send(new AbortMultipartUploadCommand({ Bucket: name, Key: u.Key, UploadId: u.UploadId }));
      }
      for (let batch = await keys(); batch.length > 0; batch = await keys()) {
        await client.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: batch.slice(0, 1000).map((Key) => ({ Key })) } }));
      }
      await client.send(new DeleteBucketCommand({ Bucket: name }));
      client.destroy();
    },
  };
}

/** One request as it left the client (after signing), for header assertions. */
export interface CapturedRequest {
  command: string;
  method: string;
  path: string;
  query: Record<string, unknown>;
  headers: Record<string, string>;
}

/** Records every request `client` sends from now on (SDK middleware at the end of finalizeRequest: signed, once per attempt). */
export function captureRequests(client: S3Client): CapturedRequest[] {
  const captured: CapturedRequest[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { method: string; path: string; query?: Record<string, unknown>; headers: Record<string, string> };
      const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
      captured.push({ command: context.commandName ?? '', method: request.method, path: request.path, query: { ...request.query }, headers });
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: `captureRequests-${randomBytes(4).toString('hex')}` },
  );
  return captured;
}
