import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArgumentError, Blob, ContentTypeNotAllowedError, InvalidKeyError, FileNotFoundError, FileTooLargeError, IntegrityError } from '../../src/index.ts';
import { openAttache, type AttacheFixture } from '../support/attache.ts';
import { User } from '../support/entities.ts';
import { chunkedStream, filesUnder, FIXTURES } from '../support/storage.ts';

const fixtures = FIXTURES;
let f: AttacheFixture;
let png: Buffer;

beforeAll(async () => {
  f = await openAttache();
  png = await readFile(path.join(fixtures, 'ada.png'));
});
afterAll(() => f.close());

const users = () => f.db.dataSource.getRepository(User);
const newUser = () => users().save(users().create({ name: 'Grace' }));
const blobCount = () => f.db.dataSource.getRepository(Blob).count();
const pathOf = (key: string) => path.join(f.local, key.slice(0, 2), key.slice(2, 4), key);

/** Runs `action`, expects `error`, and checks that no row and no file was added. */
async function expectNothingKept(action: () => Promise<unknown>, error: Function): Promise<void> {
  const [rows, files] = [await blobCount(), await filesUnder(f.local)];
  await expect(action()).rejects.toBeInstanceOf(error);
  expect(await blobCount()).toBe(rows);
  expect(await filesUnder(f.local)).toEqual(files);
}

describe('bad input leaves nothing behind', () => {
  it('a source stream that fails mid-upload surfaces its error (checklist 8)', async () => {
    const user = await newUser();
    const failure = new Error('disk unplugged');
    const [rows, files] = [await blobCount(), await filesUnder(f.local)];
    await expect(user.avatar.attach({ io: chunkedStream(300_000, failure), filename: 'big.bin' })).rejects.toThrow('disk unplugged');
    expect(await blobCount()).toBe(rows);
    expect(await filesUnder(f.local)).toEqual(files);
    expect(await user.avatar.attached()).toBe(false);
  });

  it.each([
    ['a PNG stream longer than maxByteSize', () => Readable.from([png, Buffer.alloc(5000)])],
    ['a Buffer longer than maxByteSize', () => Buffer.concat([png, Buffer.alloc(2000)])],
  ])('refuses %s with FileTooLargeError (checklist 22)', async (_label, body) => {
    const user = await newUser();
    await expectNothingKept(() => user.photo.attach({ io: body(), filename: 'photo.png' }), FileTooLargeError);
  });

  it.each([
    ['plain text', Buffer.from('just text'), 'notes.png', 'image/png'],
    ['HTML declared as PNG', Buffer.from('<html><script>alert(1)</script></html>'), 'x.png', 'image/png'],
    ['SVG declared as PNG', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), 'x.png', 'image/png'],
  ])('refuses %s where only images are allowed', async (_label, bytes, filename, contentType) => {
    const user = await newUser();
    await expectNothingKept(() => user.photo.attach({ io: bytes, filename, contentType }), ContentTypeNotAllowedError);
  });

  it('accepts a real PNG within the photo limits', async () => {
    const user = await newUser();
    await user.photo.attach({ io: png, filename: 'ok.png' });
    expect((await user.photo.blob())!.contentType).toBe('image/png');
  });
});

describe('what is stored', () => {
  it.each([
    ['<!DOCTYPE html><html><body>hi</body></html>', 'text/html'],
    ['<svg xmlns="http://www.w3.org/2000/svg"></svg>', 'image/svg+xml'],
    ['<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', 'image/svg+xml'],
  ])('stores markup declared as image/png with its sniffed type (checklist 17): %s', async (markup, expected) => {
    const user = await newUser();
    await user.avatar.attach({ io: Buffer.from(markup), filename: 'avatar.png', contentType: 'image/png' });
    expect((await user.avatar.blob())!.contentType).toBe(expected);
  });

  it.each([
    ['../../evil.sh', 'evil.sh'],
    ['a".html', 'a-.html'],
    ['x\r\nSet-Cookie: a=b', 'x--Set-Cookie- a=b'],
    ['shell.php.jpg', 'shell.php.jpg'],
  ])('sanitizes the filename %j and never uses it in the key or path (checklist 19)', async (filename, stored) => {
    const user = await newUser();
    await user.avatar.attach({ io: Buffer.from('x'), filename });
    const blob = (await user.avatar.blob())!;
    expect(blob.filename).toBe(stored);
    expect(blob.key).toMatch(/^[a-z0-9]{28}$/);
    expect(await readFile(pathOf(blob.key), 'utf8')).toBe('x');
  });

  it('strips internal flags and __proto__ from client metadata (checklist 20)', async () => {
    const user = await newUser();
    const metadata = JSON.parse('{"analyzed":true,"identified":false,"composed":true,"__proto__":{"polluted":1},"custom":"kept"}') as Record<string, unknown>;
    await user.avatar.attach({ io: Buffer.from('m'), filename: 'm.txt', metadata });
    const stored = (await f.db.dataSource.getRepository(Blob).findOneBy({ id: (await user.avatar.blob())!.id }))!;
    expect(stored.metadata).toEqual({ custom: 'kept', identified: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('what is read back', () => {
  it('a flipped byte on disk makes download and stream fail with IntegrityError (checklist 6)', async () => {
    const user = await newUser();
    await user.avatar.attach({ io: png, filename: 'ada.png' });
    const blob = (await user.avatar.blob())!;
    const bytes = await readFile(pathOf(blob.key));
    bytes[100] = bytes[100]! ^ 0xff;
    await writeFile(pathOf(blob.key), bytes);
    await expect(user.avatar.download()).rejects.toBeInstanceOf(IntegrityError);
    await expect(blob.download()).rejects.toBeInstanceOf(IntegrityError);
    const consume = async () => {
      for await (const _ of user.avatar.stream()) void _;
    };
    await expect(consume()).rejects.toBeInstanceOf(IntegrityError);
  });

  it('a missing object gives FileNotFoundError, and exists is false (checklist 28)', async () => {
    const user = await newUser();
    await user.avatar.attach(Buffer.from('soon gone'));
    const blob = (await user.avatar.blob())!;
    await rm(pathOf(blob.key));
    expect(await f.attache.service('local').exists(blob.key)).toBe(false);
    await expect(user.avatar.download()).rejects.toBeInstanceOf(FileNotFoundError);
    const consume = async () => {
      for await (const _ of user.avatar.stream()) void _;
    };
    await expect(consume()).rejects.toBeInstanceOf(FileNotFoundError);
  });
});

describe('caller-chosen keys (checklist 4)', () => {
  it('refuses a key that is not marked trusted, before storing anything', async () => {
    const user = await newUser();
    await expectNothingKept(() => user.avatar.attach({ io: Buffer.from('k'), filename: 'k.txt', key: 'avatars/mine' }), ArgumentError);
  });

  it.each(['../../etc/passwd', '/etc/passwd', 'a/./b', ''])('validates a trusted key too: %j', async (key) => {
    const user = await newUser();
    await expectNothingKept(() => user.avatar.attach({ io: Buffer.from('k'), filename: 'k.txt', key, trustKey: true }), InvalidKeyError);
  });

  it('stores under a trusted key, and refuses to reuse it without touching the first file', async () => {
    const [ada, bob] = [await newUser(), await newUser()];
    const key = `avatars/${Date.now()}`;
    await ada.avatar.attach({ io: Buffer.from('first'), filename: 'a.txt', key, trustKey: true });
    expect((await ada.avatar.blob())!.key).toBe(key);
    await expect(bob.avatar.attach({ io: Buffer.from('second'), filename: 'b.txt', key, trustKey: true })).rejects.toBeInstanceOf(ArgumentError);
    expect((await ada.avatar.download()).toString()).toBe('first');
  });
});
