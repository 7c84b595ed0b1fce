import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { Attache, Blob, FileNotFoundError, IntegrityError } from '../../src/index.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { openTestDataSource, type TestDataSource } from '../support/db.ts';
import { User, usersTable } from '../support/entities.ts';
import { createTestBucket, missing, s3Endpoint, s3Settings, type TestBucket } from '../support/s3.ts';
import { serve } from '../http/harness.ts';

/** Direct uploads to SecureS3 as a browser makes them (fetch PUTs), then attach by signed id. */
describe.skipIf(missing('kms'))('direct uploads to SecureS3', () => {
  let bucket: TestBucket;
  let db: TestDataSource;
  let attache: Attache;

  beforeAll(async () => {
    bucket = await createTestBucket();
    db = await openTestDataSource({ entities: [User], sql: [usersTable] });
    attache = await Attache.init({
      dataSource: db.dataSource,
      services: { secure: { service: 'SecureS3', ...s3Settings(bucket.name), kms_key_id: s3Endpoint().kmsKeyId } },
      service: 'secure',
      secret: TEST_SECRET,
    });
  });
  afterAll(async () => {
    await attache?.close();
    await db?.close();
    await bucket?.remove();
  });

  const start = (bytes: Buffer) =>
    attache.createDirectUpload({ attachment: 'User#avatar', filename: 'a.bin', byteSize: bytes.length, checksum: md5Base64(bytes), contentType: 'application/octet-stream' });
  const put = (target: { url: string; headers: Record<string, string> }, bytes: Buffer) =>
    fetch(target.url, { method: 'PUT', headers: target.headers, body: new Uint8Array(bytes) });
  const newUser = () => db.dataSource.getRepository(User).save(db.dataSource.getRepository(User).create({ name: 'Direct' }));

  it('hands the browser the SSE headers, and the attached object is encrypted with the key', async () => {
    const bytes = randomBytes(50_000);
    const answer = await start(bytes);
    const target = answer.directUpload as { url: string; headers: Record<string, string> };
    expect(target.headers).toMatchObject({ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': s3Endpoint().kmsKeyId });
    expect((await put(target, bytes)).status).toBe(200);
    const user = await newUser();
    await user.avatar.attach(answer.signedId);
    const blob = (await user.avatar.blob())!;
    expect(blob.metadata).toMatchObject({ identified: true, encryption: { algorithm: 'aws:kms' } });
    expect(await user.avatar.download()).toEqual(bytes);
  });

  it.each([
    ['different bytes of the same length', (b: Buffer) => Buffer.from(b).fill(7, 0, 10)],
    ['a longer body', (b: Buffer) => Buffer.concat([b, Buffer.from('x')])],
  ])('storage refuses %s, and attaching that signed id fails and leaves nothing behind', async (_label, tamper) => {
    const bytes = randomBytes(30_000);
    const answer = await start(bytes);
    const target = answer.directUpload as { url: string; headers: Record<string, string> };
    const response = await put(target, tamper(bytes)).catch(() => null);
    expect(response === null || response.status >= 400).toBe(true);
    const blob = (await attache.findSigned(answer.signedId))!;
    const user = await newUser();
    await expect(user.avatar.attach(answer.signedId)).rejects.toBeInstanceOf(FileNotFoundError);
    expect(await db.dataSource.getRepository(Blob).findOneBy({ id: blob.id })).toBeNull();
    expect(await attache.service('secure').exists(blob.key)).toBe(false);
  });

  it('a wrong object put at the key by other means is refused at attach (IntegrityError) and removed', async () => {
    const bytes = randomBytes(10_000);
    const answer = await start(bytes);
    const blob = (await attache.findSigned(answer.signedId))!;
    await attache.service('secure').upload(blob.key, randomBytes(10_000));
    const user = await newUser();
    await expect(user.avatar.attach(answer.signedId)).rejects.toBeInstanceOf(IntegrityError);
    expect(await attache.service('secure').exists(blob.key)).toBe(false);
  });

  it('a multipart completion POST sent twice (a retry after a lost answer) succeeds both times and keeps the blob (checklist 40)', async () => {
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1000)];
    const bytes = Buffer.concat(parts);
    const answer = await attache.createDirectUpload({
      attachment: 'User#avatar', filename: 'big.bin', byteSize: bytes.length, checksum: md5Base64(bytes), contentType: 'application/octet-stream',
      parts: parts.map((p) => ({ byteSize: p.length, checksum: md5Base64(p) })),
    });
    const target = answer.directUpload as { parts: Array<{ partNumber: number; url: string; headers: Record<string, string> }>; complete: { url: string } };
    for (const part of target.parts) expect((await put(part, parts[part.partNumber - 1]!)).status).toBe(200);
    const server = await serve(attache.handler());
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const done = await fetch(`${server.base}${target.complete.url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
        expect(done.status).toBe(204);
      }
    } finally {
      await server.close();
    }
    const user = await newUser();
    await user.avatar.attach(answer.signedId);
    expect((await user.avatar.download()).equals(bytes)).toBe(true);
    expect(await bucket.openUploads()).toBe(0);
  });
});
