import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { access } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Blob } from '../../src/index.ts';
import { missing, s3Endpoint } from '../support/s3.ts';
import { filesUnder } from '../support/storage.ts';
import { between, openOps, runChild, type ChildConfig, type ChildRun, type OpsFixture } from './support.ts';

const COUNT = 300;

/**
 * The README's walk: 300 blobs from Disk to SecureS3 (key 1), then to key 2, each run in a child
 * process SIGKILLed twice at random points and resumed, while the app keeps downloading.
 */
describe.skipIf(missing('kms2'))('Disk → SecureS3 → a new KMS key, killed and resumed', () => {
  let ops: OpsFixture;
  let seeded: Array<{ blob: Blob; data: Buffer }>;
  const [key1, key2] = [s3Endpoint().kmsKeyId!, s3Endpoint().kmsKeyId2!];

  beforeAll(async () => {
    ops = await openOps();
    seeded = await ops.seed(COUNT, 'local');
  }, 120_000);
  afterAll(async () => ops?.close());

  const rows = () => ops.db.dataSource.getRepository(Blob).find({ order: { id: 'ASC' } });
  const exists = (file: string) => access(file).then(() => true, () => false);

  /** Two runs SIGKILLed at random points, then one to the end; the checkpoint survives the kills. */
  async function killTwiceThenFinish(config: ChildConfig, operation: string, options: Record<string, unknown>): Promise<ChildRun> {
    const first = await runChild(config, operation, options, between(20, 120));
    expect(first.signal, first.stderr).toBe('SIGKILL');
    expect(await exists(String(options['checkpoint']))).toBe(true);
    const second = await runChild(config, operation, options, between(first.lastDone + 10, 260));
    expect(second.signal, second.stderr).toBe('SIGKILL');
    const last = await runChild(config, operation, options);
    expect(last.code, last.stderr).toBe(0);
    expect(await exists(String(options['checkpoint']))).toBe(false);
    return last;
  }

  /** Downloads random blobs (from wherever their row points) until `stop`; returns how many succeeded, throwing on the first failure. */
  async function downloadUntil(stop: { done: boolean }): Promise<number> {
    let ok = 0;
    while (!stop.done) {
      const { blob, data } = seeded[Math.floor(Math.random() * seeded.length)]!;
      const row = await ops.db.dataSource.getRepository(Blob).findOneByOrFail({ id: blob.id });
      expect((await row.download()).equals(data)).toBe(true);
      ok += 1;
    }
    return ok;
  }

  it('migrates 300 blobs with --delete-source; downloads keep working; every blob ends on SecureS3, bytes equal', async () => {
    const options = { from: 'local', to: 'secure', deleteSource: true, batchSize: 20, concurrency: 4, checkpoint: `${ops.diskRoot}-migrate.json` };
    const stop = { done: false };
    const reading = downloadUntil(stop);
    const last = await killTwiceThenFinish(ops.child(), 'migrate', options).finally(() => (stop.done = true));
    expect(await reading).toBeGreaterThan(10);
    expect(last.report).toMatchObject({ ok: true, dryRun: false, failures: [] });

    const after = await rows();
    expect(after).toHaveLength(COUNT);
    expect(after.every((b) => b.serviceName === 'secure')).toBe(true);
    for (const blob of after) expect(blob.metadata['encryption']).toEqual({ algorithm: 'aws:kms', kmsKeyId: key1 });
    expect(after.map((b) => b.checksum)).toEqual(seeded.map((s) => s.blob.checksum));
    expect(await filesUnder(ops.diskRoot)).toEqual([]); // every source deleted, also those a killed run switched but never deleted
    expect((await ops.bucket.keys()).sort()).toEqual(after.map((b) => b.key).sort()); // no stray copies
    const verify = await ops.attache.verifyBlobs({ deep: true, checkpoint: false });
    expect(verify).toEqual({ ok: true, checked: COUNT, skipped: 0, failures: [] });
  }, 240_000);

  it('re-encrypts all 300 from key 1 to key 2 (config switched to key 2), killed twice and resumed', async () => {
    const config = ops.child('local');
    config.services = { ...config.services, secure: { ...config.services['secure'], kms_key_id: key2 } };
    const options = { service: 'secure', batchSize: 20, concurrency: 4, checkpoint: `${ops.diskRoot}-reencrypt.json` };
    const stop = { done: false };
    const reading = downloadUntil(stop);
    const last = await killTwiceThenFinish(config, 'reencrypt', options).finally(() => (stop.done = true));
    expect(await reading).toBeGreaterThan(10);
    const report = last.report!;
    expect(report).toMatchObject({ ok: true, failures: [] });
    if (s3Endpoint().server === 'ceph-rgw') expect(report).toMatchObject({ inPlace: 0 }); // RGW: UpdateObjectEncryption fails its probe, CopyObject is 501

    const after = await rows();
    for (const blob of after) {
      const head = await ops.bucket.client.send(new HeadObjectCommand({ Bucket: ops.bucket.name, Key: blob.key }));
      expect([head.ServerSideEncryption, head.SSEKMSKeyId, head.ContentLength]).toEqual(['aws:kms', key2, blob.byteSize]);
      expect(blob.metadata['encryption']).toEqual({ algorithm: 'aws:kms', kmsKeyId: key2 });
    }
    expect((await ops.bucket.keys()).sort()).toEqual(after.map((b) => b.key).sort()); // no probe object left
    const verify = await runChild(config, 'verify', { deep: true, checkpoint: false });
    expect(verify.report).toEqual({ ok: true, checked: COUNT, skipped: 0, failures: [] });
    const again = await runChild(config, 'reencrypt', { service: 'secure', checkpoint: false });
    expect(again.report).toMatchObject({ ok: true, rewritten: 0, alreadyUnderKey: COUNT });
  }, 240_000);
});
