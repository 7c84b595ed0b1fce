import { PutObjectCommand } from '@aws-sdk/client-s3';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArgumentError, Blob, ConfigurationError, migrateBlobs } from '../../src/index.ts';
import { makeImage } from '../support/media.ts';
import { missing, s3Endpoint } from '../support/s3.ts';
import { filesUnder, tempRoot } from '../support/storage.ts';
import { diskPath, openOps, type OpsFixture } from './support.ts';

describe.skipIf(missing('kms'))('migrateBlobs Disk → SecureS3', () => {
  let ops: OpsFixture;
  let otherRoot: string;

  beforeAll(async () => {
    otherRoot = await tempRoot('ops-other');
    ops = await openOps(({ diskRoot }) => ({ alias: { service: 'Disk', root: diskRoot }, other: { service: 'Disk', root: otherRoot } }));
  });
  afterAll(async () => {
    await ops?.close();
    await rm(otherRoot, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await ops.db.dataSource.query('DELETE FROM active_storage_attachments; DELETE FROM active_storage_variant_records; DELETE FROM active_storage_blobs');
    for (const key of await ops.bucket.keys()) await ops.attache.service('secure').delete(key);
    await rm(ops.diskRoot, { recursive: true, force: true });
  });

  const rows = () => ops.db.dataSource.getRepository(Blob).find({ order: { id: 'ASC' } });

  it('a dry run reports what would move and changes nothing; the real run moves blobs and variant images, keeping sources; a later --delete-source run removes them', async () => {
    await ops.seed(4, 'local');
    const image = await ops.attache.createAndUpload({ io: await makeImage(64, 48, 'png'), filename: 'ada.png' });
    await image.variant({ resizeToLimit: [16, 16] }).processed();
    const before = await rows();
    expect(before).toHaveLength(6);

    const dry = await migrateBlobs(ops.attache, { from: 'local', to: 'secure', dryRun: true, deleteSource: true });
    expect(dry).toEqual({ ok: true, dryRun: true, moved: 6, alreadyOnTarget: 0, deletedSources: 0, failures: [] });
    expect(await rows()).toEqual(before);
    expect(await ops.bucket.keys()).toEqual([]);

    const real = await ops.attache.migrateBlobs({ from: 'local', to: 'secure', checkpoint: false });
    expect(real).toEqual({ ok: true, dryRun: false, moved: 6, alreadyOnTarget: 0, deletedSources: 0, failures: [] });
    expect((await rows()).map((b) => b.serviceName)).toEqual(Array(6).fill('secure'));
    expect(await filesUnder(ops.diskRoot)).toHaveLength(6); // sources stay without deleteSource
    const moved = await ops.db.dataSource.getRepository(Blob).findOneByOrFail({ id: image.id });
    expect((await moved.variant({ resizeToLimit: [16, 16] }).image()).serviceName).toBe('secure');
    expect((await moved.variant({ resizeToLimit: [16, 16] }).download()).length).toBeGreaterThan(0);
    // The recorded metadata kept its other facts and gained the target's encryption.
    expect(moved.metadata).toMatchObject({ identified: true, encryption: { algorithm: 'aws:kms', kmsKeyId: s3Endpoint().kmsKeyId } });

    const cleanup = await migrateBlobs(ops.attache, { from: 'local', to: 'secure', deleteSource: true, checkpoint: false });
    expect(cleanup).toMatchObject({ ok: true, moved: 0, deletedSources: 6 });
    expect(await filesUnder(ops.diskRoot)).toEqual([]);
    expect((await ops.attache.verifyBlobs({ deep: true, checkpoint: false })).ok).toBe(true);
  });

  it('a copy a killed run left on the target is reused when right and overwritten when wrong', async () => {
    const [good, bad] = await ops.seed(2, 'local');
    await ops.attache.service('secure').upload(good!.blob.key, good!.data);
    await ops.bucket.client.send(new PutObjectCommand({ Bucket: ops.bucket.name, Key: bad!.blob.key, Body: Buffer.alloc(bad!.data.length), ServerSideEncryption: 'aws:kms', SSEKMSKeyId: s3Endpoint().kmsKeyId }));
    const report = await migrateBlobs(ops.attache, { from: 'local', to: 'secure', checkpoint: false });
    expect(report).toMatchObject({ ok: true, moved: 1, alreadyOnTarget: 1 });
    expect((await ops.attache.verifyBlobs({ deep: true, checkpoint: false })).ok).toBe(true);
  });

  it('a blob whose source is missing or altered is reported and stays where it was, with nothing left on the target', async () => {
    const [gone, altered, fine] = await ops.seed(3, 'local');
    await rm(diskPath(ops.diskRoot, gone!.blob.key));
    const data = Buffer.from(altered!.data);
    data[0] = data[0]! ^ 1;
    await import('node:fs/promises').then((fs) => fs.writeFile(diskPath(ops.diskRoot, altered!.blob.key), data));
    const report = await migrateBlobs(ops.attache, { from: 'local', to: 'secure', checkpoint: false });
    expect(report.ok).toBe(false);
    expect(report.moved).toBe(1);
    expect(report.failures.map((f) => [f.blobId, f.problem])).toEqual([[gone!.blob.id, 'missing'], [altered!.blob.id, 'checksum']]);
    expect((await rows()).map((b) => b.serviceName)).toEqual(['local', 'local', 'secure']);
    expect(await ops.bucket.keys()).toEqual([fine!.blob.key]);
  });

  it.each([
    ['the same service', { from: 'local', to: 'local' }, ArgumentError],
    ['two services on one Disk root (a copy would overwrite its source)', { from: 'local', to: 'alias' }, ArgumentError],
    ['an unknown service', { from: 'local', to: 'nope' }, ConfigurationError],
  ])('%s is refused before anything is copied', async (_label, options, type) => {
    await ops.seed(1, 'local');
    await expect(migrateBlobs(ops.attache, { ...options, deleteSource: true })).rejects.toBeInstanceOf(type);
    expect((await rows()).map((b) => b.serviceName)).toEqual(['local']);
    expect(await filesUnder(ops.diskRoot)).toHaveLength(1);
  });

  it('Disk → Disk moves too, and reports progress and events', async () => {
    await ops.seed(5, 'local');
    const events: string[] = [];
    const listener = (p: { done: number }) => events.push(`progress ${p.done}`);
    ops.attache.on('operation:progress', listener);
    ops.attache.on('operation:completed', (c) => events.push(`completed ${c.ok}`));
    const report = await migrateBlobs(ops.attache, { from: 'local', to: 'other', deleteSource: true, batchSize: 2, concurrency: 2, checkpoint: false });
    ops.attache.off('operation:progress', listener);
    expect(report).toMatchObject({ ok: true, moved: 5, deletedSources: 5 });
    expect(events.slice(-2)).toEqual(['progress 5', 'completed true']);
    expect(await filesUnder(otherRoot)).toHaveLength(5);
    expect(await filesUnder(ops.diskRoot)).toEqual([]);
  });
});
