import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Attachment, Blob, FileNotFoundError, VariantRecord } from '../../src/index.ts';
import type { Variant } from '../../src/representations/Variant.ts';
import { makeImage } from '../support/media.ts';
import { filesUnder } from '../support/storage.ts';
import { openGallery, type Gallery } from './fixture.ts';

let g: Gallery;
beforeAll(async () => (g = await openGallery()));
afterAll(() => g.close());

async function original(): Promise<Blob> {
  const member = await g.newMember();
  await member.report.attach({ io: await makeImage(1200, 900, 'png'), filename: 'page.png' });
  await g.attache.drain();
  return (await member.report.blob())!;
}

/** Keys of stored files under the Disk root that no blob row names. */
async function orphanFiles(): Promise<string[]> {
  const keys = new Set((await g.db.dataSource.getRepository(Blob).find()).map((b) => b.key));
  return (await filesUnder(g.root)).map((file) => file.split('/').pop()!).filter((key) => !keys.has(key));
}

/** Waits until some connection of this schema waits for a lock (attache blocked on the other writer's row). */
async function someoneWaitsForALock(): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    const rows: Array<{ n: string }> = await g.db.dataSource.query(`SELECT count(*) AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.application_name = $1`, [g.db.schema]);
    if (Number(rows[0]?.n) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('nobody waited for a lock');
}

describe('storing a variant against other writers (the unique index is the last word)', () => {
  it('takes over a variant record that has no image (a writer that died after publishing it) instead of failing', async () => {
    const blob = await original();
    const variant = blob.variant({ resizeToLimit: [100, 100] }) as Variant;
    await g.db.dataSource.getRepository(VariantRecord).insert({ blobId: blob.id, variationDigest: variant.digest });
    const image = await variant.image();
    const records = await g.db.dataSource.getRepository(VariantRecord).findBy({ blobId: blob.id });
    expect(records).toHaveLength(1);
    const attachment = await g.db.dataSource.getRepository(Attachment).findOneByOrFail({ recordType: 'ActiveStorage::VariantRecord', recordId: records[0]!.id });
    expect(attachment.blobId).toBe(image.id);
  });

  it('a writer without attache\'s lock (a Rails app) that commits first wins: its image is used, attache\'s upload removed', async () => {
    const blob = await original();
    const variant = blob.variant({ resizeToLimit: [90, 90] }) as Variant;
    const theirs = await g.attache.createAndUpload({ io: await makeImage(90, 68, 'png'), filename: 'page.png' });
    const runner = g.db.dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    const [{ id }] = (await runner.query('INSERT INTO active_storage_variant_records (blob_id, variation_digest) VALUES ($1, $2) RETURNING id', [blob.id, variant.digest])) as [{ id: string }];
    await runner.query(`INSERT INTO active_storage_attachments (name, record_type, record_id, blob_id, created_at) VALUES ('image', 'ActiveStorage::VariantRecord', $1, $2, now())`, [id, theirs.id]);
    const ours = variant.image();
    await someoneWaitsForALock();
    await runner.commitTransaction();
    await runner.release();
    expect((await ours).id).toBe(theirs.id);
    await g.attache.drain();
    expect(await g.db.dataSource.getRepository(VariantRecord).countBy({ blobId: blob.id })).toBe(1);
    expect(await orphanFiles()).toEqual([]);
  });

  it('the original purged while its variant is made: FileNotFoundError, and nothing of the variant is left', async () => {
    const blob = await original();
    const runner = g.db.dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    await runner.query('DELETE FROM active_storage_attachments WHERE blob_id = $1', [blob.id]);
    await runner.query('DELETE FROM active_storage_blobs WHERE id = $1', [blob.id]);
    const made = blob.variant({ resizeToLimit: [80, 80] }).image().catch((error: unknown) => error);
    await someoneWaitsForALock();
    await runner.commitTransaction();
    await runner.release();
    expect(await made).toBeInstanceOf(FileNotFoundError);
    await g.attache.drain();
    expect(await g.db.dataSource.getRepository(VariantRecord).countBy({ blobId: blob.id })).toBe(0);
    expect((await orphanFiles()).filter((key) => key !== blob.key)).toEqual([]);
  });
});

describe('a schema whose record_id is uuid (the migration\'s uuid option)', () => {
  it('refuses variants with a ConfigurationError and leaves nothing behind; purging still works', async () => {
    const { openAttache } = await import('../support/attache.ts');
    const { Project } = await import('../support/entities.ts');
    const f = await openAttache({ recordIdType: 'uuid' });
    try {
      const projects = f.db.dataSource.getRepository(Project);
      const project = await projects.save(projects.create({ id: crypto.randomUUID(), title: 'P' }));
      await project.logo.attach({ io: await makeImage(50, 50, 'png'), filename: 'logo.png' });
      await f.attache.drain();
      const before = await filesUnder(f.local);
      await expect(project.logo.variant({ resizeToLimit: [10, 10] }).processed()).rejects.toMatchObject({ code: 'E_CONFIGURATION' });
      await f.attache.drain();
      expect(await f.db.dataSource.getRepository(VariantRecord).count()).toBe(0);
      expect(await filesUnder(f.local)).toEqual(before);
      await project.logo.purge();
      expect(await filesUnder(f.local)).toEqual([]);
    } finally {
      await f.close();
    }
  });
});
