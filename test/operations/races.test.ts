import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Blob, migrateBlobs, reencryptBlobs } from '../../src/index.ts';
import { missing, s3Endpoint } from '../support/s3.ts';
import { diskPath, openOps, type OpsFixture } from './support.ts';

/**
 * A blob purged while an operation works on it: the operation's UPDATE waits on the purge's row
 * lock (taken here by hand, in a transaction of our own), then finds no row. What it wrote for the
 * blob must not stay behind as an object no row names.
 */
describe.skipIf(missing('kms2'))('operations racing a purge', () => {
  let ops: OpsFixture;
  const key2 = s3Endpoint().kmsKeyId2!;

  beforeAll(async () => {
    ops = await openOps();
  });
  afterAll(async () => ops?.close());

  /** Locks the blob's row, waits for `ready`, then deletes the row (and runs `purge`) and commits. */
  async function purgeUnderLock(blob: Blob, ready: () => Promise<boolean>, purge: () => Promise<void>): Promise<void> {
    const runner = ops.db.dataSource.createQueryRunner();
    await runner.startTransaction();
    try {
      await runner.query('SELECT id FROM active_storage_blobs WHERE id = $1 FOR UPDATE', [blob.id]);
      return await (async () => {
        const started = Date.now();
        while (!(await ready())) {
          if (Date.now() - started > 20_000) throw new Error('the operation never got to the blob');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await runner.query('DELETE FROM active_storage_blobs WHERE id = $1', [blob.id]);
        await purge();
        await runner.commitTransaction();
      })();
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
    }
  }

  it('migrate: a blob purged during its copy leaves no copy on the target', async () => {
    const { blob } = (await ops.seed(1, 'local'))[0]!;
    const copied = async () => (await ops.bucket.keys()).includes(blob.key);
    const purging = purgeUnderLock(blob, copied, () => rm(diskPath(ops.diskRoot, blob.key)));
    const report = await migrateBlobs(ops.attache, { from: 'local', to: 'secure', checkpoint: false });
    await purging;
    expect(report).toMatchObject({ ok: true, moved: 0, failures: [] });
    expect(await ops.bucket.keys()).not.toContain(blob.key);
  });

  it('reencrypt: an object rewritten for a blob purged meanwhile is removed, not resurrected', async () => {
    const { blob } = (await ops.seed(1, 'secure'))[0]!;
    const rewritten = async () => (await ops.bucket.client.send(new HeadObjectCommand({ Bucket: ops.bucket.name, Key: blob.key }))).SSEKMSKeyId === key2;
    // The purge's own DELETE of the object ran before the rewrite landed: here it is simply not done.
    const purging = purgeUnderLock(blob, rewritten, async () => undefined);
    const report = await reencryptBlobs(ops.attache, { service: 'secure', toKey: key2, checkpoint: false });
    await purging;
    expect(report).toMatchObject({ ok: true, failures: [] });
    expect(await ops.bucket.keys()).not.toContain(blob.key);
  });
});
