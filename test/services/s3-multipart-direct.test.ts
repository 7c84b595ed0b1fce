import { HeadObjectCommand, ListMultipartUploadsCommand, ListPartsCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { ArgumentError, ConfigurationError, EncryptionError, FileNotFoundError, IntegrityError, InvalidKeyError, StorageAccessError } from '../../src/core/errors.ts';
import { generateKey } from '../../src/core/keys.ts';
import type { MultipartDirectUpload, MultipartDirectUploadOptions } from '../../src/services/Service.ts';
import type { S3Service } from '../../src/services/s3/S3Service.ts';
import type { SecureS3Service } from '../../src/services/s3/SecureS3Service.ts';
import { captureRequests, createTestBucket, makeService, missing, s3Endpoint, s3Settings, type TestBucket } from '../support/s3.ts';
import { readAll } from '../../src/testing/contract.ts';

const MIB = 1024 * 1024;
const kmsKeyId = s3Endpoint().kmsKeyId ?? 'unset';

/** The bytes cut into parts of these sizes. */
function split(data: Buffer, sizes: readonly number[]): Buffer[] {
  let offset = 0;
  return sizes.map((size) => data.subarray(offset, (offset += size)));
}

function describeParts(parts: readonly Buffer[]): MultipartDirectUploadOptions['parts'] {
  return parts.map((part) => ({ byteSize: part.length, checksum: md5Base64(part) }));
}

/** What a browser does: PUT the bytes to the part's URL with exactly the headers it was given. */
function putPart(part: MultipartDirectUpload['parts'][number], body: Buffer): Promise<Response> {
  return fetch(part.url, { method: 'PUT', headers: part.headers, body: Buffer.from(body) });
}

/** A lost connection: the headers and half the bytes, then the socket closes. */
async function dropMidPart(part: MultipartDirectUpload['parts'][number], body: Buffer): Promise<void> {
  await new Promise<void>((resolve) => {
    const req = request(part.url, { method: 'PUT', headers: { ...part.headers, 'Content-Length': String(body.length) } });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write(body.subarray(0, body.length >> 1), () => setTimeout(() => req.destroy(), 50));
  });
}

async function putAll(upload: MultipartDirectUpload, parts: readonly Buffer[]): Promise<void> {
  const statuses = await Promise.all(upload.parts.map(async (part, i) => (await putPart(part, parts[i]!)).status));
  expect(statuses).toEqual(parts.map(() => 200));
}

describe.skipIf(missing('strict'))('multipart direct uploads', () => {
  let bucket: TestBucket;
  let plain: S3Service;
  let secure: SecureS3Service;
  beforeAll(async () => {
    bucket = await createTestBucket();
    plain = makeService('S3', 'plain', s3Settings(bucket.name)) as S3Service;
    secure = makeService('SecureS3', 'secure', s3Settings(bucket.name, { kms_key_id: kmsKeyId })) as SecureS3Service;
  });
  afterAll(() => bucket?.remove());

  const head = (key: string) => bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: key }));
  const openUploadsOf = async (key: string) =>
    (await bucket.client.send(new ListMultipartUploadsCommand({ Bucket: bucket.name, Prefix: key }))).Uploads ?? [];

  describe.skipIf(missing('kms'))('SecureS3 with SSE-KMS', () => {
    it('a 12 MiB file in 3 parts (5, 5, 2 MiB) lands encrypted with the key, and downloads intact', async () => {
      const key = generateKey();
      const data = randomBytes(12 * MIB);
      const parts = split(data, [5 * MIB, 5 * MIB, 2 * MIB]);
      const sent = captureRequests(secure.client);
      const upload = await secure.createMultipartDirectUpload(key, { expiresIn: 300, contentType: 'video/mp4', filename: 'clip.mp4', parts: describeParts(parts) });

      const creates = sent.filter((r) => r.command === 'CreateMultipartUploadCommand');
      expect(creates).toHaveLength(1);
      expect(creates[0]!.headers['x-amz-server-side-encryption']).toBe('aws:kms');
      expect(creates[0]!.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBe(kmsKeyId);
      expect(creates[0]!.headers['content-type']).toBe('video/mp4');

      expect(upload.uploadId).toEqual(expect.any(String));
      expect(upload.parts.map((p) => [p.partNumber, p.headers])).toEqual(parts.map((part, i) => [i + 1, { 'Content-MD5': md5Base64(part) }]));
      for (const part of upload.parts) {
        const url = new URL(part.url);
        expect(url.searchParams.get('partNumber')).toBe(String(part.partNumber));
        expect(url.searchParams.get('uploadId')).toBe(upload.uploadId);
        expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual(expect.arrayContaining(['content-md5', 'content-length']));
        expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
      }

      await putAll(upload, parts);
      await secure.completeMultipartDirectUpload(key, upload.uploadId, 3);

      const answer = await head(key);
      expect([answer.ServerSideEncryption, answer.SSEKMSKeyId]).toEqual(['aws:kms', kmsKeyId]);
      expect(answer.ContentType).toBe('video/mp4');
      // Only raster images and PDF are stored inline (serving.ts storedHeaders, Rails' service_metadata).
      expect(answer.ContentDisposition).toMatch(/^attachment; filename="clip\.mp4"/);
      expect(answer.ContentLength).toBe(data.length);
      expect((await readAll(await secure.download(key))).equals(data)).toBe(true);
      expect(await secure.verifyStored(key)).toEqual({ metadata: { encryption: { algorithm: 'aws:kms', kmsKeyId } } });
      expect(await openUploadsOf(key)).toEqual([]);
    });

    it('a part whose bytes do not match its signed Content-MD5 is refused, and so is a dropped one; re-sending them resumes', async () => {
      const key = generateKey();
      const data = randomBytes(5 * MIB + 300_000);
      const parts = split(data, [5 * MIB, 300_000]);
      const upload = await secure.createMultipartDirectUpload(key, { expiresIn: 300, contentType: 'application/octet-stream', parts: describeParts(parts) });
      const [first, second] = upload.parts as [MultipartDirectUpload['parts'][number], MultipartDirectUpload['parts'][number]];

      const tampered = Buffer.from(parts[1]!);
      tampered[0] = tampered[0]! ^ 0xff;
      const refused = await putPart(second, tampered);
      expect([400, 403]).toContain(refused.status);
      if (refused.status === 400) expect(await refused.text()).toMatch(/BadDigest/);

      await dropMidPart(first, parts[0]!);
      const held = await bucket.client.send(new ListPartsCommand({ Bucket: bucket.name, Key: key, UploadId: upload.uploadId }));
      expect(held.Parts ?? []).toEqual([]);

      await putAll(upload, parts);
      await secure.completeMultipartDirectUpload(key, upload.uploadId, 2);
      expect((await readAll(await secure.download(key))).equals(data)).toBe(true);
    });

    it.skipIf(missing('silentAes256'))('asking RGW for AES256 (silently ignored) fails closed at complete: EncryptionError, object deleted, no upload left', async () => {
      const aes = makeService('SecureS3', 'aes', s3Settings(bucket.name, { server_side_encryption: 'AES256' })) as S3Service;
      const key = generateKey();
      const parts = [randomBytes(1000)];
      const sent = captureRequests(aes.client);
      const upload = await aes.createMultipartDirectUpload(key, { expiresIn: 60, contentType: 'text/plain', parts: describeParts(parts) });
      expect(sent.find((r) => r.command === 'CreateMultipartUploadCommand')?.headers['x-amz-server-side-encryption']).toBe('AES256');
      await putAll(upload, parts);
      const error = await aes.completeMultipartDirectUpload(key, upload.uploadId, 1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EncryptionError);
      expect((error as Error).message).toMatch(/reported encryption "none" instead of "AES256"\. The object was deleted\./);
      expect(await aes.exists(key)).toBe(false);
      expect(await openUploadsOf(key)).toEqual([]);
    });
  });

  it('plain S3 (no SSE): completes, sends no SSE header, stores no encryption', async () => {
    const key = generateKey();
    const data = randomBytes(5 * MIB + 1234);
    const parts = split(data, [5 * MIB, 1234]);
    const sent = captureRequests(plain.client);
    const upload = await plain.createMultipartDirectUpload(key, { expiresIn: 60, contentType: 'image/png', parts: describeParts(parts) });
    const create = sent.find((r) => r.command === 'CreateMultipartUploadCommand')!;
    expect(Object.keys(create.headers).filter((name) => name.startsWith('x-amz-server-side'))).toEqual([]);
    await putAll(upload, parts);
    await plain.completeMultipartDirectUpload(key, upload.uploadId, 2);
    const answer = await head(key);
    expect(answer.ServerSideEncryption).toBeUndefined();
    expect(answer.ContentType).toBe('image/png');
    expect((await readAll(await plain.download(key))).equals(data)).toBe(true);
  });

  describe('completing anything but exactly parts 1..partCount aborts the upload and keeps nothing', () => {
    it.each([
      ['a missing part', [5 * MIB, 1000], [1], 2, /part 2 of 2 never arrived/],
      ['a missing first part', [5 * MIB, 1000], [2], 2, /part 1 of 2 never arrived/],
      ['an extra part', [5 * MIB, 1000], [1, 2], 1, /holds part 2, beyond the 1 expected/],
    ])('%s → IntegrityError', async (_label, sizes, sentParts, partCount, message) => {
      const key = generateKey();
      const parts = split(randomBytes(sizes.reduce((a, b) => a + b)), sizes);
      const upload = await plain.createMultipartDirectUpload(key, { expiresIn: 60, contentType: 'text/plain', parts: describeParts(parts) });
      for (const n of sentParts) expect((await putPart(upload.parts[n - 1]!, parts[n - 1]!)).status).toBe(200);
      const error = await plain.completeMultipartDirectUpload(key, upload.uploadId, partCount).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IntegrityError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toMatch(/The upload was aborted\./);
      expect(await openUploadsOf(key)).toEqual([]);
      expect(await plain.exists(key)).toBe(false);
    });

    it('S3 refusing the Complete (a part under 5 MiB that is not the last, sent around the checks) aborts too', async () => {
      // Two small parts pass S3's part PUTs but not its Complete (EntityTooSmall): a translated error, and no upload left.
      const key = generateKey();
      const small = [randomBytes(1000)];
      const first = await plain.createMultipartDirectUpload(key, { expiresIn: 60, contentType: 'text/plain', parts: describeParts(small) });
      await putAll(first, small);
      await bucket.client.send(new UploadPartCommand({ Bucket: bucket.name, Key: key, UploadId: first.uploadId, PartNumber: 2, Body: randomBytes(10) }));
      const error = await plain.completeMultipartDirectUpload(key, first.uploadId, 2).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageAccessError);
      expect((error as Error).message).toMatch(/could not complete the multipart direct upload of .*\(EntityTooSmall\)/);
      expect(await openUploadsOf(key)).toEqual([]);
      expect(await plain.exists(key)).toBe(false);
    });

    it('an unknown or aborted upload → FileNotFoundError; abort is idempotent', async () => {
      const key = generateKey();
      const parts = [randomBytes(100)];
      const upload = await plain.createMultipartDirectUpload(key, { expiresIn: 60, contentType: 'text/plain', parts: describeParts(parts) });
      await putAll(upload, parts);
      await plain.abortMultipartDirectUpload(key, upload.uploadId);
      await plain.abortMultipartDirectUpload(key, upload.uploadId);
      await plain.abortMultipartDirectUpload(key, 'no-such-upload');
      expect(await openUploadsOf(key)).toEqual([]);
      await expect(plain.completeMultipartDirectUpload(key, upload.uploadId, 1)).rejects.toBeInstanceOf(FileNotFoundError);
      await expect(plain.completeMultipartDirectUpload(key, 'no-such-upload', 1)).rejects.toBeInstanceOf(FileNotFoundError);
      expect(await plain.exists(key)).toBe(false);
    });
  });
});

describe('multipart direct upload inputs are refused before any SDK call', () => {
  const ok = { byteSize: 5 * MIB, checksum: md5Base64('a') };
  const last = { byteSize: 10, checksum: md5Base64('b') };
  const base: MultipartDirectUploadOptions = { expiresIn: 60, contentType: 'text/plain', parts: [ok, last] };
  const service = makeService('SecureS3', 'unreachable', s3Settings('no-such-bucket', { kms_key_id: kmsKeyId, endpoint: 'http://127.0.0.1:9' })) as S3Service;

  it.each<[string, Partial<MultipartDirectUploadOptions> | Record<string, unknown>]>([
    ['empty parts', { parts: [] }],
    ['10001 parts', { parts: [...Array.from({ length: 10_000 }, () => ok), last] }],
    ['a part under 5 MiB that is not the last', { parts: [{ ...ok, byteSize: 5 * MIB - 1 }, last] }],
    ['a last part of 0 bytes', { parts: [ok, { ...last, byteSize: 0 }] }],
    ['a fractional size', { parts: [{ ...ok, byteSize: 5 * MIB + 0.5 }, last] }],
    ['a part over 5 GiB', { parts: [{ ...ok, byteSize: 5 * 1024 ** 3 + 1 }, last] }],
    ['a hex checksum', { parts: [ok, { ...last, checksum: '0cc175b9c0f1b6a831c399e269772661' }] }],
    ['a checksum of the wrong length', { parts: [ok, { ...last, checksum: Buffer.alloc(20).toString('base64') }] }],
    ['a missing checksum', { parts: [ok, { byteSize: 10 }] }],
    ['expiresIn 0', { expiresIn: 0 }],
    ['expiresIn over 7 days', { expiresIn: 604_801 }],
    ['no content type', { contentType: '' }],
    ['parts not an array', { parts: 'two' }],
  ])('%s → ArgumentError', async (_label, change) => {
    const sent = captureRequests(service.client);
    await expect(service.createMultipartDirectUpload(generateKey(), { ...base, ...change } as MultipartDirectUploadOptions)).rejects.toBeInstanceOf(ArgumentError);
    expect(sent).toEqual([]);
  });

  it('a bad key, upload id or part count is refused before any SDK call too', async () => {
    const sent = captureRequests(service.client);
    await expect(service.createMultipartDirectUpload('', base)).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(service.completeMultipartDirectUpload(generateKey(), '', 1)).rejects.toBeInstanceOf(ArgumentError);
    for (const count of [0, 10_001, 1.5, Number.NaN]) {
      await expect(service.completeMultipartDirectUpload(generateKey(), 'id', count)).rejects.toBeInstanceOf(ArgumentError);
    }
    await expect(service.abortMultipartDirectUpload(generateKey(), '')).rejects.toBeInstanceOf(ArgumentError);
    expect(sent).toEqual([]);
  });

  it('SecureS3 with SSE-C refuses all three with ConfigurationError (a browser cannot send the key)', async () => {
    const sseC = makeService('SecureS3', 'ssec', s3Settings('some-bucket', { sse_customer_key: randomBytes(32).toString('base64') })) as S3Service;
    const sent = captureRequests(sseC.client);
    await expect(sseC.createMultipartDirectUpload(generateKey(), base)).rejects.toBeInstanceOf(ConfigurationError);
    await expect(sseC.completeMultipartDirectUpload(generateKey(), 'id', 1)).rejects.toBeInstanceOf(ConfigurationError);
    await expect(sseC.abortMultipartDirectUpload(generateKey(), 'id')).rejects.toBeInstanceOf(ConfigurationError);
    expect(sent).toEqual([]);
  });
});
