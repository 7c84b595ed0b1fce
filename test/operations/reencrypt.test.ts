import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArgumentError, Blob, ConfigurationError, reencryptBlobs } from '../../src/index.ts';
import type { S3Service } from '../../src/services/s3/S3Service.ts';
import { captureRequests, missing, s3Endpoint, s3Settings } from '../support/s3.ts';
import { openOps, type OpsFixture } from './support.ts';

describe.skipIf(missing('kms2'))('reencryptBlobs on SecureS3 (RGW, two KMS keys)', () => {
  let ops: OpsFixture;
  const [key1, key2] = [s3Endpoint().kmsKeyId!, s3Endpoint().kmsKeyId2!];

  beforeAll(async () => {
    ops = await openOps(({ bucket }) => ({ aes: { service: 'SecureS3', ...s3Settings(bucket), server_side_encryption: 'AES256' } }));
  });
  afterAll(async () => ops?.close());

  const head = (key: string) => ops.bucket.client.send(new HeadObjectCommand({ Bucket: ops.bucket.name, Key: key }));
  const row = (id: string) => ops.db.dataSource.getRepository(Blob).findOneByOrFail({ id });

  it('rewrites under an explicit toKey, keeps bytes and headers, records the key; sends UpdateObjectEncryption only to a scratch probe object', async () => {
    const seeded = await ops.seed(3, 'secure');
    const requests = captureRequests((ops.attache.service('secure') as S3Service).client);
    const report = await reencryptBlobs(ops.attache, { service: 'secure', toKey: key2, checkpoint: false });
    expect(report).toMatchObject({ ok: true, rewritten: 3, alreadyUnderKey: 0, failures: [] });
    for (const { blob, data } of seeded) {
      const answer = await head(blob.key);
      expect([answer.SSEKMSKeyId, answer.ContentType, answer.ContentDisposition]).toEqual([key2, 'application/octet-stream', expect.stringContaining(blob.filename)]);
      const body = await (await ops.bucket.client.send(new GetObjectCommand({ Bucket: ops.bucket.name, Key: blob.key }))).Body!.transformToByteArray();
      expect(Buffer.from(body).equals(data)).toBe(true);
      expect((await row(blob.id)).metadata['encryption']).toEqual({ algorithm: 'aws:kms', kmsKeyId: key2 });
    }
    const updates = requests.filter((r) => r.command === 'UpdateObjectEncryptionCommand');
    expect(updates.length).toBeLessThanOrEqual(1);
    for (const update of updates) expect(update.path).toContain('attache-reencrypt-probe-');
    expect((await ops.bucket.keys()).filter((k) => k.startsWith('attache-reencrypt-probe-'))).toEqual([]);

    // The config still names key 1: verify reports every object as drifted from it.
    const verify = await ops.attache.verifyBlobs({ service: 'secure', checkpoint: false });
    expect(verify.failures.map((f) => f.problem)).toEqual(['encryption', 'encryption', 'encryption']);
    expect(await reencryptBlobs(ops.attache, { service: 'secure', toKey: key2, checkpoint: false })).toMatchObject({ ok: true, rewritten: 0, alreadyUnderKey: 3 });
    // Back to the configured key (the default toKey).
    expect(await reencryptBlobs(ops.attache, { service: 'secure', checkpoint: false })).toMatchObject({ ok: true, rewritten: 3 });
    expect((await ops.attache.verifyBlobs({ service: 'secure', deep: true, checkpoint: false })).ok).toBe(true);
  });

  it('an object whose bytes were altered is reported and left exactly as it was (not rewritten, key not recorded)', async () => {
    const { blob, data } = (await ops.seed(1, 'secure'))[0]!;
    const altered = Buffer.from(data);
    altered[3] = altered[3]! ^ 0xff;
    await ops.bucket.client.send(new PutObjectCommand({ Bucket: ops.bucket.name, Key: blob.key, Body: altered, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: key1 }));
    const report = await reencryptBlobs(ops.attache, { service: 'secure', toKey: key2, checkpoint: false });
    expect(report.failures).toEqual([expect.objectContaining({ blobId: blob.id, problem: 'checksum' })]);
    expect((await head(blob.key)).SSEKMSKeyId).toBe(key1);
    const body = await (await ops.bucket.client.send(new GetObjectCommand({ Bucket: ops.bucket.name, Key: blob.key }))).Body!.transformToByteArray();
    expect(Buffer.from(body).equals(altered)).toBe(true);
    expect((await row(blob.id)).metadata['encryption']).toEqual({ algorithm: 'aws:kms', kmsKeyId: key1 });
    await ops.db.dataSource.query('DELETE FROM active_storage_blobs WHERE id = $1', [blob.id]);
  });

  it.each([
    ['a Disk service', { service: 'local' }, ConfigurationError],
    ['a SecureS3 service without a KMS key (SSE-S3)', { service: 'aes' }, ConfigurationError],
    ['an unknown service', { service: 'nope' }, ConfigurationError],
    ['an empty toKey', { service: 'secure', toKey: '' }, ArgumentError],
  ])('%s is refused before any object is touched', async (_label, options, type) => {
    await expect(reencryptBlobs(ops.attache, { checkpoint: false, ...options })).rejects.toBeInstanceOf(type);
  });
});

