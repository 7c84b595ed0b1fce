import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { ConfigurationError, EncryptionError, StorageAccessError } from '../../src/core/errors.ts';
import { generateKey } from '../../src/core/keys.ts';
import { SecureS3Service } from '../../src/services/s3/SecureS3Service.ts';
import { encryptionFrom, s3Options } from '../../src/services/s3/settings.ts';
import { captureRequests, createTestBucket, loggedClient, makeService, missing, s3Settings, type TestBucket } from '../support/s3.ts';
import { chunked, readAll, serviceContract } from '../../src/testing/contract.ts';

const MIB = 1024 * 1024;
const THRESHOLD = 5 * MIB;
const customerKey = randomBytes(32).toString('base64');
const sseCSettings = (bucket: string, key = customerKey) => s3Settings(bucket, { sse_customer_key: key, multipart_threshold: THRESHOLD });

describe.skipIf(missing('sseC'))('SecureS3 with SSE-C (a customer key)', () => {
  serviceContract(
    'SecureS3Service (SSE-C)',
    async () => {
      const bucket = await createTestBucket();
      return { service: makeService('SecureS3', 'ssec', sseCSettings(bucket.name)), cleanup: () => bucket.remove() };
    },
    { sizes: [0, THRESHOLD, THRESHOLD + 1] },
  );

  let bucket: TestBucket;
  let service: SecureS3Service;
  beforeAll(async () => {
    bucket = await createTestBucket();
    service = makeService('SecureS3', 'ssec', sseCSettings(bucket.name)) as SecureS3Service;
  });
  afterAll(() => bucket?.remove());

  it('round-trips, records SSE-C in the metadata, and sends the key on every request of every path', async () => {
    const sent = captureRequests(service.client);
    const small = generateKey();
    const big = generateKey();
    const data = randomBytes(THRESHOLD + 1);
    expect((await service.upload(small, Buffer.from('tiny'))).metadata).toEqual({ encryption: { algorithm: 'SSE-C' } });
    await service.upload(big, chunked(data, 128 * 1024));
    const composed = generateKey();
    await service.compose([big, small], composed);
    expect((await readAll(await service.download(composed))).equals(Buffer.concat([data, Buffer.from('tiny')]))).toBe(true);
    const byCommand = (command: string) => sent.filter((r) => r.command === command);
    const keyMd5 = md5Base64(Buffer.from(customerKey, 'base64'));
    for (const command of ['PutObjectCommand', 'CreateMultipartUploadCommand', 'UploadPartCommand', 'UploadPartCopyCommand', 'CompleteMultipartUploadCommand', 'GetObjectCommand', 'HeadObjectCommand']) {
      expect(byCommand(command).length, command).toBeGreaterThan(0);
      for (const request of byCommand(command)) {
        expect(request.headers['x-amz-server-side-encryption-customer-algorithm'], command).toBe('AES256');
        expect(request.headers['x-amz-server-side-encryption-customer-key-md5'], command).toBe(keyMd5);
      }
    }
    for (const copy of byCommand('UploadPartCopyCommand')) expect(copy.headers['x-amz-copy-source-server-side-encryption-customer-key-md5']).toBe(keyMd5);
  });

  it('a GET without the key, or with another key, is refused with a typed error', async () => {
    const key = generateKey();
    await service.upload(key, Buffer.from('for the key holder only'));
    const plain = makeService('S3', 'plain', s3Settings(bucket.name));
    await expect(plain.download(key)).rejects.toBeInstanceOf(EncryptionError);
    const otherKey = makeService('SecureS3', 'other', sseCSettings(bucket.name, randomBytes(32).toString('base64')));
    await expect(otherKey.download(key)).rejects.toBeInstanceOf(EncryptionError);
    await expect(otherKey.exists(key)).rejects.toBeInstanceOf(StorageAccessError);
    const answer = await bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: key, ...sseC() }));
    expect(answer.SSECustomerAlgorithm).toBe('AES256');
  });

  it('gives no URLs: the key cannot go to a browser, so SSE-C objects are served through the app\'s proxy route', async () => {
    const key = generateKey();
    await expect(service.url(key, { expiresIn: 60, disposition: 'inline', filename: 'a', contentType: 'text/plain' })).rejects.toThrow(/proxy route/);
    await expect(service.urlForDirectUpload(key, { expiresIn: 60, contentType: 'text/plain', contentLength: 1, checksum: md5Base64('x') })).rejects.toBeInstanceOf(ConfigurationError);
    expect(() => service.headersForDirectUpload(key, { contentType: 'text/plain', checksum: md5Base64('x') })).toThrow(ConfigurationError);
  });

  it('the debug log never shows the key or its MD5', async () => {
    const lines: string[] = [];
    const settings = sseCSettings(bucket.name);
    const logged = new SecureS3Service({ ...s3Options('logged', settings), client: loggedClient(lines), encryption: encryptionFrom('logged', settings) });
    const key = generateKey();
    await logged.upload(key, Buffer.from('x'));
    await readAll(await logged.download(key));
    const text = lines.join('\n');
    expect(text).toContain('x-amz-server-side-encryption-customer-key: [redacted]');
    expect(text).not.toContain(customerKey);
    expect(text).not.toContain(md5Base64(Buffer.from(customerKey, 'base64')));
  });
});

function sseC(): { SSECustomerAlgorithm: string; SSECustomerKey: string; SSECustomerKeyMD5: string } {
  return { SSECustomerAlgorithm: 'AES256', SSECustomerKey: customerKey, SSECustomerKeyMD5: md5Base64(Buffer.from(customerKey, 'base64')) };
}
