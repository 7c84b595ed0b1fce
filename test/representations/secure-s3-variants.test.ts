import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Attache, Blob, VariantRecord } from '../../src/index.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { openTestDataSource, type TestDataSource } from '../support/db.ts';
import { imageInfo, makeImage, makePdf, toolsMissing } from '../support/media.ts';
import { createTestBucket, missing, s3Endpoint, s3Settings, type TestBucket } from '../support/s3.ts';
import { Member, membersTable } from './fixture.ts';

/**
 * A variant lives on its original's service: on SecureS3 it is KMS-encrypted and checked like
 * every other write there, and HeadObject on the real encrypting S3 (Ceph RGW) shows it.
 */
describe.skipIf(missing('kms'))('variants and previews on SecureS3', () => {
  const kmsKeyId = s3Endpoint().kmsKeyId!;
  let bucket: TestBucket;
  let db: TestDataSource;
  let attache: Attache;

  beforeAll(async () => {
    bucket = await createTestBucket();
    db = await openTestDataSource({ entities: [Member], sql: [membersTable] });
    attache = await Attache.init({ dataSource: db.dataSource, services: { secure: { service: 'SecureS3', ...s3Settings(bucket.name), kms_key_id: kmsKeyId } }, service: 'secure', secret: TEST_SECRET });
  });
  afterAll(async () => {
    await attache?.close();
    await db?.close();
    await bucket?.remove();
  });

  const newMember = () => db.dataSource.getRepository(Member).save(db.dataSource.getRepository(Member).create({ name: 'Ada' }));
  const head = (key: string) => bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: key }));

  it('stores each variant encrypted with the original\'s KMS key, recorded in its metadata', async () => {
    const member = await newMember();
    await member.avatar.attach({ io: await makeImage(640, 480, 'png'), filename: 'ada.png' });
    await attache.drain(); // the preprocessed `card` variant is made now
    const thumb = await member.avatar.variant('thumb').image();
    const card = await member.avatar.variant('card').image();
    for (const image of [thumb, card]) {
      expect(image.serviceName).toBe('secure');
      expect(image.metadata['encryption']).toEqual({ algorithm: 'aws:kms', kmsKeyId });
      const answer = await head(image.key);
      expect([answer.ServerSideEncryption, answer.SSEKMSKeyId]).toEqual(['aws:kms', kmsKeyId]);
    }
    expect(await imageInfo(await member.avatar.variant('thumb').download())).toMatchObject({ width: 100, height: 75 });
    expect((await member.avatar.variant('card').url()).startsWith(s3Endpoint().endpoint)).toBe(true);
  });

  it.skipIf(toolsMissing('pdftoppm'))('encrypts a PDF\'s preview image and its variants too', async () => {
    const member = await newMember();
    await member.report.attach({ io: makePdf([{ width: 200, height: 100 }]), filename: 'report.pdf' });
    const image = await member.report.preview({ resizeToLimit: [100, 100] }).image();
    const previewKeys = (await db.dataSource.getRepository(Blob).find()).filter((b) => b.filename === 'report.png').map((b) => b.key);
    expect(previewKeys).toHaveLength(2);
    expect(previewKeys).toContain(image.key);
    for (const key of previewKeys) expect((await head(key)).ServerSideEncryption).toBe('aws:kms');
  });

  it('purging the original removes every variant object from the bucket', async () => {
    const member = await newMember();
    await member.avatar.attach({ io: await makeImage(300, 200, 'jpeg'), filename: 'gone.jpg' });
    await attache.drain();
    const original = (await member.avatar.blob())!;
    const thumb = await member.avatar.variant('thumb').image();
    await member.avatar.purge();
    expect(await db.dataSource.getRepository(VariantRecord).countBy({ blobId: original.id })).toBe(0);
    const keys = await bucket.keys();
    expect(keys).not.toContain(original.key);
    expect(keys).not.toContain(thumb.key);
    const rows = new Set((await db.dataSource.getRepository(Blob).find()).map((b) => b.key));
    expect(keys.filter((key) => !rows.has(key))).toEqual([]);
  });
});
