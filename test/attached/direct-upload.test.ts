import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { ArgumentError, Blob, ContentTypeNotAllowedError, FileNotFoundError, FileTooLargeError, IntegrityError } from '../../src/index.ts';
import { openAttache, type AttacheFixture } from '../support/attache.ts';
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

const users = () => f.db.dataSource.getRepository(User);
const blobs = () => f.db.dataSource.getRepository(Blob);
const request = (bytes: Buffer, extra: Record<string, unknown> = {}) => ({
  attachment: 'User#photo',
  filename: 'me.png',
  byteSize: bytes.length,
  checksum: md5Base64(bytes),
  contentType: 'image/png',
  ...extra,
});
/** What a browser does with the answer: PUT the bytes to the signed URL (here straight to the service). */
async function clientUploads(signedId: string, bytes: Buffer): Promise<Blob> {
  const blob = (await f.attache.findSigned(signedId))!;
  await f.attache.service(blob.serviceName).upload(blob.key, bytes);
  return blob;
}

describe('createDirectUpload', () => {
  it('saves the blob on the attachment\'s service and returns a signed id, a URL and headers', async () => {
    const answer = await f.attache.createDirectUpload(request(png));
    const blob = (await f.attache.findSigned(answer.signedId))!;
    expect(blob).toMatchObject({ serviceName: 'local', byteSize: png.length, checksum: md5Base64(png), contentType: 'image/png', filename: 'me.png' });
    expect((answer.directUpload as { url: string }).url).toMatch(/^\/attache\/disk\/[^/]+$/);
    expect((answer.directUpload as { headers: object }).headers).toMatchObject({ 'Content-Type': 'image/png', 'Content-MD5': md5Base64(png) });
  });

  it.each([
    ['too large for the attachment', { byteSize: 5000 }, FileTooLargeError],
    ['a disallowed declared type', { contentType: 'text/html' }, ContentTypeNotAllowedError],
    ['an unknown entity', { attachment: 'Nope#photo' }, ArgumentError],
    ['an unknown attachment', { attachment: 'User#nope' }, ArgumentError],
    ['a malformed attachment', { attachment: 'User' }, ArgumentError],
    ['a bad checksum', { checksum: 'abc' }, ArgumentError],
    ['a negative size', { byteSize: -1 }, ArgumentError],
  ])('refuses %s before anything is stored', async (_label, extra, error) => {
    const before = await blobs().count();
    await expect(f.attache.createDirectUpload(request(png, extra))).rejects.toBeInstanceOf(error);
    expect(await blobs().count()).toBe(before);
  });

  it('filters client metadata (checklist 20)', async () => {
    const metadata = JSON.parse('{"identified":true,"analyzed":true,"__proto__":{"x":1},"width":64}') as Record<string, unknown>;
    const answer = await f.attache.createDirectUpload(request(png, { metadata }));
    expect((await f.attache.findSigned(answer.signedId))!.metadata).toEqual({ width: 64 });
  });
});

describe('attaching a direct upload by signed id', () => {
  it('verifies the stored bytes, then attaches and marks the blob identified', async () => {
    const answer = await f.attache.createDirectUpload(request(png));
    await clientUploads(answer.signedId, png);
    const user = await users().save(users().create({ name: 'Direct' }));
    await user.photo.attach(answer.signedId);
    const blob = (await user.photo.blob())!;
    expect(blob.metadata).toMatchObject({ identified: true });
    expect(await user.photo.download()).toEqual(png);
  });

  it.each([
    ['bytes that differ from the signed checksum', (b: Buffer) => Buffer.concat([b.subarray(0, -1), Buffer.from([b.at(-1)! ^ 1])]), IntegrityError],
    ['bytes that sniff to a disallowed type', () => null, ContentTypeNotAllowedError],
    ['no upload at all', undefined, FileNotFoundError],
  ] as const)('refuses %s and cleans up the unattached blob', async (_label, tamper, error) => {
    const html = Buffer.from('<html><script>alert(1)</script></html>'.padEnd(200, ' '));
    const declared = tamper === undefined || tamper(png) !== null ? png : html;
    const answer = await f.attache.createDirectUpload(request(declared));
    const blob = (await f.attache.findSigned(answer.signedId))!;
    if (tamper) await clientUploads(answer.signedId, tamper(png) ?? html);
    const user = await users().save(users().create({ name: 'Refused' }));
    await expect(user.photo.attach(answer.signedId)).rejects.toBeInstanceOf(error);
    expect(await user.photo.attached()).toBe(false);
    expect(await blobs().findOneBy({ id: blob.id })).toBeNull();
    expect(await filesUnder(f.local)).not.toContain(path.join(blob.key.slice(0, 2), blob.key.slice(2, 4), blob.key));
  });
});
