import { containerRuntimeAnswers } from '../../scripts/database.ts';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

/** The S3 server of the run, as the test files see it (`inject('s3')`). */
export interface S3Endpoint {
  /** Where it came from: the S3_* environment (RGW's env file, or any S3), a MinIO container, or s3rver in-process. */
  source: 'env' | 'minio' | 's3rver';
  /** What it is: `ceph-rgw`, `minio`, `s3rver`, or S3_SERVER's value (`aws` when unset). */
  server: string;
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** A KMS key the server knows (unset: no SSE-KMS). */
  kmsKeyId?: string;
  /** A second known KMS key (unset: tests that need two keys are skipped). */
  kmsKeyId2?: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's S3 server; read it with `inject('s3')` (test/support/s3.ts does). */
    s3: S3Endpoint;
  }
}

const MINIO_IMAGE = 'minio/minio:RELEASE.2024-08-03T04-33-23Z';
const MINIO_KMS_KEY = 'attache-key-1';

interface S3rverConstructor {
  new (options: { address: string; port: number; silent: boolean; directory: string; resetOnClose: boolean }): {
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  };
}

interface Started {
  endpoint: S3Endpoint;
  stop(): Promise<void>;
}

/** Finds or starts the run's S3 server: the S3_* env, else MinIO (if Docker answers), else s3rver. */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const s3 = process.env['S3_ENDPOINT'] ? fromEnv() : (await containerRuntimeAnswers()) ? await startMinio() : await startS3rver();
  const { endpoint } = s3;
  console.log(`[attache] S3 from ${endpoint.source}: ${endpoint.server} at ${endpoint.endpoint} (${Date.now() - started} ms)`);
  project.provide('s3', endpoint);
  return () => s3.stop();
}

function fromEnv(): Started {
  const env = process.env;
  const need = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`S3_ENDPOINT is set, so ${name} must be set too (source the RGW env file: . /tmp/attache-rgw/cluster/env).`);
    return value;
  };
  const endpoint: S3Endpoint = {
    source: 'env',
    server: env['S3_SERVER'] || 'aws',
    endpoint: need('S3_ENDPOINT'),
    region: env['S3_REGION'] || 'us-east-1',
    accessKeyId: need('S3_ACCESS_KEY_ID'),
    secretAccessKey: need('S3_SECRET_ACCESS_KEY'),
    ...(env['S3_KMS_KEY_ID'] && { kmsKeyId: env['S3_KMS_KEY_ID'] }),
    ...(env['S3_KMS_KEY_ID_2'] && { kmsKeyId2: env['S3_KMS_KEY_ID_2'] }),
  };
  return { endpoint, stop: async () => {} };
}

/** MinIO with its built-in KMS (one static key). Written for machines with Docker; not exercised where none runs. */
async function startMinio(): Promise<Started> {
  const { MinioContainer } = await import('@testcontainers/minio');
  const container = await new MinioContainer(MINIO_IMAGE)
    .withEnvironment({ MINIO_KMS_SECRET_KEY: `${MINIO_KMS_KEY}:${randomBytes(32).toString('base64')}` })
    .start();
  const endpoint: S3Endpoint = {
    source: 'minio',
    server: 'minio',
    endpoint: container.getConnectionUrl(),
    region: 'us-east-1',
    accessKeyId: container.getUsername(),
    secretAccessKey: container.getPassword(),
    kmsKeyId: MINIO_KMS_KEY,
  };
  return { endpoint, stop: async () => void (await container.stop()) };
}

/** s3rver in this process on 127.0.0.1: plain S3 only (no SSE, no ListMultipartUploads, no UploadPartCopy, no Content-MD5 check). */
async function startS3rver(): Promise<Started> {
  // s3rver ships no types: a variable specifier keeps tsc from looking for them.
  const specifier = 's3rver';
  const { default: S3rver } = (await import(specifier)) as { default: S3rverConstructor };
  const directory = await mkdtemp(join(tmpdir(), 'attache-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, resetOnClose: true });
  const address = await server.run();
  const endpoint: S3Endpoint = {
    source: 's3rver',
    server: 's3rver',
    endpoint: `http://127.0.0.1:${address.port}`,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
  };
  return {
    endpoint,
    stop: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
