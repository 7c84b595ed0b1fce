import { PutObjectCommand } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errors.ts';
import { generateKey } from '../../src/core/keys.ts';
import type { S3Service } from '../../src/services/s3/S3Service.ts';
import { captureRequests, createTestBucket, makeService, missing, s3Settings, type TestBucket } from '../support/s3.ts';
import { collect } from '../../src/testing/contract.ts';

const MIB = 1024 * 1024;

describe.skipIf(missing('strict'))('S3 listing and pending writes', () => {
  let bucket: TestBucket;
  let service: S3Service;
  beforeAll(async () => {
    bucket = await createTestBucket();
    service = makeService('S3', 'files', s3Settings(bucket.name, { multipart_threshold: 5 * MIB })) as S3Service;
  });
  afterAll(() => bucket?.remove());

  it('listObjects follows ListObjectsV2 continuation past 1000 keys, one page of requests at a time', async () => {
    const ns = generateKey();
    const keys = Array.from({ length: 1005 }, (_, i) => `${ns}/${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 100) {
      await Promise.all(keys.slice(i, i + 100).map((Key) => bucket.client.send(new PutObjectCommand({ Bucket: bucket.name, Key, Body: 'xy' }))));
    }
    const sent = captureRequests(service.client);
    const listed = await collect(service.listObjects({ prefix: `${ns}/` }));
    expect(listed.map((o) => o.key)).toEqual(keys);
    expect(listed.every((o) => o.byteSize === 2 && o.lastModified instanceof Date)).toBe(true);
    expect(sent.filter((r) => r.command === 'ListObjectsV2Command')).toHaveLength(2);
    await service.deletePrefixed(`${ns}/`);
  });

  it('a process killed with SIGKILL mid multipart upload leaves an open upload: listed with its key, discarded, idempotently', async () => {
    const adapters = path.resolve(import.meta.dirname, '../../src/services/s3/adapters.ts');
    const key = `killed-${generateKey()}`;
    // The child streams an endless body (multipart past 5 MiB) and says when the first part is on its way.
    const code = `
      import { Readable } from 'node:stream';
      import { s3Adapter } from ${JSON.stringify(adapters)};
      const service = s3Adapter.create(${JSON.stringify(s3Settings(bucket.name, { multipart_threshold: 5 * MIB }))}, { name: 'child' });
      service.client.middlewareStack.add((next, context) => async (args) => {
        if (context.commandName === 'UploadPartCommand') console.log('part');
        return next(args);
      }, { step: 'initialize' });
      await service.upload(${JSON.stringify(key)}, new Readable({ read() { this.push(Buffer.alloc(MIB, 1)); } }));`.replaceAll('MIB', String(MIB));
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    await new Promise<void>((resolve) => child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('part') && resolve()));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));

    const pending = (await collect(service.listPendingWrites())).filter((write) => write.key === key);
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ kind: 'multipart-upload', key, service: 'files' });
    expect(pending[0]!.startedAt).toBeInstanceOf(Date);
    expect(await bucket.openUploads()).toBe(1);
    await service.discardPendingWrite(pending[0]!);
    await service.discardPendingWrite(pending[0]!);
    expect(await bucket.openUploads()).toBe(0);
    expect(await service.exists(key)).toBe(false);
  });

  it.each([
    ['a temp-file write', { kind: 'temp-file' as const, id: 'x.part', startedAt: new Date() }],
    ['a multipart write without a key', { kind: 'multipart-upload' as const, id: 'u', startedAt: new Date() }],
  ])('discardPendingWrite refuses %s with ArgumentError before any request', async (_label, write) => {
    const sent = captureRequests(service.client);
    await expect(service.discardPendingWrite(write)).rejects.toBeInstanceOf(ArgumentError);
    expect(sent).toEqual([]);
  });
});
