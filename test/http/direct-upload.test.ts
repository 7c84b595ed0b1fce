import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { Blob } from '../../src/index.ts';
import { openAttache, type AttacheFixture } from '../support/attache.ts';
import { User } from '../support/entities.ts';
import { filesUnder } from '../support/storage.ts';
import { serve, type Served } from './harness.ts';

const fixtures = path.resolve(import.meta.dirname, '../../examples/fixtures');
let f: AttacheFixture;
let server: Served;
let png: Buffer;
let allow = true;

beforeAll(async () => {
  f = await openAttache();
  png = await readFile(path.join(fixtures, 'ada.png'));
  server = await serve(f.attache.handler({ authorizeDirectUpload: (_req, definition) => allow || definition.name !== 'photo' }));
});
afterAll(async () => {
  await server.close();
  await f.close();
});

const blobCount = () => f.db.dataSource.getRepository(Blob).count();
const body = (bytes: Buffer, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ attachment: 'User#photo', filename: 'me.png', byteSize: bytes.length, checksum: md5Base64(bytes), contentType: 'image/png', ...extra });
const create = (payload: string, type = 'application/json') =>
  fetch(`${server.base}/attache/direct_uploads`, { method: 'POST', headers: { 'content-type': type }, body: payload });

describe('POST {mount}/direct_uploads', () => {
  it('answers a signed id and a Disk PUT that stores the bytes; the signed id then attaches (checklist 16 Disk side)', async () => {
    const response = await create(body(png));
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { signedId: string; directUpload: { url: string; headers: Record<string, string> } };
    const put = await fetch(`${server.base}${answer.directUpload.url}`, { method: 'PUT', headers: answer.directUpload.headers, body: new Uint8Array(png) });
    expect(put.status).toBe(204);
    const users = f.db.dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'Browser' }));
    await user.photo.attach(answer.signedId);
    expect(await user.photo.download()).toEqual(png);
  });

  it.each([
    ['too large for the attachment', () => body(png, { byteSize: 4096 })],
    ['a type the attachment refuses', () => body(png, { contentType: 'text/html' })],
    ['an unknown attachment', () => body(png, { attachment: 'User#nothing' })],
    ['a malformed checksum', () => body(png, { checksum: 'nope' })],
    ['broken JSON', () => '{"attachment":'],
  ])('refuses %s with 422 before any byte is uploaded', async (_label, payload) => {
    const before = [await blobCount(), await filesUnder(f.local)];
    const response = await create(payload());
    expect(response.status).toBe(422);
    expect(((await response.json()) as { error: string }).error).toMatch(/Error$/);
    expect([await blobCount(), await filesUnder(f.local)]).toEqual(before);
  });

  it('refuses a body that is not JSON, and a wrong method', async () => {
    expect((await create(body(png), 'text/plain')).status).toBe(422);
    expect((await fetch(`${server.base}/attache/direct_uploads`)).status).toBe(405);
  });

  it('lets authorizeDirectUpload refuse with 403', async () => {
    allow = false;
    try {
      expect((await create(body(png))).status).toBe(403);
    } finally {
      allow = true;
    }
  });

  it('refuses a PUT whose bytes differ from the signed checksum, and attaching that signed id leaves nothing', async () => {
    const answer = (await (await create(body(png))).json()) as { signedId: string; directUpload: { url: string; headers: Record<string, string> } };
    const other = Buffer.from(png);
    other[50] = other[50]! ^ 0xff;
    const put = await fetch(`${server.base}${answer.directUpload.url}`, { method: 'PUT', headers: answer.directUpload.headers, body: new Uint8Array(other) });
    expect(put.status).toBe(422);
    const users = f.db.dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'Mismatch' }));
    const blob = (await f.attache.findSigned(answer.signedId))!;
    await expect(user.photo.attach(answer.signedId)).rejects.toThrow();
    expect(await f.db.dataSource.getRepository(Blob).findOneBy({ id: blob.id })).toBeNull();
    expect(await f.attache.service('local').exists(blob.key)).toBe(false);
  });
});
