import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { ArgumentError, EncryptionError, FileNotFoundError, IntegrityError, StorageAccessError } from '../../src/core/errors.ts';
import { copyPlan, MIN_PART_SIZE } from '../../src/services/s3/compose.ts';
import { debugHttpEnabled, describeRequest, redactHeaders } from '../../src/services/s3/debug-log.ts';
import { CustomerKey, encryptionMismatch, kmsKeyMatches, sseHeaders, sseParams, type Encryption } from '../../src/services/s3/encryption.ts';
import { S3Failure, translateS3Error } from '../../src/services/s3/errors.ts';

// Pure functions of the S3 services: no server needed, so these run on every machine.

const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const ARN = `arn:aws:kms:us-east-2:111122223333:key/${KEY_ID}`;
const customerKey = new CustomerKey(Buffer.alloc(32, 7).toString('base64'));
const kms: Encryption = { mode: 'server', algorithm: 'aws:kms', kmsKeyId: KEY_ID };
const sseC: Encryption = { mode: 'customer', key: customerKey };

describe('kmsKeyMatches (what "the configured key" means in a server answer)', () => {
  it.each([
    [KEY_ID, KEY_ID, true],
    [KEY_ID, ARN, true],
    [ARN, ARN, true],
    [ARN, KEY_ID, true],
    [`key/${KEY_ID}`, ARN, true],
    ['alias/app-key', 'arn:aws:kms:us-east-2:111122223333:alias/app-key', true],
    ['testkey-1', 'arn:aws:kms:testkey-1', true],
    ['testkey-1', 'testkey-1', true],
    [KEY_ID, `arn:aws:kms:us-east-2:111122223333:key/x${KEY_ID}`, false],
    [KEY_ID, `arn:aws:kms:us-east-2:111122223333:key/${KEY_ID}x`, false],
    [ARN, ARN.replace('111122223333', '999999999999'), false],
    ['alias/app-key', ARN, false],
    ['testkey-1', 'testkey-2', false],
    ['testkey-1', undefined, false],
    ['testkey-1', '', false],
    ['', '', false],
  ])('configured %j, reported %j → %s', (configured, reported, expected) => {
    expect(kmsKeyMatches(configured, reported)).toBe(expected);
  });
});

describe('sseParams: the one builder of SSE parameters', () => {
  it('SSE-KMS goes on object creation only', () => {
    const full: Encryption = { ...kms, bucketKeyEnabled: true, context: { tenant: 'a' } } as Encryption;
    expect(sseParams(full, 'write')).toEqual({
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: KEY_ID,
      BucketKeyEnabled: true,
      SSEKMSEncryptionContext: Buffer.from('{"tenant":"a"}').toString('base64'),
    });
    for (const use of ['part', 'read', 'copySource'] as const) expect(sseParams(full, use)).toEqual({});
  });

  it('SSE-C goes on every request, and as the copy-source key', () => {
    const key = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: customerKey.base64, SSECustomerKeyMD5: md5Base64(Buffer.alloc(32, 7)) };
    for (const use of ['write', 'part', 'read'] as const) expect(sseParams(sseC, use)).toEqual(key);
    expect(sseParams(sseC, 'copySource')).toEqual({
      CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: key.SSECustomerKey, CopySourceSSECustomerKeyMD5: key.SSECustomerKeyMD5,
    });
  });

  it('plain S3 gets nothing', () => {
    for (const use of ['write', 'part', 'read', 'copySource'] as const) expect(sseParams(undefined, use)).toEqual({});
  });

  it('sseHeaders are the write parameters as HTTP headers', () => {
    expect(sseHeaders(kms)).toEqual({ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': KEY_ID });
    expect(sseHeaders({ mode: 'server', algorithm: 'AES256', bucketKeyEnabled: false })).toEqual({
      'x-amz-server-side-encryption': 'AES256', 'x-amz-server-side-encryption-bucket-key-enabled': 'false',
    });
    expect(sseHeaders(undefined)).toEqual({});
  });

  it('a CustomerKey never prints', () => {
    for (const printed of [inspect(sseC, { depth: 9, showHidden: true }), JSON.stringify(sseC), String(inspect(customerKey))]) {
      expect(printed).not.toContain(customerKey.base64);
      expect(printed).not.toContain(customerKey.md5);
    }
  });
});

describe('encryptionMismatch (fail closed)', () => {
  it.each([
    ['the configured algorithm and key', kms, { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: ARN }, undefined],
    ['no encryption at all (RGW ignoring AES256)', { mode: 'server', algorithm: 'AES256' }, {}, /"none" instead of "AES256"/],
    ['another algorithm', kms, { ServerSideEncryption: 'AES256' }, /"AES256" instead of "aws:kms"/],
    ['another key', kms, { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'other' }, /KMS key "other"/],
    ['no key id', kms, { ServerSideEncryption: 'aws:kms' }, /KMS key "none"/],
    ['an alias against the key ARN', { mode: 'server', algorithm: 'aws:kms', kmsKeyId: 'alias/x' }, { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: ARN }, /not an alias/],
    ['SSE-C confirmed with our key', sseC, { SSECustomerAlgorithm: 'AES256', SSECustomerKeyMD5: customerKey.md5 }, undefined],
    ['SSE-C not confirmed', sseC, {}, /did not confirm SSE-C/],
    ['SSE-C with another key', sseC, { SSECustomerAlgorithm: 'AES256', SSECustomerKeyMD5: 'x' }, /different customer key/],
  ] as const)('%s', (_label, encryption, answer, expected) => {
    const result = encryptionMismatch(encryption as Encryption, answer);
    if (expected === undefined) expect(result).toBeUndefined();
    else expect(result).toMatch(expected);
  });
});

describe('translateS3Error: every SDK error becomes an AttacheError with cause', () => {
  const sdk = (name: string, status: number, message = 'UnknownError', extra: object = {}) =>
    Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status }, ...extra });
  it.each([
    ['NoSuchKey', sdk('NoSuchKey', 404, 'x', { Code: 'NoSuchKey' }), FileNotFoundError],
    ['HEAD 404', sdk('NotFound', 404), FileNotFoundError],
    ['BadDigest', sdk('BadDigest', 400, 'x', { Code: 'BadDigest' }), IntegrityError],
    ['XAmzContentSHA256Mismatch', sdk('XAmzContentSHA256Mismatch', 400), IntegrityError],
    ['InvalidRange', sdk('InvalidRange', 416), ArgumentError],
    ['AccessDenied', sdk('AccessDenied', 403), StorageAccessError],
    ['InvalidAccessKeyId (credentials)', sdk('InvalidAccessKeyId', 403, 'The AWS Access Key Id you provided does not exist'), StorageAccessError],
    ['InvalidAccessKeyId (RGW KMS)', sdk('InvalidAccessKeyId', 403, 'Failed to retrieve the actual key, kms-keyid: nokey'), EncryptionError],
    ['KMS.NotFoundException', sdk('KMS.NotFoundException', 400, 'Invalid keyId'), EncryptionError],
    ['KMS.DisabledException', sdk('KMS.DisabledException', 400), EncryptionError],
    ['AccessDenied on the KMS key', sdk('AccessDenied', 403, 'User is not authorized to perform kms:GenerateDataKey'), EncryptionError],
    ['SSE-C GET without a key', sdk('InvalidArgument', 400, 'Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.'), EncryptionError],
    ['SSE-C GET with another key (RGW)', sdk('InvalidArgument', 400, 'The calculated MD5 hash of the key did not match the hash that was provided.'), EncryptionError],
    ['an unrelated InvalidArgument', sdk('InvalidArgument', 400, 'Invalid part number'), StorageAccessError],
    ['NoSuchBucket', sdk('NoSuchBucket', 404), StorageAccessError],
    ['a 500', sdk('InternalError', 500), StorageAccessError],
    ['a reset connection', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), StorageAccessError],
    ['a non-Error', 'weird', StorageAccessError],
    ['a socket timeout', Object.assign(new Error('the request socket timed out after 500 ms of inactivity'), { name: 'TimeoutError' }), StorageAccessError],
  ])('%s', (_label, error, type) => {
    const translated = translateS3Error(error, { service: 'files', action: 'write', key: 'k' });
    expect(translated).toBeInstanceOf(type);
    // The cause is the SDK error's summary: same name, code and status, none of its other fields.
    expect(translated.cause).toBeInstanceOf(S3Failure);
    if (error instanceof Error) expect(translated.cause).toMatchObject({ name: error.name, message: error.message });
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    expect((translated.cause as S3Failure).status).toBe(status);
    expect(translated.message).not.toContain('kms-keyid');
  });

  it('S3Failure keeps code, status, request ids and attempts, drops everything else, and scrubs credential-like tokens from the message', () => {
    const raw = Object.assign(new Error('Denied for AKIAIOSFODNN7EXAMPLE with wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'), {
      name: 'SignatureDoesNotMatch',
      Code: 'SignatureDoesNotMatch',
      AWSAccessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      StringToSign: 'AWS4-HMAC-SHA256 secret-ish',
      $metadata: { httpStatusCode: 403, requestId: 'req-1', extendedRequestId: 'ext-1', attempts: 2 },
      $response: { headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/…' } },
    });
    const failure = new S3Failure(raw);
    expect(failure.toJSON()).toEqual({
      name: 'SignatureDoesNotMatch', code: 'SignatureDoesNotMatch', status: 403, requestId: 'req-1', extendedRequestId: 'ext-1', attempts: 2,
      message: 'Denied for [redacted] with [redacted]',
    });
    expect(Object.keys(failure)).toEqual(['name', 'code', 'status', 'requestId', 'extendedRequestId', 'attempts']);
    expect(failure.stack?.split('\n')[0]).toBe('SignatureDoesNotMatch: Denied for [redacted] with [redacted]');
  });

  it('an AttacheError passes through unchanged', () => {
    const own = new IntegrityError('x');
    expect(translateS3Error(own, { service: 's', action: 'a' })).toBe(own);
  });
});

describe('copyPlan (compose by UploadPartCopy, or fall back to streaming)', () => {
  const M = MIN_PART_SIZE;
  it.each([
    ['all parts but the last ≥ 5 MiB', [M, M + 1, 1], [M, M + 1, 1]],
    ['empty sources are left out', [M, 0, 3], [M, 3]],
    ['a single small source', [10], [10]],
    ['a small non-last part → stream instead', [M - 1, M], undefined],
    ['only empty sources → stream instead', [0, 0], undefined],
    ['no sources → stream instead', [], undefined],
  ])('%s', (_label, sizes, expected) => {
    const plan = copyPlan(sizes.map((size, i) => ({ key: `k${i}`, size })));
    expect(plan?.map((p) => p.size)).toEqual(expected);
  });

  it('splits a source over 5 GiB into equal ranges', () => {
    const GIB = 1024 ** 3;
    const plan = copyPlan([{ key: 'big', size: 12 * GIB }])!;
    expect(plan.map((p) => p.range)).toEqual([`bytes=0-${4 * GIB - 1}`, `bytes=${4 * GIB}-${8 * GIB - 1}`, `bytes=${8 * GIB}-${12 * GIB - 1}`]);
    expect(copyPlan([{ key: 'odd', size: 5 * GIB + 1 }])!.map((p) => p.size)).toEqual([2.5 * GIB + 1, 2.5 * GIB]);
  });
});

describe('debug log formatting', () => {
  it('redacts credentials, tokens and SSE-C keys, and keeps the SSE-KMS headers', () => {
    const lines = redactHeaders({
      Authorization: 'AWS4-HMAC-SHA256 Credential=AKIA/…, Signature=abc',
      'x-amz-security-token': 'session-token-value',
      'x-amz-server-side-encryption-customer-key': customerKey.base64,
      'x-amz-server-side-encryption-customer-key-md5': customerKey.md5,
      'x-amz-copy-source-server-side-encryption-customer-key': customerKey.base64,
      'x-amz-server-side-encryption': 'aws:kms',
      'x-amz-server-side-encryption-aws-kms-key-id': KEY_ID,
    });
    const text = lines.join('\n');
    for (const secret of ['Signature=abc', 'session-token-value', customerKey.base64, customerKey.md5]) expect(text).not.toContain(secret);
    expect(lines).toContain('x-amz-server-side-encryption: aws:kms');
    expect(lines).toContain(`x-amz-server-side-encryption-aws-kms-key-id: ${KEY_ID}`);
    expect(lines).toContain('authorization: [redacted]');
  });

  it('shows the URL without secret query values', () => {
    const line = describeRequest({
      method: 'GET', protocol: 'https:', hostname: 'b.s3.amazonaws.com', port: 443, path: '/k',
      query: { 'X-Amz-Signature': 'sig', 'X-Amz-Credential': 'AKIA', uploadId: 'u1', 'x-id': 'GetObject' }, headers: {},
    });
    expect(line).toBe('GET https://b.s3.amazonaws.com:443/k?X-Amz-Signature=%5Bredacted%5D&X-Amz-Credential=%5Bredacted%5D&uploadId=u1&x-id=GetObject');
  });

  it.each([
    [undefined, {}, false], [undefined, { ATTACHE_DEBUG_HTTP: '1' }, true], [undefined, { ATTACHE_DEBUG_HTTP: 'true' }, true],
    [undefined, { ATTACHE_DEBUG_HTTP: '0' }, false], [false, { ATTACHE_DEBUG_HTTP: '1' }, false], [true, {}, true],
  ])('debug_http %s with env %j → %s', (setting, env, expected) => {
    expect(debugHttpEnabled(setting, env)).toBe(expected);
  });
});
