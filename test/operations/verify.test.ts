import { PutObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ArgumentError, ConfigurationError, verifyBlobs, type Blob } from '../../src/index.ts';
import { missing, s3Endpoint } from '../support/s3.ts';
import { diskPath, openOps, type OpsFixture } from './support.ts';

const flip = (data: Buffer): Buffer => {
  const copy = Buffer.from(data);
  copy[7] = copy[7]! ^ 0xff;
  return copy;
};

describe.skipIf(missing('kms2'))('verifyBlobs against Disk and SecureS3 (RGW, SSE-KMS)', () => {
  let ops: OpsFixture;
  let disk: Array<{ blob: Blob; data: Buffer }>;
  let secure: Array<{ blob: Blob; data: Buffer }>;

  beforeAll(async () => {
    ops = await openOps();
    disk = await ops.seed(6, 'local');
    secure = await ops.seed(6, 'secure');
  });
  afterAll(async () => ops?.close());

  it('passes on untouched blobs, deep and shallow, and records progress', async () => {
    const seen: number[] = [];
    const report = await ops.attache.verifyBlobs({ deep: true, checkpoint: false, onProgress: (p) => seen.push(p.done) });
    expect(report).toEqual({ ok: true, checked: 12, skipped: 0, failures: [] });
    expect(seen.at(-1)).toBe(12);
  });

  it('finds a byte flipped in a Disk file only with deep, and an object overwritten in the bucket', async () => {
    const [d, s] = [disk[0]!, secure[0]!];
    await writeFile(diskPath(ops.diskRoot, d.blob.key), flip(d.data));
    const kmsKeyId = s3Endpoint().kmsKeyId!;
    await ops.bucket.client.send(new PutObjectCommand({ Bucket: ops.bucket.name, Key: s.blob.key, Body: flip(s.data), ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kmsKeyId }));
    expect((await verifyBlobs(ops.attache, { checkpoint: false })).ok).toBe(true);
    const deep = await verifyBlobs(ops.attache, { deep: true, checkpoint: false });
    expect(deep.ok).toBe(false);
    expect(deep.failures.map((f) => [f.blobId, f.service, f.problem])).toEqual(
      [[d.blob.id, 'local', 'checksum'], [s.blob.id, 'secure', 'checksum']].sort((a, b) => Number(a[0]) - Number(b[0])),
    );
    await writeFile(diskPath(ops.diskRoot, d.blob.key), d.data);
    await ops.bucket.client.send(new PutObjectCommand({ Bucket: ops.bucket.name, Key: s.blob.key, Body: s.data, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kmsKeyId }));
  });

  it('finds a missing object and a truncated one without downloading', async () => {
    const [gone, short] = [disk[1]!, disk[2]!];
    await rm(diskPath(ops.diskRoot, gone.blob.key));
    await writeFile(diskPath(ops.diskRoot, short.blob.key), short.data.subarray(1));
    const report = await verifyBlobs(ops.attache, { service: 'local', checkpoint: false });
    expect(report.checked).toBe(6);
    expect(report.failures.map((f) => [f.blobId, f.problem])).toEqual([[gone.blob.id, 'missing'], [short.blob.id, 'size']]);
    await writeFile(diskPath(ops.diskRoot, gone.blob.key), gone.data);
    await writeFile(diskPath(ops.diskRoot, short.blob.key), short.data);
  });

  it('finds an object re-encrypted behind attache\'s back with the second KMS key', async () => {
    const s = secure[1]!;
    const key2 = s3Endpoint().kmsKeyId2!;
    await ops.bucket.client.send(new PutObjectCommand({ Bucket: ops.bucket.name, Key: s.blob.key, Body: s.data, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: key2 }));
    const head = await ops.bucket.client.send(new HeadObjectCommand({ Bucket: ops.bucket.name, Key: s.blob.key }));
    expect(head.SSEKMSKeyId).toBe(key2);
    const report = await verifyBlobs(ops.attache, { service: 'secure', deep: true, checkpoint: false });
    expect(report.failures).toHaveLength(1);
    expect(report.failures[0]).toMatchObject({ blobId: s.blob.id, problem: 'encryption' });
    expect(report.failures[0]!.detail).toContain(key2);
    // The bytes themselves are right: only the key is wrong.
    expect(report.failures.some((f) => f.problem === 'checksum')).toBe(false);
  });

  it('an object stored unencrypted under a SecureS3 blob is an encryption problem', async () => {
    const s = secure[2]!;
    await ops.bucket.client.send(new PutObjectCommand({ Bucket: ops.bucket.name, Key: s.blob.key, Body: s.data }));
    const report = await verifyBlobs(ops.attache, { service: 'secure', checkpoint: false });
    expect(report.failures.find((f) => f.blobId === s.blob.id)?.problem).toBe('encryption');
  });

  it('sample checks N random blobs', async () => {
    const report = await verifyBlobs(ops.attache, { service: 'local', sample: 3 });
    expect(report).toEqual({ ok: true, checked: 3, skipped: 0, failures: [] });
  });

  it('resumes from its checkpoint after the last finished batch', async () => {
    const checkpoint = `${ops.diskRoot}.verify-checkpoint.json`;
    const controller = new AbortController();
    const first = verifyBlobs(ops.attache, { service: 'local', batchSize: 2, concurrency: 1, checkpoint, signal: controller.signal, onProgress: (p) => p.done === 3 && controller.abort() });
    await expect(first).rejects.toMatchObject({ code: 'E_OPERATION_ABORTED' });
    expect(JSON.parse(await readFile(checkpoint, 'utf8')).lastId).toBe(disk[1]!.blob.id);
    const seen: number[] = [];
    const second = await verifyBlobs(ops.attache, { service: 'local', batchSize: 2, checkpoint, onProgress: (p) => seen.push(p.done) });
    expect(second).toMatchObject({ ok: true, checked: 6, resumedFrom: disk[1]!.blob.id });
    expect(Math.min(...seen)).toBe(3); // blobs 1-2 were not checked again
    await expect(readFile(checkpoint)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('keeps its default checkpoint in a private folder of the user and refuses one others can write to', async () => {
    const previous = process.env['TMPDIR'];
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'ops-tmpdir-'));
    process.env['TMPDIR'] = tmp;
    try {
      const folder = path.join(tmp, `attache-${process.getuid!()}`);
      await mkdir(folder, { mode: 0o777 });
      await chmod(folder, 0o777);
      await expect(verifyBlobs(ops.attache, { service: 'local' })).rejects.toMatchObject({ code: 'E_CONFIGURATION', setting: 'checkpoint' });
      await rm(folder, { recursive: true });
      const controller = new AbortController();
      const run = verifyBlobs(ops.attache, { service: 'local', batchSize: 2, concurrency: 1, signal: controller.signal, onProgress: (p) => p.done === 3 && controller.abort() });
      await expect(run).rejects.toMatchObject({ code: 'E_OPERATION_ABORTED' });
      expect(((await stat(folder)).mode & 0o777).toString(8)).toBe('700');
      const [file] = await readdir(folder);
      expect(file).toMatch(/^verify-[0-9a-f]{24}\.json$/);
      expect(((await stat(path.join(folder, file!))).mode & 0o777).toString(8)).toBe('600');
      const text = await readFile(path.join(folder, file!), 'utf8');
      expect(text).not.toContain(inject('databaseUrl')); // the database is hashed into the scope, never written
      expect(await verifyBlobs(ops.attache, { service: 'local' })).toMatchObject({ ok: true, checked: 6, resumedFrom: disk[1]!.blob.id });
      expect(await readdir(folder)).toEqual([]);
    } finally {
      process.env['TMPDIR'] = previous;
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it.each([
    ['an unknown service', { service: 'nope' }, ConfigurationError],
    ['a sample of 0', { sample: 0 }, ArgumentError],
    ['a concurrency of 0', { concurrency: 0 }, ArgumentError],
  ])('%s is a typed error before any check', async (_label, options, type) => {
    await expect(verifyBlobs(ops.attache, options)).rejects.toBeInstanceOf(type);
  });
});
