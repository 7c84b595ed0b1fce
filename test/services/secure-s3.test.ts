import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { ConfigurationError, EncryptionError, FileNotFoundError } from '../../src/core/errors.ts';
import { generateKey } from '../../src/core/keys.ts';
import type { StorageService } from '../../src/services/Service.ts';
import { SecureS3Service } from '../../src/services/s3/SecureS3Service.ts';
import { s3Options } from '../../src/services/s3/settings.ts';
import { captureRequests, createTestBucket, loggedClient, makeService, missing, s3Endpoint, s3Settings, type CapturedRequest, type TestBucket } from '../support/s3.ts';
import { openMultipartUpload } from '../support/s3.ts';
import { chunked, readAll, serviceContract } from '../../src/testing/contract.ts';

const MIB = 1024 * 1024;
const THRESHOLD = 5 * MIB;
const kmsKeyId = s3Endpoint().kmsKeyId ?? 'unset';
const secureSettings = (bucket: string, extra: Record<string, unknown> = {}) =>
  s3Settings(bucket, { kms_key_id: kmsKeyId, multipart_threshold: THRESHOLD, ...extra });

describe.skipIf(missing('kms'))('SecureS3 with SSE-KMS', () => {
  serviceContract(
    'SecureS3Service (SSE-KMS)',
    async () => {
      const bucket = await createTestBucket();
      return { service: makeService('SecureS3', 'secure', secureSettings(bucket.name)), cleanup: () => bucket.remove() };
    },
    { sizes: [0, 1, THRESHOLD - 1, THRESHOLD, THRESHOLD + 1], leavePendingWrite: openMultipartUpload },
  );

  let bucket: TestBucket;
  let service: SecureS3Service;
  beforeAll(async () => {
    bucket = await createTestBucket();
    service = makeService('SecureS3', 'secure', secureSettings(bucket.name)) as SecureS3Service;
  });
  afterAll(() => bucket?.remove());

  const head = (key: string) => bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: key }));
  async function expectKmsAtRest(key: string, keyId = kmsKeyId): Promise<void> {
    const answer = await head(key);
    expect([answer.ServerSideEncryption, answer.SSEKMSKeyId]).toEqual(['aws:kms', keyId]);
  }
  function expectKmsOnWrites(sent: CapturedRequest[], expectedCommands: string[]): void {
    const writes = sent.filter((r) => ['PutObjectCommand', 'CreateMultipartUploadCommand', 'CopyObjectCommand'].includes(r.command));
    expect(writes.map((r) => r.command)).toEqual(expectedCommands);
    for (const write of writes) {
      expect(write.headers['x-amz-server-side-encryption']).toBe('aws:kms');
      expect(write.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBe(kmsKeyId);
    }
  }

  describe('every write path sends aws:kms and the key, and the server confirms both (checklist 24)', () => {
    it('single put', async () => {
      const sent = captureRequests(service.client);
      const key = generateKey();
      const result = await service.upload(key, Buffer.from('secret report'));
      expectKmsOnWrites(sent, ['PutObjectCommand']);
      await expectKmsAtRest(key);
      expect(result.metadata).toEqual({ encryption: { algorithm: 'aws:kms', kmsKeyId } });
    });

    it('multipart: a 12 MiB stream, downloaded intact, verified by MD5 and never by ETag (checklist 7)', async () => {
      const sent = captureRequests(service.client);
      const key = generateKey();
      const data = randomBytes(12 * MIB);
      const result = await service.upload(key, chunked(data, 256 * 1024), { checksum: md5Base64(data), byteSize: data.length });
      expectKmsOnWrites(sent, ['CreateMultipartUploadCommand']);
      expect(sent.filter((r) => r.command === 'UploadPartCommand')).toHaveLength(3);
      await expectKmsAtRest(key);
      expect(result).toEqual({ checksum: md5Base64(data), byteSize: data.length, metadata: { encryption: { algorithm: 'aws:kms', kmsKeyId } } });
      expect((await head(key)).ETag?.replaceAll('"', '')).not.toBe(createHash('md5').update(data).digest('hex'));
      expect((await readAll(await service.download(key))).equals(data)).toBe(true);
    });

    it('compose by UploadPartCopy of encrypted sources (never CopyObject)', async () => {
      const parts = [randomBytes(THRESHOLD + 1), randomBytes(777)];
      const keys = [generateKey(), generateKey()];
      for (const [i, part] of parts.entries()) await service.upload(keys[i]!, part);
      const sent = captureRequests(service.client);
      const destination = generateKey();
      const result = await service.compose(keys, destination, { contentType: 'application/pdf' });
      expectKmsOnWrites(sent, ['CreateMultipartUploadCommand']);
      expect(sent.filter((r) => r.command === 'UploadPartCopyCommand')).toHaveLength(2);
      const whole = Buffer.concat(parts);
      expect(result).toEqual({ checksum: md5Base64(whole), byteSize: whole.length, metadata: { encryption: { algorithm: 'aws:kms', kmsKeyId } } });
      await expectKmsAtRest(destination);
      expect((await head(destination)).ContentType).toBe('application/pdf');
      expect((await readAll(await service.download(destination))).equals(whole)).toBe(true);
    });

    it('compose of small sources (streamed back through the upload path)', async () => {
      const keys = [generateKey(), generateKey()];
      for (const key of keys) await service.upload(key, Buffer.from(key));
      const sent = captureRequests(service.client);
      const destination = generateKey();
      await service.compose(keys, destination);
      expectKmsOnWrites(sent, ['PutObjectCommand']);
      await expectKmsAtRest(destination);
      expect((await readAll(await service.download(destination))).toString()).toBe(keys.join(''));
    });

    it.skipIf(missing('strict'))('direct upload: the SSE headers are signed headers, returned to the client, and required', async () => {
      const key = generateKey();
      const data = randomBytes(4096);
      const checksum = md5Base64(data);
      const url = new URL(await service.urlForDirectUpload(key, { expiresIn: 300, contentType: 'image/png', contentLength: data.length, checksum }));
      const headers = service.headersForDirectUpload(key, { contentType: 'image/png', checksum });
      expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual(
        expect.arrayContaining(['x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id', 'content-md5', 'content-length', 'content-type']),
      );
      expect([...url.searchParams.keys()].filter((name) => /server-side/i.test(name))).toEqual([]);
      expect(headers).toEqual({
        'Content-Type': 'image/png', 'Content-MD5': checksum, 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': kmsKeyId,
      });
      const { 'x-amz-server-side-encryption': _, ...withoutSse } = headers;
      expect((await fetch(url, { method: 'PUT', headers: withoutSse, body: data })).status).toBe(403);
      expect(await service.exists(key)).toBe(false);
      expect((await fetch(url, { method: 'PUT', headers, body: data })).status).toBe(200);
      await expectKmsAtRest(key);
      expect(await service.verifyStored(key)).toEqual({ metadata: { encryption: { algorithm: 'aws:kms', kmsKeyId } } });
    });
  });

  it('a presigned GET of a KMS object downloads the bytes', async () => {
    const key = generateKey();
    const data = randomBytes(10_000);
    await service.upload(key, data);
    const response = await fetch(await service.url(key, { expiresIn: 60, disposition: 'inline', filename: 'x.bin', contentType: 'application/octet-stream' }));
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).equals(data)).toBe(true);
  });

  describe('fail closed (checklist 24)', () => {
    const paths: Array<[string, (s: StorageService, key: string) => Promise<unknown>]> = [
      ['a single put', (s, key) => s.upload(key, Buffer.from('x'))],
      ['a multipart upload', (s, key) => s.upload(key, chunked(randomBytes(THRESHOLD + 10), 128 * 1024))],
      ['a compose by UploadPartCopy', async (s, key) => {
        const sources = [generateKey(), generateKey()];
        for (const source of sources) await bucket.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: source, Body: randomBytes(THRESHOLD) }));
        return s.compose(sources, key);
      }],
    ];

    it.each(paths)('an unknown KMS key id on %s gives EncryptionError and leaves no object and no upload', async (_label, write) => {
      const unknown = makeService('SecureS3', 'unknown-key', secureSettings(bucket.name, { kms_key_id: `no-such-key-${generateKey()}` }));
      const key = generateKey();
      await expect(write(unknown, key)).rejects.toBeInstanceOf(EncryptionError);
      expect(await unknown.exists(key)).toBe(false);
      if (!missing('strict')) expect(await bucket.openUploads()).toBe(0);
    });

    it('verifyStored only checks: an object stored without encryption is refused with EncryptionError and left in place (it may be a Rails app\'s)', async () => {
      const key = generateKey();
      await bucket.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: key, Body: 'plaintext' }));
      const error = await service.verifyStored(key).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EncryptionError);
      expect((error as Error).message).toMatch(/reported encryption "none" instead of "aws:kms"\. The object was left in place\./);
      expect(await service.exists(key)).toBe(true);
    });

    it.skipIf(missing('kms2'))('verifyStored refuses an object encrypted with another key, and keeps it', async () => {
      const key = generateKey();
      await bucket.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: key, Body: 'other key', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: s3Endpoint().kmsKeyId2 }));
      await expect(service.verifyStored(key)).rejects.toThrow(/reported KMS key .* instead of/);
      expect(await service.exists(key)).toBe(true);
    });

    it('verifyStored of a missing object is FileNotFoundError', async () => {
      await expect(service.verifyStored(generateKey())).rejects.toBeInstanceOf(FileNotFoundError);
    });

    it.skipIf(missing('silentAes256')).each(paths)('asking RGW for AES256 (silently ignored) on %s fails closed: EncryptionError, object deleted', async (_label, write) => {
      const aes = makeService('SecureS3', 'aes', secureSettings(bucket.name, { kms_key_id: undefined, server_side_encryption: 'AES256' }));
      const key = generateKey();
      const error = await write(aes, key).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EncryptionError);
      expect((error as Error).message).toMatch(/reported encryption "none" instead of "AES256"\. The object was deleted\./);
      expect(await aes.exists(key)).toBe(false);
      expect(await bucket.openUploads()).toBe(0);
    });
  });

  it.skipIf(missing('kms2'))('records the key the server used: a service on the second key says so, and the server agrees', async () => {
    const keyId2 = s3Endpoint().kmsKeyId2!;
    const second = makeService('SecureS3', 'second', secureSettings(bucket.name, { kms_key_id: keyId2 }));
    const key = generateKey();
    const result = await second.upload(key, Buffer.from('other tenant'));
    expect(result.metadata).toEqual({ encryption: { algorithm: 'aws:kms', kmsKeyId: keyId2 } });
    await expectKmsAtRest(key, keyId2);
  });

  it('the debug log shows the encryption headers sent and confirmed, and no credentials', async () => {
    const lines: string[] = [];
    const options = s3Options('logged', secureSettings(bucket.name));
    const withLog = new SecureS3Service({ ...options, client: loggedClient(lines), encryption: { mode: 'server', algorithm: 'aws:kms', kmsKeyId } });
    await withLog.upload(generateKey(), Buffer.from('logged'));
    expect(lines).toContain('[attache:s3] > x-amz-server-side-encryption: aws:kms');
    expect(lines).toContain(`[attache:s3] > x-amz-server-side-encryption-aws-kms-key-id: ${kmsKeyId}`);
    expect(lines).toContain('[attache:s3] < x-amz-server-side-encryption: aws:kms');
    expect(lines.join('\n')).not.toContain(s3Endpoint().secretAccessKey);
  });
});

describe('SecureS3 configuration (checklist 23)', () => {
  const settings = (extra: Record<string, unknown>) => s3Settings('some-bucket', { kms_key_id: 'key-1', ...extra });
  const customerKey = randomBytes(32).toString('base64');

  it.each([
    ['public: true', { public: true }, /cannot be public/],
    ['aws:kms without kms_key_id', { kms_key_id: undefined }, /missing the required setting "kms_key_id"/],
    ['aws:kms:dsse without kms_key_id', { kms_key_id: undefined, server_side_encryption: 'aws:kms:dsse' }, /"kms_key_id"/],
    ['an unknown algorithm', { server_side_encryption: 'aws:fancy' }, /"server_side_encryption"/],
    ['AES256 with a KMS key', { server_side_encryption: 'AES256' }, /"server_side_encryption"/],
    ['an SSE-C key that is not base64', { kms_key_id: undefined, sse_customer_key: `${customerKey.slice(0, -2)}!=` }, /"sse_customer_key"/],
    ['an SSE-C key of 31 bytes', { kms_key_id: undefined, sse_customer_key: randomBytes(31).toString('base64') }, /"sse_customer_key"/],
    ['an SSE-C key of 33 bytes', { kms_key_id: undefined, sse_customer_key: randomBytes(33).toString('base64') }, /"sse_customer_key"/],
    ['SSE-C together with a KMS key', { sse_customer_key: customerKey }, /both "sse_customer_key" and "kms_key_id"/],
    ['a non-map encryption_context', { encryption_context: 'tenant=a' }, /"encryption_context"/],
  ])('refuses %s with ConfigurationError naming the setting, never its value', (_label, extra, message) => {
    const error = (() => {
      try {
        makeService('SecureS3', 'secure', settings(extra));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(String((extra as Record<string, unknown>)['sse_customer_key'] ?? '\u0000'));
  });

  it('toJSON and inspect show the algorithm and key id, never credentials or the SSE-C key', () => {
    const s3 = s3Endpoint();
    const kms = makeService('SecureS3', 'kms', settings({ bucket_key_enabled: 'true', encryption_context: { tenant: 'a' } }));
    expect(JSON.parse(JSON.stringify(kms))).toMatchObject({ name: 'kms', adapter: 'SecureS3', bucket: 'some-bucket', encryption: { algorithm: 'aws:kms', kmsKeyId: 'key-1' } });
    const sseC = makeService('SecureS3', 'ssec', settings({ kms_key_id: undefined, sse_customer_key: customerKey }));
    for (const printed of [JSON.stringify(kms), inspect(kms), JSON.stringify(sseC), inspect(sseC), inspect(sseC, { showHidden: true, depth: 9 })]) {
      for (const secret of [s3.secretAccessKey, customerKey]) expect(printed).not.toContain(secret);
    }
    expect(JSON.parse(JSON.stringify(sseC))).toMatchObject({ adapter: 'SecureS3', encryption: { algorithm: 'SSE-C' } });
  });
});
