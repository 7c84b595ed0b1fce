import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Attache, Blob, IntegrityError, StorageAccessError } from '../../src/index.ts';
import { generateKey } from '../../src/core/keys.ts';
import type { StorageService } from '../../src/services/Service.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { openTestDataSource, type TestDataSource } from '../support/db.ts';
import { User, usersTable } from '../support/entities.ts';
import { createTestBucket, makeService, missing, s3Endpoint, s3Settings, type TestBucket } from '../support/s3.ts';
import { chunked, readAll } from '../../src/testing/contract.ts';
import { startFaultProxy, type Fault, type FaultProxy } from './fault-proxy.ts';

const MIB = 1024 * 1024;
const THRESHOLD = 5 * MIB;

/** A rule that faults requests whose request line matches `pattern`, at most `times` times. */
function faultWhen(pattern: RegExp, fault: Fault, times = Infinity): (head: string) => Fault | undefined {
  let left = times;
  return (head) => {
    if (left <= 0 || !pattern.test(head.split('\r\n')[0] ?? '')) return undefined;
    left -= 1;
    return fault;
  };
}

const UPLOAD_PART_2 = /^PUT \S*[?&]partNumber=2&/;
const UPLOAD_PART = /^PUT \S*[?&]partNumber=\d+&/;
const PUT_OBJECT = /^PUT \S*[?&]x-id=PutObject/;

describe.skipIf(missing('strict'))('S3 faults, through a TCP proxy in front of the server', () => {
  let bucket: TestBucket;
  let proxy: FaultProxy | undefined;
  beforeAll(async () => {
    bucket = await createTestBucket();
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });
  afterAll(() => bucket?.remove());

  async function behindProxy(rule: (head: string) => Fault | undefined): Promise<StorageService> {
    proxy = await startFaultProxy(s3Endpoint().endpoint, rule);
    return makeService('S3', 'faulty', s3Settings(bucket.name, { endpoint: proxy.endpoint, multipart_threshold: THRESHOLD }));
  }

  it('a connection reset in the middle of a part aborts the multipart upload: typed error, no object, no open upload (checklist 8)', async () => {
    const service = await behindProxy(faultWhen(UPLOAD_PART_2, { kind: 'reset', afterBytes: MIB }));
    const key = generateKey();
    const error = await service.upload(key, chunked(randomBytes(3 * THRESHOLD), 256 * 1024)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageAccessError);
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(proxy!.faulted.length).toBeGreaterThanOrEqual(2); // the SDK retried the part before giving up
    expect(await service.exists(key)).toBe(false);
    expect(await bucket.openUploads()).toBe(0);
  });

  it('an S3 500 on one UploadPart is retried by the SDK, and the upload succeeds', async () => {
    const service = await behindProxy(faultWhen(UPLOAD_PART, { kind: 'status', status: 500 }, 1));
    const key = generateKey();
    const data = randomBytes(2 * THRESHOLD + 3);
    await service.upload(key, chunked(data, 256 * 1024));
    expect(proxy!.faulted).toHaveLength(1);
    expect((await readAll(await service.download(key))).equals(data)).toBe(true);
    expect(await bucket.openUploads()).toBe(0);
  });

  it.each([
    ['a single put', PUT_OBJECT, 1000],
    ['a multipart part', UPLOAD_PART_2, THRESHOLD + 1000],
  ])('a byte flipped in transit in %s is refused by S3 as BadDigest: IntegrityError, nothing kept', async (_label, pattern, size) => {
    const service = await behindProxy(faultWhen(pattern, { kind: 'corrupt' }, 1));
    const key = generateKey();
    await expect(service.upload(key, chunked(randomBytes(size), 64 * 1024))).rejects.toBeInstanceOf(IntegrityError);
    expect(proxy!.faulted).toHaveLength(1);
    expect(await service.exists(key)).toBe(false);
    expect(await bucket.openUploads()).toBe(0);
  });

  describe('at attach level', () => {
    let db: TestDataSource;
    let attache: Attache;
    beforeAll(async () => {
      db = await openTestDataSource({ entities: [User], sql: [usersTable] });
    });
    afterAll(async () => {
      await attache?.close();
      await db?.close();
    });

    it('a reset mid-upload writes no rows and leaves no object and no open upload', async () => {
      proxy = await startFaultProxy(s3Endpoint().endpoint, faultWhen(UPLOAD_PART_2, { kind: 'reset', afterBytes: MIB }));
      const settings = s3Settings(bucket.name, { endpoint: proxy.endpoint, multipart_threshold: THRESHOLD });
      attache = await Attache.init({ dataSource: db.dataSource, services: { faulty: { service: 'S3', ...settings } }, service: 'faulty', secret: TEST_SECRET });
      const users = db.dataSource.getRepository(User);
      const user = await users.save(users.create({ name: 'Ada' }));
      const before = await bucket.keys();
      await expect(user.avatar.attach({ io: chunked(randomBytes(3 * THRESHOLD), 256 * 1024), filename: 'big.bin' })).rejects.toBeInstanceOf(StorageAccessError);
      expect(await db.dataSource.getRepository(Blob).count()).toBe(0);
      expect(await user.avatar.attached()).toBe(false);
      expect(await bucket.keys()).toEqual(before);
      expect(await bucket.openUploads()).toBe(0);
    });
  });
});
