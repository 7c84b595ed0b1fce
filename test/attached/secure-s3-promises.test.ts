import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { Attache, Attachment, AttachmentError, Blob, EncryptionError, hasOneAttached, StorageAccessError, type AttachedOne } from '../../src/index.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { openTestDataSource, type TestDataSource } from '../support/db.ts';
import { createTestBucket, missing, s3Endpoint, s3Settings, type TestBucket } from '../support/s3.ts';
import { removeDir, tempRoot } from '../support/storage.ts';
import { startFaultProxy, type FaultProxy } from '../services/fault-proxy.ts';

@Entity({ name: 'lockers' })
class Locker {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar' }) label!: string;
  @hasOneAttached({ service: 'local' }) diskFile!: AttachedOne;
  @hasOneAttached({ service: 'secure' }) vaultFile!: AttachedOne;
  @hasOneAttached({ service: 'flaky', dependent: 'purge' }) flakyFile!: AttachedOne;
}

describe.skipIf(missing('kms'))('SecureS3 keeps its promise against clients and other apps (checklist 37)', () => {
  const kmsKeyId = s3Endpoint().kmsKeyId!;
  let bucket: TestBucket;
  let db: TestDataSource;
  let attache: Attache;
  let local: string;
  let proxy: FaultProxy;
  let refuseDeletes = false;

  beforeAll(async () => {
    bucket = await createTestBucket();
    local = await tempRoot('lockers');
    proxy = await startFaultProxy(s3Endpoint().endpoint, (head) => (refuseDeletes && head.startsWith('DELETE ') ? { kind: 'status', status: 500 } : undefined));
    db = await openTestDataSource({ entities: [Locker], sql: ['CREATE TABLE lockers (id serial PRIMARY KEY, label varchar NOT NULL)'] });
    attache = await Attache.init({
      dataSource: db.dataSource,
      services: {
        local: { service: 'Disk', root: local },
        secure: { service: 'SecureS3', ...s3Settings(bucket.name), kms_key_id: kmsKeyId },
        flaky: { service: 'S3', ...s3Settings(bucket.name), endpoint: proxy.endpoint, retry_limit: 1 },
      },
      service: 'local',
      secret: TEST_SECRET,
    });
  });
  afterAll(async () => {
    await attache?.close();
    await db?.close();
    await proxy?.close();
    await bucket?.remove();
    await removeDir(local);
  });

  const lockers = () => db.dataSource.getRepository(Locker);
  const newLocker = () => lockers().save(lockers().create({ label: 'l' }));
  const head = (key: string) => bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: key }));

  /** A blob row and object as another app (a Rails app on the same tables and bucket) writes them. */
  async function foreignBlob(metadata: Record<string, unknown>, encrypt: boolean): Promise<Blob> {
    const key = `rails${randomBytes(10).toString('hex')}`;
    const bytes = Buffer.from(`written by rails ${key}`);
    await bucket.client.send(
      new PutObjectCommand({ Bucket: bucket.name, Key: key, Body: bytes, ContentMD5: md5Base64(bytes), ...(encrypt && { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kmsKeyId }) }),
    );
    const repository = db.dataSource.getRepository(Blob);
    return repository.save(repository.create({ key, filename: 'rails.txt', contentType: 'text/plain', metadata, serviceName: 'secure', byteSize: bytes.length, checksum: md5Base64(bytes) }));
  }

  it('a Disk direct upload or Disk blob is refused on the SecureS3 attachment; a copy is encrypted and checked', async () => {
    const bytes = Buffer.from('plaintext on disk');
    const { signedId } = await attache.createDirectUpload({ attachment: 'Locker#diskFile', filename: 'd.txt', byteSize: bytes.length, checksum: md5Base64(bytes), contentType: 'text/plain' });
    const pending = (await attache.findSigned(signedId))!;
    await attache.service('local').upload(pending.key, bytes, { checksum: md5Base64(bytes) });
    const locker = await newLocker();
    await expect(locker.vaultFile.attach(signedId)).rejects.toBeInstanceOf(AttachmentError);
    await locker.diskFile.attach(signedId);
    const diskBlob = (await locker.diskFile.blob())!;
    await expect(locker.vaultFile.attach(diskBlob)).rejects.toBeInstanceOf(AttachmentError);
    expect(await locker.vaultFile.attached()).toBe(false);
    await locker.vaultFile.attach(diskBlob, { copy: true });
    const copy = (await locker.vaultFile.blob())!;
    expect(copy.serviceName).toBe('secure');
    expect((await head(copy.key)).ServerSideEncryption).toBe('aws:kms');
    expect(copy.metadata['encryption']).toMatchObject({ algorithm: 'aws:kms' });
    expect((await locker.vaultFile.download()).equals(bytes)).toBe(true);
  });

  it.each([
    ['identified (Rails attached it)', { identified: true }],
    ['not identified (a Rails direct upload)', {}],
  ])('a plaintext blob another app wrote, %s, is refused with EncryptionError and nothing of it is deleted', async (_label, metadata) => {
    const blob = await foreignBlob(metadata, false);
    const locker = await newLocker();
    await expect(locker.vaultFile.attach(blob.signedId())).rejects.toBeInstanceOf(EncryptionError);
    await expect(locker.vaultFile.attach(blob)).rejects.toBeInstanceOf(EncryptionError);
    await attache.drain();
    expect(await locker.vaultFile.attached()).toBe(false);
    expect(await db.dataSource.getRepository(Blob).existsBy({ id: blob.id })).toBe(true);
    expect((await head(blob.key)).ContentLength).toBe(blob.byteSize);
  });

  it('a blob another app wrote encrypted with the configured key is accepted, and its encryption recorded', async () => {
    const blob = await foreignBlob({}, true);
    const locker = await newLocker();
    await locker.vaultFile.attach(blob.signedId());
    const attached = (await db.dataSource.getRepository(Blob).findOneBy({ id: blob.id }))!;
    expect(attached.metadata).toMatchObject({ identified: true, encryption: { algorithm: 'aws:kms' } });
  });

  it('purge while the storage refuses DELETE fails typed, keeps everything, and a retry purges it all (checklist 38)', async () => {
    const locker = await newLocker();
    await locker.flakyFile.attach(Buffer.from('hard to delete'));
    const blob = (await locker.flakyFile.blob())!;
    refuseDeletes = true;
    try {
      await expect(locker.flakyFile.purge()).rejects.toBeInstanceOf(StorageAccessError);
    } finally {
      refuseDeletes = false;
    }
    expect(await db.dataSource.getRepository(Attachment).countBy({ blobId: blob.id })).toBe(1);
    expect((await locker.flakyFile.reset().download()).toString()).toBe('hard to delete');
    await locker.flakyFile.purge();
    expect(await db.dataSource.getRepository(Blob).existsBy({ id: blob.id })).toBe(false);
    await expect(head(blob.key)).rejects.toMatchObject({ name: 'NotFound' });
  });
});
