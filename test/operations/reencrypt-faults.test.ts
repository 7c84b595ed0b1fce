import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Blob, reencryptBlobs } from '../../src/index.ts';
import { startFaultProxy, type FaultProxy } from '../services/fault-proxy.ts';
import { missing, s3Endpoint, s3Settings } from '../support/s3.ts';
import { openOps, type OpsFixture } from './support.ts';

/**
 * A streaming rewrite replaces the only copy of the bytes. A PUT whose outcome is unknown (the
 * connection reset mid-body, on every retry) normally makes attache delete the key so nothing is
 * left half-written; for a rewrite that would delete the object, so it must not.
 */
describe.skipIf(missing('kms2') ?? missing('strict'))('reencrypt when the rewrite PUT dies mid-body', () => {
  let ops: OpsFixture;
  let proxy: FaultProxy;
  let faultKey: string | undefined;
  const [key1, key2] = [s3Endpoint().kmsKeyId!, s3Endpoint().kmsKeyId2!];

  beforeAll(async () => {
    proxy = await startFaultProxy(s3Endpoint().endpoint, (head) => {
      const line = head.split('\r\n')[0] ?? '';
      return faultKey !== undefined && line.startsWith('PUT ') && line.includes(faultKey) && line.includes('x-id=PutObject') ? { kind: 'reset', afterBytes: 600 } : undefined;
    });
    ops = await openOps(({ bucket }) => ({ flaky: { service: 'SecureS3', ...s3Settings(bucket, { endpoint: proxy.endpoint }), kms_key_id: key1 } }));
  });
  afterAll(async () => {
    await ops?.close();
    await proxy?.close();
  });

  it('the object keeps its bytes under its old key, the row its old key; a rerun rewrites it', async () => {
    const [{ blob, data }, other] = [...(await ops.seed(2, 'flaky'))] as [{ blob: Blob; data: Buffer }, { blob: Blob; data: Buffer }];
    faultKey = blob.key;
    const report = await reencryptBlobs(ops.attache, { service: 'flaky', toKey: key2, checkpoint: false });
    expect(proxy.faulted.length).toBeGreaterThan(0);
    expect(report).toMatchObject({ ok: false, rewritten: 1 });
    expect(report.failures).toEqual([expect.objectContaining({ blobId: blob.id, problem: 'copy-failed' })]);
    const head = await ops.bucket.client.send(new HeadObjectCommand({ Bucket: ops.bucket.name, Key: blob.key }));
    expect(head.SSEKMSKeyId).toBe(key1);
    const body = await (await ops.bucket.client.send(new GetObjectCommand({ Bucket: ops.bucket.name, Key: blob.key }))).Body!.transformToByteArray();
    expect(Buffer.from(body).equals(data)).toBe(true);
    expect((await ops.db.dataSource.getRepository(Blob).findOneByOrFail({ id: blob.id })).metadata['encryption']).toEqual({ algorithm: 'aws:kms', kmsKeyId: key1 });
    expect((await ops.db.dataSource.getRepository(Blob).findOneByOrFail({ id: other.blob.id })).metadata['encryption']).toEqual({ algorithm: 'aws:kms', kmsKeyId: key2 });

    faultKey = undefined;
    expect(await reencryptBlobs(ops.attache, { service: 'flaky', toKey: key2, checkpoint: false })).toMatchObject({ ok: true, rewritten: 1, alreadyUnderKey: 1 });
  });
});
