import { HeadObjectCommand, PutBucketAclCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import { generateKey } from '../../src/core/keys.ts';
import type { S3Service } from '../../src/services/s3/S3Service.ts';
import { createTestBucket, makeService, missing, s3Settings, type TestBucket } from '../support/s3.ts';
import { chunked, readAll } from '../../src/testing/contract.ts';

const MIB = 1024 * 1024;
const THRESHOLD = 5 * MIB;
const HTML = Buffer.from('<!doctype html><script>alert(document.domain)</script>');

/** One way of writing `bytes` under `key` with the true type `contentType` and `filename`. */
type WritePath = (service: S3Service, key: string, contentType: string, bytes: Buffer) => Promise<unknown>;

/** Every write path that stores object metadata: each must go through serving.ts's storedHeaders and the service's `upload:` options. */
const WRITE_PATHS: Array<[string, WritePath, number]> = [
  ['a single put', (s, key, contentType, bytes) => s.upload(key, bytes, { contentType, filename: 'page.html' }), 1000],
  ['a multipart upload', (s, key, contentType, bytes) => s.upload(key, chunked(bytes, 256 * 1024), { contentType, filename: 'page.html' }), THRESHOLD + 1000],
  ['a compose by UploadPartCopy', async (s, key, contentType, bytes) => {
    const sources = [generateKey(), generateKey()];
    await s.upload(sources[0]!, bytes.subarray(0, THRESHOLD));
    await s.upload(sources[1]!, bytes.subarray(THRESHOLD));
    return s.compose(sources, key, { contentType, filename: 'page.html' });
  }, THRESHOLD + 1000],
  ['a compose streamed back through the upload path', async (s, key, contentType, bytes) => {
    const source = generateKey();
    await s.upload(source, bytes);
    return s.compose([source], key, { contentType, filename: 'page.html' });
  }, 1000],
  ['a presigned direct-upload PUT with the returned headers', async (s, key, contentType, bytes) => {
    const checksum = md5Base64(bytes);
    const url = await s.urlForDirectUpload(key, { expiresIn: 300, contentType, contentLength: bytes.length, checksum, filename: 'page.html' });
    const headers = s.headersForDirectUpload(key, { contentType, checksum, filename: 'page.html' });
    const response = await fetch(url, { method: 'PUT', headers, body: new Uint8Array(bytes) });
    expect(response.status).toBe(200);
  }, 1000],
  ['a multipart direct upload', async (s, key, contentType, bytes) => {
    const parts = [bytes.subarray(0, THRESHOLD), bytes.subarray(THRESHOLD)];
    const upload = await s.createMultipartDirectUpload(key, {
      expiresIn: 300, contentType, filename: 'page.html', parts: parts.map((part) => ({ byteSize: part.length, checksum: md5Base64(part) })),
    });
    for (const [index, part] of upload.parts.entries()) {
      expect((await fetch(part.url, { method: 'PUT', headers: part.headers, body: new Uint8Array(parts[index]!) })).status).toBe(200);
    }
    await s.completeMultipartDirectUpload(key, upload.uploadId, parts.length);
  }, THRESHOLD + 1000],
];

describe.skipIf(missing('strict'))('what S3 stores with each object (serving.ts storedHeaders, the upload: options, public: true)', () => {
  let bucket: TestBucket;
  let plain: S3Service;
  let open: S3Service;
  beforeAll(async () => {
    bucket = await createTestBucket();
    await bucket.client.send(new PutBucketAclCommand({ Bucket: bucket.name, ACL: 'public-read' }));
    plain = makeService('S3', 'plain', s3Settings(bucket.name, { multipart_threshold: THRESHOLD, upload: { cache_control: 'private, max-age=60' } })) as S3Service;
    open = makeService('S3', 'open', s3Settings(bucket.name, { multipart_threshold: THRESHOLD, public: true })) as S3Service;
  });
  afterAll(() => bucket?.remove());

  const head = (key: string) => bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: key }));

  it.each(WRITE_PATHS)('%s stores HTML as application/octet-stream and attachment, with the upload: options', async (_label, write, size) => {
    const key = generateKey();
    const bytes = Buffer.concat([HTML, randomBytes(size - HTML.length)]);
    await write(plain, key, 'text/html', bytes);
    const stored = await head(key);
    expect(stored.ContentType).toBe('application/octet-stream');
    expect(stored.ContentDisposition).toBe(`attachment; filename="page.html"; filename*=UTF-8''page.html`);
    expect(stored.CacheControl).toBe('private, max-age=60');
    expect((await readAll(await plain.download(key))).equals(bytes)).toBe(true);
  });

  it.each(WRITE_PATHS)('public: true: %s stores the object public-read, and a plain GET of its URL never renders HTML', async (_label, write, size) => {
    const key = generateKey();
    const bytes = Buffer.concat([HTML, randomBytes(size - HTML.length)]);
    await write(open, key, 'text/html', bytes);
    const url = await open.url(key, { expiresIn: 60, disposition: 'inline', filename: 'page.html', contentType: 'text/html' });
    expect(new URL(url).search).toBe(''); // the plain object URL: nothing signed, nothing overridable
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('content-disposition')).toMatch(/^attachment; /);
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('public: true keeps an allowlisted image inline, under its own type', async () => {
    const key = generateKey();
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    await open.upload(key, png, { contentType: 'image/png', filename: 'dot.png' });
    const response = await fetch(await open.url(key, { expiresIn: 60, disposition: 'inline', filename: 'dot.png', contentType: 'image/png' }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(response.headers.get('content-disposition')).toMatch(/^inline; filename="dot\.png"/);
  });

  it('without public: true an object is not readable by a plain GET (the ACL is what makes it public)', async () => {
    const key = generateKey();
    await plain.upload(key, Buffer.from('private'), { contentType: 'text/plain' });
    expect((await fetch(`${new URL(await open.url(key, { expiresIn: 60, disposition: 'inline', filename: 'x', contentType: 'text/plain' }))}`)).status).toBe(403);
  });

  it('the direct-upload headers carry the stored type, the public ACL and the upload: options, and all are signed', async () => {
    const key = generateKey();
    const checksum = md5Base64(HTML);
    const publicCached = makeService('S3', 'public-cached', s3Settings(bucket.name, { public: true, upload: { cache_control: 'no-cache' } })) as S3Service;
    const url = new URL(await publicCached.urlForDirectUpload(key, { expiresIn: 300, contentType: 'text/html', contentLength: HTML.length, checksum, filename: 'p.html' }));
    const headers = publicCached.headersForDirectUpload(key, { contentType: 'text/html', checksum, filename: 'p.html' });
    expect(headers).toEqual({
      'Content-Type': 'application/octet-stream',
      'Content-MD5': checksum,
      'Content-Disposition': `attachment; filename="p.html"; filename*=UTF-8''p.html`,
      'Cache-Control': 'no-cache',
      'x-amz-acl': 'public-read',
    });
    expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual(
      expect.arrayContaining(['cache-control', 'content-disposition', 'content-length', 'content-md5', 'content-type', 'x-amz-acl']),
    );
    for (const dropped of ['x-amz-acl', 'Content-Type', 'Content-Disposition']) {
      const { [dropped]: _, ...without } = headers;
      expect((await fetch(url, { method: 'PUT', headers: { ...without, ...(dropped === 'Content-Type' && { 'Content-Type': 'text/html' }) }, body: HTML })).status).toBe(403);
    }
    expect(await publicCached.exists(key)).toBe(false);
  });

  it('an object written by someone else keeps what they stored: attache applies its policy to its own writes only', async () => {
    const key = generateKey();
    await bucket.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: key, Body: HTML, ContentType: 'text/html' }));
    expect((await head(key)).ContentType).toBe('text/html');
  });
});

describe('public: true and encryption', () => {
  it.each([
    ['S3 with upload: server_side_encryption', 'S3' as const, { upload: { server_side_encryption: 'aws:kms', ssekms_key_id: 'k' } }, /upload\.server_side_encryption, so it cannot be public/],
    ['SecureS3', 'SecureS3' as const, { kms_key_id: 'k' }, /cannot be public/],
  ])('%s refuses public: true with ConfigurationError', (_label, adapter, extra, message) => {
    expect(() => makeService(adapter, 'x', s3Settings('b', { public: true, ...extra }))).toThrow(ConfigurationError);
    expect(() => makeService(adapter, 'x', s3Settings('b', { public: true, ...extra }))).toThrow(message);
  });
});
