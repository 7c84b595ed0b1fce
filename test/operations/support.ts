import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { inject } from 'vitest';
import { Attache, type Blob } from '../../src/index.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { openTestDataSource, type TestDataSource } from '../support/db.ts';
import { createTestBucket, s3Endpoint, s3Settings, type TestBucket } from '../support/s3.ts';
import { removeDir, tempRoot } from '../support/storage.ts';

/** What a child process needs to open the same Attache (see fixtures/run-operation.ts). */
export interface ChildConfig {
  databaseUrl: string;
  schema: string;
  services: Record<string, Record<string, unknown>>;
  defaultService: string;
}

export interface OpsFixture {
  attache: Attache;
  db: TestDataSource;
  diskRoot: string;
  bucket: TestBucket;
  services: Record<string, Record<string, unknown>>;
  child(defaultService?: string): ChildConfig;
  /** Uploads `count` blobs of 1–4 KiB on `service`; returns them with their bytes. */
  seed(count: number, service: string): Promise<Array<{ blob: Blob; data: Buffer }>>;
  close(): Promise<void>;
}

/**
 * A schema, a Disk root and a bucket, with services `local` (Disk), `secure` (SecureS3, key 1)
 * and `secure2` (SecureS3 on the same bucket, key 2).
 */
export async function openOps(extra: (where: { diskRoot: string; bucket: string }) => Record<string, Record<string, unknown>> = () => ({})): Promise<OpsFixture> {
  const db = await openTestDataSource();
  const diskRoot = await tempRoot('ops-disk');
  const bucket = await createTestBucket();
  const s3 = s3Endpoint();
  const services: Record<string, Record<string, unknown>> = {
    local: { service: 'Disk', root: diskRoot },
    secure: { service: 'SecureS3', ...s3Settings(bucket.name), kms_key_id: s3.kmsKeyId },
    ...(s3.kmsKeyId2 && { secure2: { service: 'SecureS3', ...s3Settings(bucket.name), kms_key_id: s3.kmsKeyId2 } }),
    ...extra({ diskRoot, bucket: bucket.name }),
  };
  const attache = await Attache.init({ dataSource: db.dataSource, services, service: 'local', secret: TEST_SECRET });
  return {
    attache,
    db,
    diskRoot,
    bucket,
    services,
    child: (defaultService = 'local') => ({ databaseUrl: inject('databaseUrl'), schema: db.schema, services, defaultService }),
    async seed(count, service) {
      const out: Array<{ blob: Blob; data: Buffer }> = [];
      for (let i = 0; i < count; i++) {
        const data = randomBytes(1024 + Math.floor(Math.random() * 3072));
        out.push({ blob: await attache.createAndUpload({ io: data, filename: `f${i}.bin` }, { service }), data });
      }
      return out;
    },
    async close() {
      await attache.close();
      await db.close();
      await removeDir(diskRoot);
      await bucket.remove();
    },
  };
}

/** Where Disk stores a key (Rails' layout root/ab/cd/key). */
export function diskPath(root: string, key: string): string {
  return path.join(root, key.slice(0, 2), key.slice(2, 4), key);
}

export const newId = (): string => randomBytes(4).toString('hex');

const RUNNER = path.join(import.meta.dirname, 'fixtures', 'run-operation.ts');
const REPO = path.resolve(import.meta.dirname, '../..');

export interface ChildRun {
  /** Exit code (null when killed). */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last progress `done` the child printed. */
  lastDone: number;
  report?: Record<string, unknown>;
  stderr: string;
}

/** Runs an operation in a child process (fixtures/run-operation.ts); SIGKILLs it once it reports `killAt` blobs done. */
export function runChild(config: ChildConfig, operation: string, options: Record<string, unknown>, killAt?: number): Promise<ChildRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', RUNNER, operation, JSON.stringify(options)], {
    cwd: REPO,
    env: { ...process.env, OPS_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const result: ChildRun = { code: null, signal: null, lastDone: 0, stderr: '' };
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith('progress ')) result.lastDone = Number(line.slice(9));
      if (line.startsWith('report ')) result.report = JSON.parse(line.slice(7)) as Record<string, unknown>;
      if (killAt !== undefined && result.lastDone >= killAt && child.exitCode === null) child.kill('SIGKILL');
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => void (result.stderr += chunk));
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ ...result, code, signal })));
}

/** A whole number in [min, max]. */
export const between = (min: number, max: number): number => min + Math.floor(Math.random() * (max - min + 1));
