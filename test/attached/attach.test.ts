import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { Attachment, Blob, FileNotFoundError, fromPath, InvalidSignatureError } from '../../src/index.ts';
import { MessageVerifier } from '../../src/signing/MessageVerifier.ts';
import { openAttache, TEST_SECRET, type AttacheFixture } from '../support/attache.ts';
import { User } from '../support/entities.ts';
import { filesUnder, FIXTURES } from '../support/storage.ts';

const fixtures = FIXTURES;
let f: AttacheFixture;
let png: Buffer;

beforeAll(async () => {
  f = await openAttache();
  png = await readFile(path.join(fixtures, 'ada.png'));
});
afterAll(() => f.close());

async function newUser(name = 'Ada'): Promise<User> {
  const users = f.db.dataSource.getRepository(User);
  return users.save(users.create({ name }));
}

describe('attach on a saved record', () => {
  it('stores a stream with its size, checksum, sniffed type and a Rails key', async () => {
    const user = await newUser();
    await user.avatar.attach({ io: createReadStream(path.join(fixtures, 'ada.png')), filename: 'ada.png' });
    expect(await user.avatar.attached()).toBe(true);
    const blob = (await user.avatar.blob())!;
    expect(blob).toBeInstanceOf(Blob);
    expect(blob.key).toMatch(/^[a-z0-9]{28}$/);
    expect(blob.byteSize).toBe(png.length);
    expect(blob.checksum).toBe(md5Base64(png));
    expect(blob.contentType).toBe('image/png');
    expect(blob.filename).toBe('ada.png');
    expect(blob.serviceName).toBe('local');
    expect(blob.metadata).toMatchObject({ identified: true });
    expect(await filesUnder(f.local)).toContain(path.join(blob.key.slice(0, 2), blob.key.slice(2, 4), blob.key));
    expect(await user.avatar.download()).toEqual(png);
  });

  it('reads the rows back on a freshly loaded record, and streams the bytes', async () => {
    const user = await newUser();
    await user.avatar.attach(png);
    const loaded = (await f.db.dataSource.getRepository(User).findOneBy({ id: user.id }))!;
    const chunks: Buffer[] = [];
    for await (const chunk of loaded.avatar.stream()) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks)).toEqual(png);
    const row = (await f.db.dataSource.getRepository(Attachment).findOneBy({ recordId: String(user.id), name: 'avatar' }))!;
    expect(row.recordType).toBe('User');
  });

  it('accepts a Buffer, a Uint8Array, a Readable, { path } and { io } inputs', async () => {
    const user = await newUser();
    await user.documents.attach([
      Buffer.from('plain buffer'),
      new Uint8Array([1, 2, 3]),
      Readable.from([Buffer.from('from a readable')]),
      fromPath(path.join(fixtures, 'report.pdf')),
      { io: Buffer.from('a,b\n1,2\n'), filename: 'table.csv' },
    ]);
    const blobs = await user.documents.blobs();
    expect(blobs.map((b) => b.byteSize)).toEqual([12, 3, 15, (await readFile(path.join(fixtures, 'report.pdf'))).length, 8]);
    expect(blobs.map((b) => b.contentType)).toEqual(['application/octet-stream', 'application/octet-stream', 'application/octet-stream', 'application/pdf', 'text/csv']);
    expect(blobs.map((b) => b.filename).slice(3)).toEqual(['report.pdf', 'table.csv']);
    expect(new Set(blobs.map((b) => b.serviceName))).toEqual(new Set(['archive']));
    expect((await filesUnder(f.archive)).length).toBeGreaterThanOrEqual(5);
    expect(await user.documents.count()).toBe(5);
  });

  it('appends to a has-many collection', async () => {
    const user = await newUser();
    await user.documents.attach(Buffer.from('one'));
    await user.documents.attach([Buffer.from('two'), Buffer.from('three')]);
    expect((await user.documents.blobs()).map((b) => b.byteSize)).toEqual([3, 3, 5]);
  });

  it('detach removes the rows but keeps the blob and the file', async () => {
    const user = await newUser();
    await user.avatar.attach(png);
    const blob = (await user.avatar.blob())!;
    await user.avatar.detach();
    expect(await user.avatar.attached()).toBe(false);
    const kept = (await f.db.dataSource.getRepository(Blob).findOneBy({ id: blob.id }))!;
    expect(await kept.download()).toEqual(png);
  });

  it('purge removes rows, blob and file, and is idempotent', async () => {
    const user = await newUser();
    await user.avatar.attach(png);
    const blob = (await user.avatar.blob())!;
    await user.avatar.purge();
    await user.avatar.purge();
    expect(await user.avatar.attached()).toBe(false);
    expect(await f.db.dataSource.getRepository(Blob).findOneBy({ id: blob.id })).toBeNull();
    expect(await f.attache.service('local').exists(blob.key)).toBe(false);
    await expect(user.avatar.download()).rejects.toBeInstanceOf(FileNotFoundError);
  });

  it('purgeLater purges through the queue', async () => {
    const user = await newUser();
    await user.avatar.attach(png);
    const blob = (await user.avatar.blob())!;
    await user.avatar.purgeLater();
    await f.attache.drain();
    expect(await f.db.dataSource.getRepository(Blob).findOneBy({ id: blob.id })).toBeNull();
    expect(await f.attache.service('local').exists(blob.key)).toBe(false);
  });
});

describe('blobs on their own', () => {
  it('createAndUpload stores an unattached blob that can be attached later, also by signed id', async () => {
    const blob = await f.attache.createAndUpload({ io: png, filename: 'later.png' });
    expect(blob.id).toBeTruthy();
    expect(blob.contentType).toBe('image/png');
    const ada = await newUser();
    await ada.avatar.attach(blob);
    expect((await ada.avatar.blob())!.id).toBe(blob.id);
    const bob = await newUser();
    await bob.avatar.attach(blob.signedId());
    expect(await bob.avatar.download()).toEqual(png);
    expect(await f.attache.findSigned(blob.signedId())).toMatchObject({ id: blob.id, key: blob.key });
    expect(await f.attache.findSigned(`${blob.signedId()}x`)).toBeNull();
  });

  it.each([['garbage'], ['a.b'], ['']])('refuses to attach a bad signed id %j', async (id) => {
    const user = await newUser();
    await expect(user.avatar.attach(id)).rejects.toBeInstanceOf(InvalidSignatureError);
    expect(await user.avatar.attached()).toBe(false);
  });

  it('a signed id with expiresIn attaches now and is refused after it expires', async () => {
    const blob = await f.attache.createAndUpload({ io: png, filename: 'soon.png' });
    const verifier = new MessageVerifier(TEST_SECRET, () => Date.now() + 61_000);
    const user = await newUser();
    const expiring = blob.signedId({ expiresIn: 60 });
    expect(() => verifier.verify(expiring, 'blob_id')).toThrow(InvalidSignatureError);
    await user.avatar.attach(expiring);
    expect(await user.avatar.attached()).toBe(true);
  });

  it('open gives a temporary file with the bytes and removes it afterwards', async () => {
    const blob = await f.attache.createAndUpload({ io: png, filename: 'open.png' });
    const seen = await blob.open(async (file) => {
      expect(file.endsWith('.png')).toBe(true);
      return { file, bytes: await readFile(file) };
    });
    expect(seen.bytes).toEqual(png);
    await expect(readFile(seen.file)).rejects.toThrow(/ENOENT/);
  });
});
