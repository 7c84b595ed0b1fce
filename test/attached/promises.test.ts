import { Readable } from 'node:stream';
import path from 'node:path';
import pg from 'pg';
import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import {
  ArgumentError,
  Attache,
  Attachment,
  AttachmentError,
  Blob,
  fromPath,
  hasManyAttached,
  hasOneAttached,
  InvalidSignatureError,
  PersistenceError,
  type AttachedMany,
  type AttachedOne,
} from '../../src/index.ts';
import { md5Base64 as md5 } from '../../src/core/checksum.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { openTestDataSource, type TestDataSource } from '../support/db.ts';
import { startPgProxy, type PgProxy } from '../support/pg-proxy.ts';
import { filesUnder, FIXTURES, removeDir, tempRoot } from '../support/storage.ts';

@Entity({ name: 'boxes' })
class Box {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar' }) label!: string;
  @hasOneAttached({ service: 'local' }) diskFile!: AttachedOne;
  @hasOneAttached({ service: 'archive' }) archiveFile!: AttachedOne;
  @hasManyAttached({ service: 'local', dependent: 'purge' }) files!: AttachedMany;
}

let proxy: PgProxy;
let db: TestDataSource;
let attache: Attache;
let local: string;
let archive: string;

beforeAll(async () => {
  proxy = await startPgProxy(inject('databaseUrl'));
  db = await openTestDataSource({ entities: [Box], sql: ['CREATE TABLE boxes (id serial PRIMARY KEY, label varchar NOT NULL)'], connectUrl: proxy.url, poolSize: 20 });
  [local, archive] = [await tempRoot('local'), await tempRoot('archive')];
  attache = await Attache.init({
    dataSource: db.dataSource,
    services: { local: { service: 'Disk', root: local }, archive: { service: 'Disk', root: archive } },
    service: 'local',
    secret: TEST_SECRET,
  });
});
afterAll(async () => {
  await attache.close();
  await db.close();
  await proxy.close();
  await removeDir(local);
  await removeDir(archive);
});
beforeEach(() => proxy.comeBack());

const boxes = () => db.dataSource.getRepository(Box);
const newBox = (label = 'box') => boxes().save(boxes().create({ label }));
const count = async () => ({
  blobs: await db.dataSource.getRepository(Blob).count(),
  attachments: await db.dataSource.getRepository(Attachment).count(),
  files: (await filesUnder(local)).length + (await filesUnder(archive)).length,
});
const reload = async (box: Box) => (await boxes().findOneBy({ id: box.id }))!;

/** Expects `action` to reject with `error`, and nothing to be added to the rows or the storage. */
async function expectNothingKept(action: () => Promise<unknown>, error: Function): Promise<void> {
  const before = await count();
  await expect(action()).rejects.toBeInstanceOf(error);
  await attache.drain();
  expect(await count()).toEqual(before);
}

describe('the attachment decides the service, not the client (checklist 29)', () => {
  it('a direct upload made for one attachment cannot be attached to another, even as a copy', async () => {
    const bytes = Buffer.from('direct bytes');
    const { signedId } = await attache.createDirectUpload({ attachment: 'Box#diskFile', filename: 'd.txt', byteSize: bytes.length, checksum: md5(bytes), contentType: 'text/plain' });
    const blob = (await attache.findSigned(signedId))!;
    await attache.service('local').upload(blob.key, bytes, { checksum: md5(bytes) }); // what the browser's PUT does
    const box = await newBox();
    await expectNothingKept(() => box.archiveFile.attach(signedId), AttachmentError);
    await expectNothingKept(() => box.archiveFile.attach(signedId, { copy: true }), AttachmentError);
    await box.diskFile.attach(signedId);
    expect((await box.diskFile.download()).equals(bytes)).toBe(true);
  });

  it('an existing blob on another service is refused, and copied (verified) only when asked', async () => {
    const original = await attache.createAndUpload({ io: Buffer.from('on local'), filename: 'o.txt' });
    const box = await newBox();
    await expectNothingKept(() => box.archiveFile.attach(original), AttachmentError);
    await expectNothingKept(() => box.archiveFile.attach(original.signedId()), AttachmentError);
    await box.archiveFile.attach(original.signedId(), { copy: true });
    const copy = (await box.archiveFile.blob())!;
    expect(copy.serviceName).toBe('archive');
    expect(copy.id).not.toBe(original.id);
    expect(copy.checksum).toBe(original.checksum);
    expect((await box.archiveFile.download()).toString()).toBe('on local');
    expect((await original.download()).toString()).toBe('on local');
  });
});

describe('attachables from untrusted values (checklist 30)', () => {
  it.each([
    ['a { path } parsed from JSON', () => JSON.parse('{"signedId":{"path":"/etc/hostname"}}').signedId as never, ArgumentError],
    ['a { path } object', () => ({ path: '/etc/hostname' }) as never, ArgumentError],
    ['a path as a string', () => '/etc/hostname', InvalidSignatureError],
    ['an empty object', () => ({}) as never, ArgumentError],
  ])('%s never reads a server file', async (_label, value, error) => {
    const box = await newBox();
    await expectNothingKept(() => box.diskFile.attach(value()), error);
  });

  it('fromPath() is the explicit way to attach a local file', async () => {
    const box = await newBox();
    await box.files.attach(fromPath(path.join(FIXTURES, 'report.pdf')));
    expect((await box.files.blobs())[0]!.contentType).toBe('application/pdf');
  });

  it('the ids inside proxy and redirect URLs serve the file but cannot be attached', async () => {
    const owner = await newBox();
    await owner.diskFile.attach(Buffer.from('private'));
    const blob = (await owner.diskFile.blob())!;
    const thief = await newBox();
    for (const url of [blob.proxyUrl(), blob.redirectUrl()]) {
      const id = url.split('/')[4]!;
      await expect(thief.diskFile.attach(id)).rejects.toMatchObject({ name: 'InvalidSignatureError', reason: 'purpose' });
    }
    expect(await thief.diskFile.attached()).toBe(false);
  });
});

describe('a commit whose answer is lost (checklist 31)', () => {
  it('COMMIT reached PostgreSQL but the reply was lost: the attach succeeds and the file stays', async () => {
    const box = await newBox();
    const before = await count();
    proxy.failNext(/^COMMIT/i, 'drop-after');
    await box.diskFile.attach(Buffer.from('committed without an answer'));
    expect(proxy.fired).toBeGreaterThan(0);
    await attache.drain();
    expect((await (await reload(box)).diskFile.download()).toString()).toBe('committed without an answer');
    expect(await count()).toEqual({ blobs: before.blobs + 1, attachments: before.attachments + 1, files: before.files + 1 });
  });

  it('createAndUpload with a lost COMMIT reply returns the blob, stored', async () => {
    proxy.failNext(/^COMMIT/i, 'drop-after');
    const blob = await attache.createAndUpload({ io: Buffer.from('lonely'), filename: 'l.txt' });
    expect((await blob.download()).toString()).toBe('lonely');
  });

  it('a staged attach whose save loses the COMMIT reply keeps the committed file', async () => {
    const box = boxes().create({ label: 'staged, lost reply' });
    await box.diskFile.attach(Buffer.from('staged and committed'));
    proxy.failNext(/^COMMIT/i, 'drop-after');
    await expect(boxes().save(box)).rejects.toThrow();
    await attache.drain();
    const saved = (await boxes().findOneBy({ label: 'staged, lost reply' }))!;
    expect((await saved.diskFile.download()).toString()).toBe('staged and committed');
  });

  it('COMMIT never reached PostgreSQL: PersistenceError, no rows and no file', async () => {
    const box = await newBox();
    proxy.failNext(/^COMMIT/i, 'drop-before');
    await expectNothingKept(() => box.diskFile.attach(Buffer.from('never committed')), PersistenceError);
  });
});

describe('trusted keys (checklist 32)', () => {
  it('racers with the same key: one wins, the others fail without touching its object', async () => {
    const key = `racers/${Date.now()}`;
    const contenders = await Promise.all(Array.from({ length: 6 }, (_, i) => newBox(`racer ${i}`)));
    const before = await count();
    const results = await Promise.allSettled(contenders.map((box, i) => box.diskFile.attach({ io: Buffer.from(`bytes of racer ${i}`), filename: 'r.txt', key, trustKey: true })));
    const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(winners).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ArgumentError);
    await attache.drain();
    const winner = contenders[winners[0]!]!;
    expect((await winner.diskFile.download()).toString()).toBe(`bytes of racer ${winners[0]}`);
    expect(await count()).toEqual({ blobs: before.blobs + 1, attachments: before.attachments + 1, files: before.files + 1 });
  });
});

describe('connections that die and records that go (checklist 33)', () => {
  it('a staged attach whose connection is terminated mid-upload: PersistenceError, nothing left', async () => {
    const box = boxes().create({ label: 'terminated' });
    await box.diskFile.attach({ io: slowStream(() => terminateIdleTransactions(db.schema)), filename: 't.bin' });
    await expectNothingKept(() => boxes().save(box), PersistenceError);
    expect(await boxes().countBy({ label: 'terminated' })).toBe(0);
  });

  it('a record removed while an attach on it uploads: the attach fails with AttachmentError and leaves nothing', async () => {
    const box = await newBox('removed meanwhile');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const before = await count();
    const attaching = box.diskFile.attach({ io: slowStream(() => gate), filename: 'late.bin' });
    await boxes().remove(await reload(box));
    release();
    await expect(attaching).rejects.toBeInstanceOf(AttachmentError);
    await attache.drain();
    expect(await count()).toEqual(before);
  });
});

describe('with the database down, every call is a typed error (checklist 34)', () => {
  it.each([
    ['attached()', async (box: Box) => box.diskFile.reset().attached()],
    ['attach(signedId)', async (box: Box, id: string) => box.diskFile.attach(id)],
    ['attach(bytes)', async (box: Box) => box.files.attach(Buffer.from('no database'))],
    ['findSigned', async (_box: Box, id: string) => attache.findSigned(id)],
    ['createDirectUpload', async () => attache.createDirectUpload({ attachment: 'Box#diskFile', filename: 'x', byteSize: 1, checksum: md5(Buffer.from('x')), contentType: 'text/plain' })],
    ['purgeUnattached', async () => attache.purgeUnattached({ olderThan: 0 })],
    ['withAttached', async (box: Box) => attache.withAttached([box], 'diskFile')],
    ['purge()', async (box: Box) => box.files.purge()],
  ])('%s', async (_label, call) => {
    const box = await newBox();
    const id = (await attache.createAndUpload({ io: Buffer.from('signed'), filename: 's.txt' })).signedId();
    const files = (await filesUnder(local)).length;
    proxy.goDown();
    await expect(call(box, id)).rejects.toBeInstanceOf(PersistenceError);
    proxy.comeBack();
    await attache.drain();
    expect((await filesUnder(local)).length).toBe(files);
  });
});

describe('under load (checklist 35)', () => {
  it('200 concurrent attaches to 200 records all land, each with its file', async () => {
    const many = await Promise.all(Array.from({ length: 200 }, (_, i) => newBox(`load ${i}`)));
    const before = await count();
    await Promise.all(many.map((box, i) => box.diskFile.attach(Buffer.from(`file ${i}`))));
    expect(await count()).toEqual({ blobs: before.blobs + 200, attachments: before.attachments + 200, files: before.files + 200 });
  }, 120_000);

  it('50 concurrent attaches to one has-one end with one attachment, one blob and one file', async () => {
    const box = await newBox('contended');
    const before = await count();
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => box.diskFile.attach(Buffer.from(`contender ${i}`))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(50);
    await attache.drain();
    expect(await count()).toEqual({ blobs: before.blobs + 1, attachments: before.attachments + 1, files: before.files + 1 });
    expect((await (await reload(box)).diskFile.download()).toString()).toMatch(/^contender \d+$/);
  }, 60_000);

  it('attach racing purge, and attach racing remove, leave rows and files in step', async () => {
    const racers = await Promise.all(Array.from({ length: 20 }, (_, i) => newBox(`race ${i}`)));
    await Promise.allSettled(
      racers.flatMap((box, i) => [
        box.files.attach(Buffer.from(`racing ${i}`)),
        i % 2 === 0 ? box.files.purge() : reload(box).then((fresh) => boxes().remove(fresh)),
      ]),
    );
    await attache.drain();
    const blobs = await db.dataSource.getRepository(Blob).find();
    const attachedIds = new Set((await db.dataSource.getRepository(Attachment).find()).map((a) => a.blobId));
    expect(blobs.filter((b) => !attachedIds.has(b.id) && b.filename === 'file')).toEqual([]);
    const remaining = await boxes().findBy(racers.map((r) => ({ id: r.id })));
    expect(remaining.length).toBe(10);
    // Disk keeps root/ab/cd/<key>: every blob has its file, and every file its blob.
    const stored = [...(await filesUnder(local)), ...(await filesUnder(archive))].map((f) => f.split(path.sep).slice(2).join('/'));
    expect(blobs.filter((blob) => !stored.includes(blob.key)).map((b) => b.filename)).toEqual([]);
    expect(stored.sort()).toEqual(blobs.map((b) => b.key).sort());
  }, 60_000);
});

/** A stream of 256 KiB that runs `hook` after its first chunk and waits for it before ending. */
function slowStream(hook: () => Promise<unknown>): Readable {
  let step = 0;
  return new Readable({
    read() {
      step++;
      if (step === 1) this.push(Buffer.alloc(128 * 1024, 1));
      else if (step === 2) hook().then(() => this.push(Buffer.alloc(128 * 1024, 2)), (error: Error) => this.destroy(error));
      else this.push(null);
    },
  });
}

/** Terminates this test file's connections that sit in an open transaction. */
async function terminateIdleTransactions(applicationName: string): Promise<void> {
  const client = new pg.Client({ connectionString: inject('databaseUrl') });
  await client.connect();
  try {
    await client.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND state LIKE 'idle in transaction%'`, [applicationName]);
  } finally {
    await client.end();
  }
}
