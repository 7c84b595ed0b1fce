import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { AttacheError, ConfigurationError, EncryptionError } from '../../src/core/errors.ts';
import { generateKey } from '../../src/core/keys.ts';
import '../../src/services/builtins.ts';
import { configFromObject, loadConfig } from '../../src/services/config.ts';
import { ServiceRegistry } from '../../src/services/registry.ts';
import type { S3Service } from '../../src/services/s3/S3Service.ts';
import { SecureS3Service } from '../../src/services/s3/SecureS3Service.ts';
import { captureRequests, createTestBucket, makeService, missing, s3Endpoint, s3Settings, type TestBucket } from '../support/s3.ts';
import { chunked } from '../../src/testing/contract.ts';

const MIB = 1024 * 1024;
const s3 = s3Endpoint();
const kmsKeyId = s3.kmsKeyId ?? 'unset';

/** The Rails guide's S3 block (Active Storage Overview, "S3 Service"), with this run's endpoint. */
const RAILS_GUIDE_YML = `
amazon:
  service: S3
  access_key_id: <%= ENV['AWS_ACCESS_KEY_ID'] %>
  secret_access_key: <%= ENV['AWS_SECRET_ACCESS_KEY'] %>
  region: <%= ENV['AWS_REGION'] %>
  bucket: <%= ENV['S3_BUCKET'] %>
  endpoint: <%= ENV['S3_ENDPOINT'] %>
  force_path_style: true
  default_digest_type: :md5
  http_open_timeout: 5
  http_read_timeout: 30
  retry_limit: 2
  upload:
    server_side_encryption: "aws:kms"
    ssekms_key_id: <%= ENV['KMS_KEY_ID'] %>
    cache_control: "private, max-age=<%= 1.day.to_i %>"
    multipart_threshold: <%= 5.megabytes %>
`;

/** What the SDK's NodeHttpHandler was configured with (known once it has handled a request). */
function handlerConfig(service: S3Service): Record<string, unknown> {
  return (service.client.config.requestHandler as unknown as { httpHandlerConfigs(): Record<string, unknown> }).httpHandlerConfigs();
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'attache-s3-settings-'));
  mkdirSync(path.join(dir, 'config'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function fromYaml(yaml: string, env: NodeJS.ProcessEnv, name = 'amazon'): Promise<S3Service> {
  writeFileSync(path.join(dir, 'config/storage.yml'), yaml);
  const registry = new ServiceRegistry(loadConfig(path.join(dir, 'config/storage.yml')), { env, defaultService: name });
  await registry.preload();
  return registry.service(name) as S3Service;
}

describe.skipIf(missing('kms'))('Rails\' storage.yml for S3, read unchanged', () => {
  let bucket: TestBucket;
  beforeAll(async () => {
    bucket = await createTestBucket();
  });
  afterAll(() => bucket?.remove());
  const env = () => ({ AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region, S3_BUCKET: bucket.name, S3_ENDPOINT: s3.endpoint, KMS_KEY_ID: kmsKeyId });

  it('the guide\'s block builds a service that encrypts (as SecureS3), applies the upload options, timeouts and retries', async () => {
    const service = await fromYaml(RAILS_GUIDE_YML, env());
    expect(service).toBeInstanceOf(SecureS3Service);
    expect(service.multipartThreshold).toBe(5 * MIB);
    const key = generateKey();
    const result = await service.upload(key, Buffer.from('encrypted by upload: options'), { contentType: 'text/plain' });
    expect(result.metadata).toEqual({ encryption: { algorithm: 'aws:kms', kmsKeyId } });
    const stored = await bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: key }));
    expect([stored.ServerSideEncryption, stored.SSEKMSKeyId, stored.CacheControl]).toEqual(['aws:kms', kmsKeyId, 'private, max-age=86400']);
    expect(await service.client.config.maxAttempts()).toBe(3);
    expect(handlerConfig(service)).toMatchObject({ connectionTimeout: 5000, socketTimeout: 30_000 });
  });

  it('defaults: 10 s to connect, 60 s of silence, 3 retries', async () => {
    const service = makeService('S3', 'defaults', s3Settings(bucket.name)) as S3Service;
    await service.exists(generateKey());
    expect(await service.client.config.maxAttempts()).toBe(4);
    expect(handlerConfig(service)).toMatchObject({ connectionTimeout: 10_000, socketTimeout: 60_000 });
  });

  it('upload: encryption goes on every write path, direct uploads included, through the one SSE builder', async () => {
    const service = makeService('S3', 'enc', s3Settings(bucket.name, { multipart_threshold: 5 * MIB, upload: { server_side_encryption: 'aws:kms', ssekms_key_id: kmsKeyId } })) as S3Service;
    const sent = captureRequests(service.client);
    await service.upload(generateKey(), Buffer.from('single'));
    await service.upload(generateKey(), chunked(Buffer.alloc(5 * MIB + 10, 1), MIB));
    const sources = [generateKey(), generateKey()];
    for (const source of sources) await service.upload(source, Buffer.alloc(5 * MIB, 2));
    await service.compose(sources, generateKey());
    const writes = sent.filter((r) => ['PutObjectCommand', 'CreateMultipartUploadCommand'].includes(r.command));
    expect(writes.length).toBeGreaterThanOrEqual(5);
    for (const write of writes) expect([write.headers['x-amz-server-side-encryption'], write.headers['x-amz-server-side-encryption-aws-kms-key-id']]).toEqual(['aws:kms', kmsKeyId]);
    const headers = service.headersForDirectUpload(generateKey(), { contentType: 'image/png', checksum: md5Base64('x') });
    expect(headers).toMatchObject({ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': kmsKeyId });
  });

  it('upload: encryption fails closed like SecureS3: an unknown key is an EncryptionError and no object', async () => {
    const service = makeService('S3', 'bad-key', s3Settings(bucket.name, { upload: { server_side_encryption: 'aws:kms', ssekms_key_id: `no-such-${generateKey()}` } }));
    const key = generateKey();
    await expect(service.upload(key, Buffer.from('x'))).rejects.toBeInstanceOf(EncryptionError);
    expect(await service.exists(key)).toBe(false);
  });

  it.skipIf(missing('silentAes256'))('upload: AES256 that the server ignores is caught: EncryptionError, the object deleted', async () => {
    const service = makeService('S3', 'aes', s3Settings(bucket.name, { upload: { server_side_encryption: 'AES256' } }));
    const key = generateKey();
    await expect(service.upload(key, Buffer.from('x'))).rejects.toThrow(/reported encryption "none" instead of "AES256"\. The object was deleted\./);
    expect(await service.exists(key)).toBe(false);
  });

  it('upload: ssekms_encryption_context (base64 JSON, as aws-sdk-ruby takes it) is sent as the KMS context', async () => {
    const context = Buffer.from(JSON.stringify({ tenant: 'a' })).toString('base64');
    const service = makeService('S3', 'ctx', s3Settings(bucket.name, { upload: { server_side_encryption: 'aws:kms', ssekms_key_id: kmsKeyId, ssekms_encryption_context: context } })) as S3Service;
    const sent = captureRequests(service.client);
    await service.upload(generateKey(), Buffer.from('x')).catch(() => undefined); // RGW may refuse a context; the header is what is checked
    expect(sent.find((r) => r.command === 'PutObjectCommand')?.headers['x-amz-server-side-encryption-context']).toBe(context);
  });
});

describe('S3 settings that are refused (ConfigurationError naming the setting, never its value)', () => {
  const build = async (settings: Record<string, unknown>, adapter = 'S3', env: NodeJS.ProcessEnv = {}) => {
    const registry = new ServiceRegistry(configFromObject({ x: { service: adapter, ...s3Settings('b'), ...settings } }), { env });
    await registry.preload();
    return registry.service('x');
  };

  it.each([
    ['a zero http_open_timeout (no timeout at all)', { http_open_timeout: 0 }, /"http_open_timeout": expected a number of seconds greater than 0/],
    ['a negative http_read_timeout', { http_read_timeout: -1 }, /"http_read_timeout"/],
    ['a non-numeric http_read_timeout', { http_read_timeout: 'soon' }, /"http_read_timeout"/],
    ['an http_read_timeout over an hour', { http_read_timeout: 7200 }, /"http_read_timeout"/],
    ['a negative retry_limit', { retry_limit: -1 }, /"retry_limit": expected a whole number of retries/],
    ['a fractional retry_limit', { retry_limit: 1.5 }, /"retry_limit"/],
    ['default_digest_type sha256 (attache checksums are MD5)', { default_digest_type: ':sha256' }, /"default_digest_type": expected one of md5/],
    ['request_checksum_calculation when_supported', { request_checksum_calculation: 'when_supported' }, /"request_checksum_calculation"/],
    ['two different multipart thresholds', { multipart_threshold: 6 * MIB, upload: { multipart_threshold: 7 * MIB } }, /"multipart_threshold".*set only one/],
    ['an upload multipart_threshold below 5 MiB', { upload: { multipart_threshold: 1000 } }, /"upload\.multipart_threshold"/],
    ['a bad upload expires', { upload: { expires: 'someday' } }, /"upload\.expires"/],
    ['an encryption context that is not base64 JSON', { upload: { server_side_encryption: 'aws:kms', ssekms_encryption_context: 'tenant=a' } }, /"upload\.ssekms_encryption_context"/],
    ['an unknown algorithm in upload', { upload: { server_side_encryption: 'rot13' } }, /"server_side_encryption"/],
  ])('%s', async (_label, settings, message) => {
    const error = await build(settings).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(message);
  });

  it.each([
    ['Rails spellings', { http_open_timeout: '1.5', http_read_timeout: 2, retry_limit: '0', default_digest_type: 'md5', request_checksum_calculation: 'when_required', response_checksum_validation: 'WHEN_REQUIRED' }],
    ['attache\'s own spellings', { multipart_threshold: 6 * MIB, part_size: 5 * MIB, debug_http: false }],
    ['the same threshold twice', { multipart_threshold: 6 * MIB, upload: { multipart_threshold: 6 * MIB } }],
    ['Rails\' upload options', { upload: { acl: 'private', cache_control: 'no-cache', content_language: 'en', storage_class: 'STANDARD', tagging: 'a=b', expires: '2030-01-01T00:00:00Z' } }],
  ])('accepts %s', async (_label, settings) => {
    await expect(build(settings)).resolves.toBeDefined();
  });

  it('SecureS3 with the same encryption in upload: is fine; with a different key it is refused', async () => {
    await expect(build({ kms_key_id: 'k1', upload: { server_side_encryption: 'aws:kms', ssekms_key_id: 'k1' } }, 'SecureS3')).resolves.toBeInstanceOf(SecureS3Service);
    await expect(build({ kms_key_id: 'k1', upload: { ssekms_key_id: 'k2' } }, 'SecureS3')).rejects.toThrow(/sets "kms_key_id" and its upload: counterpart to different values/);
  });

  it.each([
    ['S3 upload.ssekms_key_id', 'S3', { upload: { server_side_encryption: 'aws:kms', ssekms_key_id: "<%= ENV['KMS_KEY'] %>" } }, 'upload.ssekms_key_id'],
    ['SecureS3 kms_key_id', 'SecureS3', { kms_key_id: "<%= ENV['KMS_KEY'] %>" }, 'kms_key_id'],
    ['S3 upload.server_side_encryption (else: no encryption at all)', 'S3', { upload: { server_side_encryption: "<%= ENV['KMS_KEY'] %>" } }, 'upload.server_side_encryption'],
    ['SecureS3 server_side_encryption', 'SecureS3', { kms_key_id: 'k', server_side_encryption: "<%= ENV['KMS_KEY'] %>" }, 'server_side_encryption'],
    ['SecureS3 sse_customer_key', 'SecureS3', { sse_customer_key: "<%= ENV['KMS_KEY'] %>" }, 'sse_customer_key'],
  ])('an unset ENV[...] for %s names the variable instead of falling back to a default', async (_label, adapter, settings, setting) => {
    const error = await build(settings, adapter).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toBe(`Service "x" needs the environment variable KMS_KEY for its setting "${setting}", which is not set.`);
  });

  it('an unset ENV[...] on bucket names the variable (a required setting)', async () => {
    const error = await build({ bucket: "<%= ENV['BUCKET'] %>" }).then(() => undefined, (e: unknown) => e);
    expect((error as Error).message).toBe('Service "x" needs the environment variable BUCKET for its setting "bucket", which is not set.');
  });

  it('a typo in the default S3 service fails at preload, before the AWS SDK builds anything', async () => {
    const registry = new ServiceRegistry(configFromObject({ x: { service: 'S3', ...s3Settings('b'), http_opentimeout: 5 } }), { env: {} });
    await expect(registry.preload()).rejects.toThrow(/Service "x" has unknown setting "http_opentimeout"\. Allowed settings: .*"http_open_timeout"/);
  });

  it('no error message carries a setting value', async () => {
    const secret = 'wJalrXUtnFEMI-secret-in-a-bad-place';
    for (const settings of [{ http_read_timeout: secret }, { upload: { expires: secret } }, { retry_limit: secret }, { upload: { colour: secret } }]) {
      const error = await build(settings).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(AttacheError);
      expect(String(error) + JSON.stringify(error)).not.toContain(secret);
    }
  });
});
