import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AttacheError, StorageAccessError } from '../../src/core/errors.ts';
import { generateKey } from '../../src/core/keys.ts';
import { S3Failure } from '../../src/services/s3/errors.ts';
import { createTestBucket, makeService, missing, rawClient, s3Endpoint, s3Settings, type TestBucket } from '../support/s3.ts';
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';

const SESSION_TOKEN = 'FwoGZXIvYXdzEXAMPLEsessionTOKEN0123456789abcdef';

/** Everything a log line could show of an error: inspect (with and without hidden fields), JSON, the stack, and every own property, down the cause chain. */
function printed(error: unknown): string {
  const seen = new Set<unknown>();
  const walk = (value: unknown, depth: number): string => {
    if (value === null || typeof value !== 'object' || seen.has(value) || depth > 12) return typeof value === 'string' ? value : '';
    seen.add(value);
    return Object.getOwnPropertyNames(value).map((name) => `${name}=${walk((value as Record<string, unknown>)[name], depth + 1)}`).join('\n');
  };
  return [
    inspect(error, { depth: 10 }),
    inspect(error, { depth: 10, showHidden: true }),
    JSON.stringify(error),
    JSON.stringify((error as Error).cause),
    String(error),
    (error as Error).stack ?? '',
    walk(error, 0),
  ].join('\n');
}

function expectNoSecrets(text: string, secrets: string[]): void {
  for (const secret of secrets) expect(text).not.toContain(secret);
}

describe.skipIf(missing('strict'))('no secret in any AttacheError from S3: the cause is a scrubbed S3Failure', () => {
  let bucket: TestBucket;
  let proxy: FaultProxy | undefined;
  const s3 = s3Endpoint();
  beforeAll(async () => {
    bucket = await createTestBucket();
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });
  afterAll(() => bucket?.remove());

  it('a request signed with a wrong secret and a session token: no access key id, secret or token', async () => {
    const wrong = makeService('S3', 'wrong', s3Settings(bucket.name, { secret_access_key: 'wrong-secret-0123456789abcdef', session_token: SESSION_TOKEN }));
    const error = await wrong.upload(generateKey(), Buffer.from('x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageAccessError);
    expect((error as Error).cause).toBeInstanceOf(S3Failure);
    expect((error as Error).cause).toMatchObject({ status: 403 });
    expectNoSecrets(printed(error), [s3.accessKeyId, 'wrong-secret-0123456789abcdef', SESSION_TOKEN]);
  });

  it.skipIf(missing('sseC'))('a GET with the wrong SSE-C key: the raw SDK error holds the key and Authorization, attache\'s error neither', async () => {
    const keyA = randomBytes(32).toString('base64');
    const keyB = randomBytes(32).toString('base64');
    const key = generateKey();
    await makeService('SecureS3', 'a', s3Settings(bucket.name, { sse_customer_key: keyA })).upload(key, Buffer.from('sealed'));
    // The control: what the SDK itself keeps (its $response leads to the request and its headers).
    const raw = await rawClient().send(new GetObjectCommand({ Bucket: bucket.name, Key: key, SSECustomerAlgorithm: 'AES256', SSECustomerKey: keyB })).catch((e: unknown) => e);
    expect(printed(raw)).toContain(keyB);
    expect(printed(raw)).toContain(s3.accessKeyId);
    const error = await makeService('SecureS3', 'b', s3Settings(bucket.name, { sse_customer_key: keyB })).download(key).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttacheError);
    expectNoSecrets(printed(error), [keyA, keyB, s3.accessKeyId, s3.secretAccessKey]);
  });

  it('AWS\'s SignatureDoesNotMatch body (AWSAccessKeyId, StringToSign, CanonicalRequest) is not carried over', async () => {
    const canonical = `PUT\n/x\n\nhost:s3\nx-amz-security-token:${SESSION_TOKEN}\n`;
    const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message><AWSAccessKeyId>${s3.accessKeyId}</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256 ${SESSION_TOKEN}</StringToSign><CanonicalRequest>${canonical}</CanonicalRequest><RequestId>req-1</RequestId></Error>`;
    proxy = await startFaultProxy(s3.endpoint, () => ({ kind: 'status', status: 403, body }));
    const raw = await rawClient(proxy.endpoint).send(new PutObjectCommand({ Bucket: bucket.name, Key: 'x', Body: 'x' })).catch((e: unknown) => e);
    expect(inspect(raw, { depth: 10 })).toContain(s3.accessKeyId); // the SDK copies the fields onto its error
    const service = makeService('S3', 'aws-like', s3Settings(bucket.name, { endpoint: proxy.endpoint, session_token: SESSION_TOKEN, retry_limit: 0 }));
    const error = await service.upload(generateKey(), Buffer.from('x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageAccessError);
    expect((error as Error).cause).toMatchObject({ code: 'SignatureDoesNotMatch', status: 403, requestId: 'req-1' });
    expectNoSecrets(printed(error), [s3.accessKeyId, s3.secretAccessKey, SESSION_TOKEN]);
  });

  it.skipIf(missing('sseC'))('an uncaught error in a child process prints no secret to stderr', () => {
    const keyA = randomBytes(32).toString('base64');
    const keyB = randomBytes(32).toString('base64');
    const support = path.resolve(import.meta.dirname, '../../src/services/s3/adapters.ts');
    const settings = (sse: string) => JSON.stringify(s3Settings(bucket.name, { sse_customer_key: sse }));
    // Writes with key A, then reads with key B and leaves the rejection unhandled: Node prints it with inspect.
    const code = `
      import { secureS3Adapter } from ${JSON.stringify(support)};
      const a = secureS3Adapter.create(${settings(keyA)}, { name: 'a' });
      const b = secureS3Adapter.create(${settings(keyB)}, { name: 'b' });
      const key = 'child-${generateKey()}';
      await a.upload(key, Buffer.from('sealed'));
      await b.download(key);`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    expect(child.status).not.toBe(0);
    expect(child.stderr).toMatch(/AttacheError|StorageAccessError|EncryptionError|FileNotFoundError/);
    expectNoSecrets(child.stdout + child.stderr, [keyA, keyB, s3.accessKeyId, s3.secretAccessKey]);
  });
});
