import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FileTooLargeError, IntegrityError } from '../../src/index.ts';
import { md5Base64 } from '../../src/core/checksum.ts';
import { generateKey } from '../../src/core/keys.ts';
import type { StorageService } from '../../src/services/Service.ts';
import type { S3Service } from '../../src/services/s3/S3Service.ts';
import { chunked, readAll } from '../../src/testing/contract.ts';
import { createTestBucket, makeService, missing, s3Endpoint, s3Settings, type TestBucket } from '../support/s3.ts';
import { startFaultProxy, type Fault, type FaultProxy } from './fault-proxy.ts';

const MIB = 1024 * 1024;
const PART = 5 * MIB;

const PUT_OBJECT = /^PUT \S*[?&]x-id=PutObject/;
const UPLOAD_PART = (n: number): RegExp => new RegExp(`^PUT \\S*[?&]partNumber=${n}&`);
const ANY_PART = /^PUT \S*[?&]partNumber=\d+&\S*x-id=UploadPart/;

type Adapter = 'S3' | 'SecureS3';
const adapters: Adapter[] = ['S3', 'SecureS3'];

/**
 * Every upload path of S3Service and SecureS3Service, through a TCP proxy that alters one byte
 * of a chosen request body in flight. Each failure must be an IntegrityError (or FileTooLargeError)
 * and leave nothing: no object and no multipart upload (listPendingWrites shows none).
 */
describe.skipIf(missing('strict'))('S3 upload integrity, through a proxy that alters bytes in flight', () => {
  let bucket: TestBucket;
  let proxy: FaultProxy | undefined;
  /** Request lines the proxy saw (method and path), for the path each upload took. */
  let seen: string[] = [];
  beforeAll(async () => {
    bucket = await createTestBucket();
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    seen = [];
  });
  afterAll(() => bucket?.remove());

  const settingsFor = (adapter: Adapter, endpoint: string, extra: Record<string, unknown>): Record<string, unknown> =>
    s3Settings(bucket.name, { endpoint, ...(adapter === 'SecureS3' && { kms_key_id: s3Endpoint().kmsKeyId }), ...extra });

  /** A service behind the proxy; `fault` picks the request to alter (once) by its request line. */
  async function behindProxy(adapter: Adapter, corrupt?: { when: RegExp; atByte?: number }, extra: Record<string, unknown> = {}): Promise<StorageService> {
    let left = 1;
    proxy = await startFaultProxy(s3Endpoint().endpoint, (head): Fault | undefined => {
      const line = head.split('\r\n')[0] ?? '';
      seen.push(line);
      if (corrupt === undefined || left <= 0 || !corrupt.when.test(line)) return undefined;
      left -= 1;
      return { kind: 'corrupt', atByte: corrupt.atByte ?? 0 };
    });
    return makeService(adapter, 'integrity', settingsFor(adapter, proxy.endpoint, { multipart_threshold: PART, ...extra }));
  }

  async function expectNothingLeft(service: StorageService, key: string): Promise<void> {
    expect(await service.exists(key)).toBe(false);
    const pending = [];
    for await (const write of service.listPendingWrites!()) pending.push(write);
    expect(pending).toEqual([]);
  }

  const partsSent = (): number => seen.filter((line) => ANY_PART.test(line)).length;
  const putsSent = (): number => seen.filter((line) => PUT_OBJECT.test(line)).length;

  describe.each(adapters)('%s', (adapter) => {
    const skip = adapter === 'SecureS3' ? missing('kms') : undefined;

    it.skipIf(skip).each([
      ['a single PutObject (stream, hashed inline)', PUT_OBJECT, 500, () => chunked(randomBytes(1000), 100)],
      ['a single PutObject (known size, hashed on the worker)', PUT_OBJECT, 4 * MIB + 7, () => randomBytes(4 * MIB + 100)],
      ['the first part of a stream', UPLOAD_PART(1), 3 * MIB, () => chunked(randomBytes(3 * PART + 5), 64 * 1024)],
      ['a middle part of a stream', UPLOAD_PART(2), PART - 1, () => chunked(randomBytes(3 * PART + 5), 64 * 1024)],
      ['the last part of a stream', UPLOAD_PART(4), 2, () => chunked(randomBytes(3 * PART + 5), 64 * 1024)],
      ['a part of a Uint8Array body', UPLOAD_PART(2), MIB, () => randomBytes(2 * PART + 5)],
    ])('a byte altered in flight in %s is refused by the server: IntegrityError, nothing left', async (_label, when, atByte, body) => {
      const service = await behindProxy(adapter, { when, atByte }, { part_size: PART, multipart_threshold: 2 * PART });
      const key = generateKey();
      const error = await service.upload(key, body()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IntegrityError);
      expect((error as Error).message).toMatch(/XAmzContentSHA256Mismatch|BadDigest/);
      expect(proxy!.faulted).toHaveLength(1);
      await expectNothingLeft(service, key);
    });

    it.skipIf(skip)('a part the SDK re-sends after a 500 is still checked, and the upload then succeeds unaltered', async () => {
      let failed = false;
      proxy = await startFaultProxy(s3Endpoint().endpoint, (head) => {
        if (failed || !UPLOAD_PART(2).test(head.split('\r\n')[0] ?? '')) return undefined;
        failed = true;
        return { kind: 'status', status: 500 };
      });
      const service = makeService(adapter, 'retry', settingsFor(adapter, proxy.endpoint, { multipart_threshold: PART }));
      const data = randomBytes(2 * PART + 3);
      const key = generateKey();
      expect(await service.upload(key, chunked(data, 64 * 1024))).toMatchObject({ checksum: md5Base64(data), byteSize: data.length });
      expect((await readAll(await service.download(key))).equals(data)).toBe(true);
    });

    it.skipIf(skip).each([
      ['a multipart stream', () => randomBytes(3 * PART + 5), true, 3],
      ['a multipart Uint8Array', () => randomBytes(3 * PART + 5), false, 3],
      ['a single put', () => randomBytes(1000), true, 0],
    ])('%s whose bytes differ from the declared checksum is refused before its last part: IntegrityError, nothing left', async (_label, make, stream, partsBeforeLast) => {
      const service = await behindProxy(adapter);
      const data = make();
      const declared = md5Base64(data);
      data[data.length >> 1] = data[data.length >> 1]! ^ 1; // the body altered before it reaches attache
      const key = generateKey();
      const body = stream ? chunked(data, 64 * 1024) : data;
      await expect(service.upload(key, body, { checksum: declared })).rejects.toBeInstanceOf(IntegrityError);
      // The last part (or the put) never left; parts before it may have been cancelled before they were sent.
      expect(seen.some((line) => UPLOAD_PART(partsBeforeLast + 1).test(line))).toBe(false);
      expect(partsSent()).toBeLessThanOrEqual(partsBeforeLast);
      expect(putsSent()).toBe(0);
      await expectNothingLeft(service, key);
    });
  });

  it.each([
    ['a multipart stream shorter than byteSize', 3 * PART + 5, { byteSize: 3 * PART + 6 }, IntegrityError],
    ['a single-put stream shorter than byteSize', 1000, { byteSize: 1001 }, IntegrityError],
    ['a multipart stream longer than byteSize', 3 * PART + 5, { byteSize: 3 * PART + 4 }, FileTooLargeError],
    ['a single-put stream longer than byteSize', 1000, { byteSize: 999 }, FileTooLargeError],
    ['a multipart stream over maxByteSize', 3 * PART + 5, { maxByteSize: 2 * PART }, FileTooLargeError],
  ])('%s fails and leaves nothing', async (_label, size, options, type) => {
    const service = await behindProxy('S3');
    const key = generateKey();
    await expect(service.upload(key, chunked(randomBytes(size), 64 * 1024), options)).rejects.toBeInstanceOf(type);
    expect(putsSent()).toBe(0);
    await expectNothingLeft(service, key);
  });

  it('a Uint8Array over maxByteSize is refused before any request', async () => {
    const service = await behindProxy('S3');
    await expect(service.upload(generateKey(), randomBytes(PART + 1), { maxByteSize: PART })).rejects.toBeInstanceOf(FileTooLargeError);
    expect(seen).toEqual([]);
  });

  describe('threshold and part boundaries: the path taken, and the bytes stored exactly', () => {
    const md5 = (data: Uint8Array): string => createHash('md5').update(data).digest('base64');
    // With multipart_threshold = part_size = 5 MiB (S3's smallest part), and with a threshold above the part size.
    it.each([
      [PART, 0, 'put'],
      [PART, 1, 'put'],
      [PART, PART - 1, 'put'],
      [PART, PART, 'put'],
      [PART, PART + 1, 2],
      [PART, 2 * PART, 2],
      [PART, 2 * PART + 1, 3],
      [3 * PART, 3 * PART - 1, 3], // below the threshold but over one part: multipart, as lib-storage does
      [3 * PART, 3 * PART, 3],
      [3 * PART, 3 * PART + 1, 4],
    ])('threshold %i, %i bytes: %s', async (threshold, size, path) => {
      const service = await behindProxy('S3', undefined, { multipart_threshold: threshold, part_size: PART });
      const data = randomBytes(size);
      for (const [label, body, options] of [
        ['stream', () => chunked(data, 100_000), {}],
        ['stream of known size', () => chunked(data, 100_000), { byteSize: size }],
        ['Uint8Array', () => data, {}],
      ] as const) {
        seen = [];
        const key = generateKey();
        const result = await service.upload(key, body(), options);
        expect(result, label).toMatchObject({ checksum: md5(data), byteSize: size });
        expect(path === 'put' ? putsSent() : partsSent(), label).toBe(path === 'put' ? 1 : path);
        expect(path === 'put' ? partsSent() : putsSent(), label).toBe(0);
        expect((await readAll(await service.download(key))).equals(data), label).toBe(true);
        await service.delete(key);
      }
    });

    it('a source that refills one buffer for every chunk is stored exactly (each chunk is copied before the next is asked for)', async () => {
      const service = await behindProxy('S3');
      const data = randomBytes(2 * PART + 12_345);
      const chunk = Buffer.alloc(65_536);
      let at = 0;
      // As a file read into a reused buffer: the refill happens after the chunk was handed over, in a later turn.
      const reusing = new Readable({
        read() {
          setImmediate(() => {
            if (at >= data.length) return void this.push(null);
            const n = data.copy(chunk, 0, at, at + chunk.length);
            at += n;
            this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
          });
        },
      });
      const key = generateKey();
      expect(await service.upload(key, reusing)).toMatchObject({ checksum: md5(data), byteSize: data.length });
      expect((await readAll(await service.download(key))).equals(data)).toBe(true);
    });
  });

  describe('the payload check of every PutObject and UploadPart (client.ts)', () => {
    async function openUpload(service: S3Service, key: string): Promise<string> {
      const { UploadId } = await service.client.send(new CreateMultipartUploadCommand({ Bucket: bucket.name, Key: key }));
      return UploadId!;
    }

    it('an unsigned payload (UNSIGNED-PAYLOAD) gets a Content-MD5, so a byte altered in flight is refused (BadDigest)', async () => {
      const service = (await behindProxy('S3', { when: UPLOAD_PART(1), atByte: 10 })) as S3Service;
      const key = generateKey();
      const uploadId = await openUpload(service, key);
      const command = new UploadPartCommand({ Bucket: bucket.name, Key: key, UploadId: uploadId, PartNumber: 1, Body: randomBytes(1000) });
      // As if the SDK left the payload unsigned (it does for stream bodies): the signer keeps a preset hash header.
      // Without the added Content-MD5, RGW accepts the altered part.
      command.middlewareStack.add((next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
        return next(args);
      }, { step: 'build' });
      const error = await service.client.send(command).catch((e: unknown) => e);
      expect((error as { name?: string }).name).toBe('BadDigest');
      expect(proxy!.faulted).toHaveLength(1);
      await service.client.send(new AbortMultipartUploadCommand({ Bucket: bucket.name, Key: key, UploadId: uploadId }));
    });

    it('an unsigned stream body is refused before it is sent', async () => {
      const service = (await behindProxy('S3')) as S3Service;
      const key = generateKey();
      const uploadId = await openUpload(service, key);
      seen = [];
      const command = new UploadPartCommand({ Bucket: bucket.name, Key: key, UploadId: uploadId, PartNumber: 1, Body: Readable.from([randomBytes(10)]), ContentLength: 10 });
      await expect(service.client.send(command)).rejects.toBeInstanceOf(IntegrityError);
      expect(seen).toEqual([]);
      await service.client.send(new AbortMultipartUploadCommand({ Bucket: bucket.name, Key: key, UploadId: uploadId }));
    });
  });

  describe('direct uploads: the presigned PUTs sign Content-MD5, so altered bytes are refused', () => {
    it('a single direct PUT', async () => {
      const service = await behindProxy('S3', { when: /^PUT /, atByte: 10 });
      const data = randomBytes(2048);
      const checksum = md5Base64(data);
      const key = generateKey();
      const url = await service.urlForDirectUpload(key, { expiresIn: 300, contentType: 'image/png', contentLength: data.length, checksum });
      const headers = service.headersForDirectUpload(key, { contentType: 'image/png', checksum });
      const response = await fetch(url, { method: 'PUT', headers, body: data });
      expect(response.status).toBe(400);
      expect(await response.text()).toMatch(/BadDigest/);
      expect(await service.exists(key)).toBe(false);
    });

    it('a part of a multipart direct upload, and Complete then refuses the missing part and aborts', async () => {
      const service = await behindProxy('S3', { when: UPLOAD_PART(2), atByte: 100 });
      const parts = [randomBytes(PART), randomBytes(1000)];
      const key = generateKey();
      const upload = await service.createMultipartDirectUpload!(key, { expiresIn: 300, contentType: 'application/pdf', parts: parts.map((p) => ({ byteSize: p.length, checksum: md5Base64(p) })) });
      const statuses = [];
      for (const [i, part] of upload.parts.entries()) statuses.push((await fetch(part.url, { method: 'PUT', headers: part.headers, body: parts[i] })).status);
      expect(statuses).toEqual([200, 400]);
      await expect(service.completeMultipartDirectUpload!(key, upload.uploadId, 2)).rejects.toBeInstanceOf(IntegrityError);
      await expectNothingLeft(service, key);
    });
  });
});
