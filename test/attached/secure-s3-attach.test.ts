import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { Entity, PrimaryColumn } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Attache, Blob, EncryptionError, hasOneAttached, IntegrityError, type AttachedOne } from '../../src/index.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { openTestDataSource, type TestDataSource } from '../support/db.ts';
import { User, usersTable } from '../support/entities.ts';
import { createTestBucket, missing, s3Endpoint, s3Settings, type TestBucket } from '../support/s3.ts';

/** The users table again, with attachments on the misconfigured services. */
@Entity({ name: 'users' })
class Vault {
  @PrimaryColumn() id!: number;
  @hasOneAttached({ service: 'unknown_key' }) unknownKey!: AttachedOne;
  @hasOneAttached({ service: 'aes' }) silent!: AttachedOne;
}

const vault = (user: User): Vault => Object.assign(new Vault(), { id: user.id });

/**
 * The README's path, against a real encrypting S3: a storage.yml-style SecureS3 block, then the
 * same `user.avatar.attach(file)` as on Disk. Each blob records which KMS key encrypted it.
 */
describe.skipIf(missing('kms'))('attach on SecureS3 (SSE-KMS)', () => {
  const kmsKeyId = s3Endpoint().kmsKeyId!;
  let bucket: TestBucket;
  let db: TestDataSource;
  let attache: Attache;

  beforeAll(async () => {
    bucket = await createTestBucket();
    db = await openTestDataSource({ entities: [User, Vault], sql: [usersTable] });
    const settings = s3Settings(bucket.name);
    attache = await Attache.init({
      dataSource: db.dataSource,
      services: {
        secure: { service: 'SecureS3', ...settings, kms_key_id: kmsKeyId },
        unknown_key: { service: 'SecureS3', ...settings, kms_key_id: 'no-such-key' },
        aes: { service: 'SecureS3', ...settings, server_side_encryption: 'AES256' },
      },
      service: 'secure',
      secret: TEST_SECRET,
    });
  });
  afterAll(async () => {
    await attache?.close();
    await db?.close();
    await bucket?.remove();
  });

  const users = () => db.dataSource.getRepository(User);
  const newUser = () => users().save(users().create({ name: 'Ada' }));
  const blobCount = () => db.dataSource.getRepository(Blob).count();

  it('stores the file encrypted with the key and records { algorithm, kmsKeyId } in blob.metadata', async () => {
    const user = await newUser();
    const data = randomBytes(20_000);
    await user.avatar.attach({ io: data, filename: 'scan.bin' });
    const blob = (await user.avatar.blob())!;
    expect(blob.metadata.encryption).toEqual({ algorithm: 'aws:kms', kmsKeyId });
    expect(blob.serviceName).toBe('secure');
    const answer = await bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: blob.key }));
    expect([answer.ServerSideEncryption, answer.SSEKMSKeyId]).toEqual(['aws:kms', kmsKeyId]);
    expect((await user.avatar.download()).equals(data)).toBe(true);
    const reloaded = await db.dataSource.getRepository(Blob).findOneByOrFail({ id: blob.id });
    expect(reloaded.metadata.encryption).toEqual({ algorithm: 'aws:kms', kmsKeyId });
  });

  it.each([
    ['the object overwritten with other bytes of the same size', (data: Buffer) => Buffer.from(data).fill(1, 0, 1)],
    ['the object overwritten with fewer bytes', (data: Buffer) => data.subarray(1)],
  ])('a download after %s throws IntegrityError (checklist 6)', async (_label, tamper) => {
    const user = await newUser();
    const data = randomBytes(5000);
    data[0] = 0;
    await user.avatar.attach({ io: data, filename: 'report.bin' });
    const blob = (await user.avatar.blob())!;
    const body = tamper(data);
    await bucket.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: blob.key, Body: body, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kmsKeyId }));
    await expect(user.avatar.download()).rejects.toBeInstanceOf(IntegrityError);
  });

  it('an unknown KMS key gives EncryptionError, and no row and no object remain (checklist 24)', async () => {
    const user = await newUser();
    const [rows, keys] = [await blobCount(), await bucket.keys()];
    await expect(vault(user).unknownKey.attach({ io: randomBytes(1000), filename: 'x.bin' })).rejects.toBeInstanceOf(EncryptionError);
    expect(await blobCount()).toBe(rows);
    expect(await bucket.keys()).toEqual(keys);
  });

  it.skipIf(missing('silentAes256'))('a server that silently ignores the encryption fails closed: EncryptionError, no row, no object', async () => {
    const user = await newUser();
    const [rows, keys] = [await blobCount(), await bucket.keys()];
    await expect(vault(user).silent.attach({ io: randomBytes(1000), filename: 'x.bin' })).rejects.toBeInstanceOf(EncryptionError);
    expect(await blobCount()).toBe(rows);
    expect(await bucket.keys()).toEqual(keys);
  });
});
