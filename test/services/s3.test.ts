import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { ArgumentError, ConfigurationError, FileTooLargeError, IntegrityError, StorageAccessError } from '../../src/core/errors.ts';
import { generateKey } from '../../src/core/keys.ts';
import '../../src/services/builtins.ts';
import { configFromObject } from '../../src/services/config.ts';
import { ServiceRegistry } from '../../src/services/registry.ts';
import { S3Service } from '../../src/services/s3/S3Service.ts';
import { s3Options } from '../../src/services/s3/settings.ts';
import { captureRequests, createTestBucket, loggedClient, makeService, missing, s3Endpoint, s3Settings, type TestBucket } from '../support/s3.ts';
import { openMultipartUpload } from '../support/s3.ts';
import { chunked, failingStream, readAll, serviceContract } from '../../src/testing/contract.ts';

const MIB = 1024 * 1024;
/** S3's smallest part size, so both upload paths run with little data. */
const THRESHOLD = 5 * MIB;

serviceContract(
  'S3Service',
  async () => {
    const bucket = await createTestBucket();
    return { service: makeService('S3', 'files', s3Settings(bucket.name, { multipart_threshold: THRESHOLD })), cleanup: () => bucket.remove() };
  },
  { sizes: [0, 1, THRESHOLD - 1, THRESHOLD, THRESHOLD + 1], leavePendingWrite: openMultipartUpload },
);

describe('S3Service on its own', () => {
  let bucket: TestBucket;
  let service: S3Service;
  beforeAll(async () => {
    bucket = await createTestBucket();
    service = makeService('S3', 'files', s3Settings(bucket.name, { multipart_threshold: String(THRESHOLD) })) as S3Service;
  });
  afterAll(() => bucket?.remove());

  describe('checksums', () => {
    it('signs the SHA-256 of a single put and of every part, with no second per-part MD5; the result is the measured MD5, never the ETag (checklist 7)', async () => {
      const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
      const sent = captureRequests(service.client);
      const small = randomBytes(1000);
      await service.upload(generateKey(), chunked(small, 100));
      const put = sent.find((r) => r.command === 'PutObjectCommand')!;
      expect(put.headers['x-amz-content-sha256']).toBe(sha256(small));
      expect(put.headers['content-md5']).toBeUndefined();

      sent.length = 0;
      const key = generateKey();
      const data = randomBytes(THRESHOLD + 100);
      const result = await service.upload(key, chunked(data, 64 * 1024));
      const parts = sent.filter((r) => r.command === 'UploadPartCommand');
      expect(parts.map((p) => p.headers['x-amz-content-sha256'])).toEqual([sha256(data.subarray(0, THRESHOLD)), sha256(data.subarray(THRESHOLD))]);
      expect(parts.map((p) => p.headers['content-md5'])).toEqual([undefined, undefined]);
      expect(sent.some((r) => r.command === 'PutObjectCommand')).toBe(false);
      expect(result).toEqual({ checksum: md5Base64(data), byteSize: data.length });
      // A real S3 answers a multipart object's ETag as md5-of-part-md5s "-2": it was never what attache checks.
      const { ETag } = await bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: key }));
      if (!missing('strict')) expect(ETag?.replaceAll('"', '')).not.toBe(createHash('md5').update(data).digest('hex'));
    });
  });

  describe('a multipart upload that fails keeps nothing: checked before Complete, and aborted (checklists 5, 8, 22)', () => {
    const big = () => randomBytes(2 * THRESHOLD + 10);
    it.each([
      ['a wrong checksum', () => service.upload(generateKey(), chunked(big(), 256 * 1024), { checksum: md5Base64('other') }), IntegrityError],
      ['a stream shorter than byteSize', () => service.upload(generateKey(), chunked(big(), 256 * 1024), { byteSize: 3 * THRESHOLD }), IntegrityError],
      ['a stream over maxByteSize', () => service.upload(generateKey(), chunked(big(), 256 * 1024), { maxByteSize: 2 * THRESHOLD }), FileTooLargeError],
    ])('%s', async (_label, upload, type) => {
      const before = await bucket.keys();
      await expect(upload()).rejects.toBeInstanceOf(type);
      expect(await bucket.keys()).toEqual(before);
      if (!missing('strict')) expect(await bucket.openUploads()).toBe(0);
    });

    it('a body that fails after several parts: its own error, unchanged', async () => {
      const boom = new Error('the client went away');
      const before = await bucket.keys();
      await expect(service.upload(generateKey(), failingStream(boom, 2 * THRESHOLD + 50_000))).rejects.toBe(boom);
      expect(await bucket.keys()).toEqual(before);
      if (!missing('strict')) expect(await bucket.openUploads()).toBe(0);
    });
  });

  describe('deletePrefixed', () => {
    it.skipIf(missing('strict'))('pages through more than 1000 keys and deletes in batches of at most 1000', async () => {
      const ns = generateKey();
      const doomed = Array.from({ length: 1003 }, (_, i) => `${ns}/p/${i}`);
      const kept = [`${ns}-x`, `${ns}x/0`];
      const all = [...doomed, ...kept];
      for (let i = 0; i < all.length; i += 100) {
        await Promise.all(all.slice(i, i + 100).map((Key) => bucket.client.send(new PutObjectCommand({ Bucket: bucket.name, Key, Body: 'x' }))));
      }
      const sent = captureRequests(service.client);
      await service.deletePrefixed(`${ns}/p`);
      expect(sent.filter((r) => r.command === 'DeleteObjectsCommand')).toHaveLength(2);
      expect((await bucket.keys()).filter((key) => key.startsWith(ns)).sort()).toEqual(kept.sort());
    });
  });

  describe('URLs', () => {
    const urlOptions = { expiresIn: 60, disposition: 'attachment' as const, filename: 'résumé.txt', contentType: 'text/plain' };

    it('a presigned GET serves the bytes with the signed type and disposition', async () => {
      const key = generateKey();
      const data = randomBytes(3000);
      await service.upload(key, data);
      const url = await service.url(key, urlOptions);
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer()).equals(data)).toBe(true);
      expect(response.headers.get('content-type')).toBe('text/plain');
      expect(response.headers.get('content-disposition')).toBe('attachment; filename="r_sum_.txt"; filename*=UTF-8\'\'r%C3%A9sum%C3%A9.txt');
    });

    it.skipIf(missing('strict'))('the response overrides are inside the signature (checklist 14)', async () => {
      const key = generateKey();
      await service.upload(key, Buffer.from('<b>x</b>'));
      const url = new URL(await service.url(key, urlOptions));
      url.searchParams.set('response-content-type', 'text/html');
      expect((await fetch(url)).status).toBe(403);
    });

    it.each([0, -1, Number.NaN, 1.5, 604_801, '60' as unknown as number])('expiresIn %s is an ArgumentError before any request (checklist 15)', async (expiresIn) => {
      const sent = captureRequests(service.client);
      await expect(service.url(generateKey(), { ...urlOptions, expiresIn })).rejects.toBeInstanceOf(ArgumentError);
      const direct = { expiresIn, contentType: 'text/plain', contentLength: 1, checksum: md5Base64('x') };
      await expect(service.urlForDirectUpload(generateKey(), direct)).rejects.toBeInstanceOf(ArgumentError);
      expect(sent).toEqual([]);
    });

    it('public: true gives the plain object URL', async () => {
      const open = makeService('S3', 'public', s3Settings(bucket.name, { public: true }));
      expect(await open.url('a/b c', urlOptions)).toBe(`${s3Endpoint().endpoint}/${bucket.name}/a/b%20c`);
    });
  });

  describe.skipIf(missing('strict'))('direct uploads (checklist 16, S3 side)', () => {
    const data = randomBytes(2048);
    const checksum = md5Base64(data);
    async function signed(key: string): Promise<{ url: string; headers: Record<string, string> }> {
      const url = await service.urlForDirectUpload(key, { expiresIn: 300, contentType: 'image/png', contentLength: data.length, checksum });
      return { url, headers: service.headersForDirectUpload(key, { contentType: 'image/png', checksum, filename: 'a.png' }) };
    }

    it('a PUT with exactly the returned headers stores the bytes; the URL signs type, length and MD5', async () => {
      const key = generateKey();
      const { url, headers } = await signed(key);
      expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual(expect.arrayContaining(['content-length', 'content-md5', 'content-type']));
      expect(headers).toEqual({ 'Content-Type': 'image/png', 'Content-MD5': checksum, 'Content-Disposition': 'inline; filename="a.png"; filename*=UTF-8\'\'a.png' });
      expect((await fetch(url, { method: 'PUT', headers, body: data })).status).toBe(200);
      expect((await readAll(await service.download(key))).equals(data)).toBe(true);
    });

    it.each([
      ['a different Content-Length', (h: Record<string, string>) => h, data.subarray(1)],
      ['a different Content-Type', (h: Record<string, string>) => ({ ...h, 'Content-Type': 'text/html' }), data],
      ['a different Content-MD5', (h: Record<string, string>) => ({ ...h, 'Content-MD5': md5Base64('other') }), data],
      ['other bytes under the signed MD5', (h: Record<string, string>) => h, randomBytes(data.length)],
    ])('a PUT with %s is refused and stores nothing', async (_label, change, body) => {
      const key = generateKey();
      const { url, headers } = await signed(key);
      const response = await fetch(url, { method: 'PUT', headers: change(headers), body });
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(await service.exists(key)).toBe(false);
    });
  });

  describe('errors are typed', () => {
    it('wrong credentials give StorageAccessError with the SDK error as cause, on writes and on exists', async () => {
      const denied = makeService('S3', 'denied', s3Settings(bucket.name, { access_key_id: 'AKIAWRONGWRONGWRONG', secret_access_key: 'wrong-secret-value' }));
      const error = await denied.upload(generateKey(), Buffer.from('x')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageAccessError);
      expect((error as Error).cause).toBeInstanceOf(Error);
      expect((error as Error).message).not.toContain('wrong-secret-value');
      await expect(denied.exists(generateKey())).rejects.toBeInstanceOf(StorageAccessError);
    });

    it('a missing bucket gives StorageAccessError', async () => {
      const nowhere = makeService('S3', 'nowhere', s3Settings(`attache-missing-${generateKey().slice(0, 12)}`));
      await expect(nowhere.upload(generateKey(), Buffer.from('x'))).rejects.toThrow(/bucket does not exist|could not write/);
      await expect(nowhere.upload(generateKey(), Buffer.from('x'))).rejects.toBeInstanceOf(StorageAccessError);
    });
  });

  describe('the HTTP debug log', () => {
    it('logs method, URL and headers of each request and answer, with credentials redacted', async () => {
      const lines: string[] = [];
      const s3 = s3Endpoint();
      const logged = new S3Service({ ...s3Options('logged', s3Settings(bucket.name)), client: loggedClient(lines) });
      const key = generateKey();
      await logged.upload(key, Buffer.from('hello'), { contentType: 'text/plain' });
      const text = lines.join('\n');
      expect(text).toContain(`[attache:s3] PutObjectCommand: PUT ${s3.endpoint}/${bucket.name}/${key}`);
      expect(text).toContain(`[attache:s3] > x-amz-content-sha256: ${createHash('sha256').update('hello').digest('hex')}`);
      expect(text).toContain('[attache:s3] > authorization: [redacted]');
      expect(text).toMatch(/\[attache:s3\] < 200 \(\d+ ms\)/);
      expect(text).not.toContain(s3.secretAccessKey);
      expect(text).not.toMatch(/Signature=/);
    });

    it('ATTACHE_DEBUG_HTTP=1 sends it to stderr', async () => {
      vi.stubEnv('ATTACHE_DEBUG_HTTP', '1');
      const written: string[] = [];
      const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (written.push(String(chunk)), true));
      try {
        await makeService('S3', 'env-logged', s3Settings(bucket.name)).exists(generateKey());
      } finally {
        spy.mockRestore();
        vi.unstubAllEnvs();
      }
      expect(written.join('')).toMatch(/\[attache:s3\] HeadObjectCommand: HEAD /);
    });
  });

  describe('configuration (checklist 23)', () => {
    const registry = (settings: Record<string, unknown>) => new ServiceRegistry(configFromObject({ files: { service: 'S3', ...settings } }), { env: {} });
    beforeAll(() => registry({}).preload()); // loads the lazy S3 adapter once for the process

    it('is registered as S3 and built from storage.yml settings (numbers and booleans may be strings)', () => {
      const service = registry(s3Settings(bucket.name, { multipart_threshold: '6291456', part_size: 5 * MIB, force_path_style: 'true' })).service('files');
      expect(service).toBeInstanceOf(S3Service);
      expect((service as S3Service).multipartThreshold).toBe(6 * MIB);
      expect((service as S3Service).partSize).toBe(5 * MIB);
    });

    it.each([
      ['a missing bucket', { bucket: undefined }, /missing the required setting "bucket"/],
      ['an unknown setting', { kms_key_id: 'k' }, /unknown setting "kms_key_id"/],
      ['a threshold below 5 MiB', { multipart_threshold: 1000 }, /"multipart_threshold"/],
      ['a part size above the threshold', { multipart_threshold: 6 * MIB, part_size: 7 * MIB }, /"part_size"/],
      ['a non-numeric threshold', { multipart_threshold: '5MB' }, /"multipart_threshold"/],
      ['a secret without its key id', { access_key_id: undefined }, /"access_key_id"/],
      ['an unknown upload option', { upload: { colour: 'red' } }, /"upload".*not "colour"/],
      ['SSE-C in upload options', { upload: { sse_customer_key: 'k' } }, /"upload\.sse_customer_key".*SecureS3/],
      ['a content type in upload options', { upload: { content_type: 'text/html' } }, /"upload\.content_type".*serving\.ts/],
      ['a non-boolean public', { public: 'yes' }, /"public"/],
    ])('rejects %s with ConfigurationError naming the setting', (_label, change, message) => {
      const build = () => registry({ ...s3Settings(bucket.name), ...change }).service('files');
      expect(build).toThrow(ConfigurationError);
      expect(build).toThrow(message);
    });

    it('toJSON and inspect show where the bucket is, never credentials', () => {
      const s3 = s3Endpoint();
      for (const printed of [JSON.stringify(service), inspect(service), inspect(service, { showHidden: true, depth: 5 })]) {
        expect(printed).toContain(bucket.name);
        expect(printed).not.toContain(s3.secretAccessKey);
        expect(printed).not.toContain(s3.accessKeyId);
      }
      expect(JSON.parse(JSON.stringify(service))).toEqual({ name: 'files', adapter: 'S3', bucket: bucket.name, region: s3Endpoint().region, endpoint: s3Endpoint().endpoint, public: false });
    });
  });
});
