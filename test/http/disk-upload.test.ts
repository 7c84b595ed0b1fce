import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { Blob } from '../../src/index.ts';
import { generateKey } from '../../src/core/keys.ts';
import { MessageVerifier } from '../../src/signing/MessageVerifier.ts';
import { readAll } from '../../src/core/streams.ts';
import { openAttache, TEST_SECRET, type AttacheFixture } from '../support/attache.ts';
import { User } from '../support/entities.ts';
import { filesUnder } from '../support/storage.ts';
import { serveBoth, tokenOf, type Both } from './harness.ts';

const fixtures = path.resolve(import.meta.dirname, '../../examples/fixtures');
let f: AttacheFixture;
let both: Both;
let png: Buffer<ArrayBuffer>;

beforeAll(async () => {
  f = await openAttache();
  both = await serveBoth(f.attache);
  png = Buffer.from(await readFile(path.join(fixtures, 'ada.png')));
});
afterAll(async () => {
  await both.node.close();
  await f.close();
});

/** A blob row made before its bytes exist (what a direct-upload flow creates), its PUT URL and headers. */
async function directUpload(bytes: Buffer, contentType = 'image/png'): Promise<{ blob: Blob; url: string; headers: Record<string, string> }> {
  const blobs = f.db.dataSource.getRepository(Blob);
  const checksum = md5Base64(bytes);
  const blob = await blobs.save(blobs.create({ key: generateKey(), filename: 'direct.png', contentType, byteSize: bytes.length, checksum, serviceName: 'local', metadata: { identified: true } }));
  const service = f.attache.service('local');
  const url = await service.urlForDirectUpload(blob.key, { expiresIn: 300, contentType, contentLength: bytes.length, checksum });
  return { blob, url, headers: service.headersForDirectUpload(blob.key, { contentType, checksum }) };
}

/** Nothing of `key` is on disk: no object and no temp file left over. */
async function expectNothingStored(key: string): Promise<void> {
  expect(await f.attache.service('local').exists(key)).toBe(false);
  const files = await filesUnder(f.local);
  expect(files.filter((file) => file.includes(key) || file.endsWith('.part'))).toEqual([]);
}

describe('PUT {mount}/disk/:token (checklist 16, Disk side)', () => {
  it('stores exactly the signed bytes (204), and the blob can then be attached', async () => {
    const { blob, url, headers } = await directUpload(png);
    expect(url).toMatch(/^\/attache\/disk\/[\w-]+\.[\w-]+$/);
    const answer = await both.viaNode(url, { method: 'PUT', body: png, headers });
    expect(answer.status).toBe(204);
    expect(answer.body.length).toBe(0);
    expect((await readAll(await f.attache.service('local').download(blob.key))).equals(png)).toBe(true);
    const users = f.db.dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'Direct' }));
    await user.avatar.attach(blob);
    expect((await user.avatar.download()).equals(png)).toBe(true);
  });

  it('works through the Fetch handler as well', async () => {
    const { blob, url, headers } = await directUpload(png);
    const answer = await both.viaFetch(url, { method: 'PUT', body: png, headers: { ...headers, 'content-length': String(png.length) } });
    expect(answer.status).toBe(204);
    expect((await readAll(await f.attache.service('local').download(blob.key))).equals(png)).toBe(true);
  });

  it.each([
    ['a shorter body (Content-Length differs)', (b: Buffer) => b.subarray(0, -1), {}],
    ['a longer body (Content-Length differs)', (b: Buffer) => Buffer.concat([b, Buffer.from('x')]), {}],
    ['another Content-Type', (b: Buffer) => b, { 'content-type': 'image/jpeg' }],
    ['a Content-Type with a parameter added', (b: Buffer) => b, { 'content-type': 'image/png; charset=utf-8' }],
    ['another Content-MD5', (b: Buffer) => b, { 'content-md5': md5Base64('other') }],
    ['no Content-MD5', (b: Buffer) => b, { 'content-md5': null }],
  ] as const)('refuses %s with 422 before reading the body, and stores nothing', async (_label, body, override) => {
    const { blob, url, headers } = await directUpload(png);
    const sent: Record<string, string> = { ...headers };
    for (const [name, value] of Object.entries(override)) {
      const existing = Object.keys(sent).find((k) => k.toLowerCase() === name);
      if (existing) delete sent[existing];
      if (value !== null) sent[name] = value;
    }
    const upload = vi.spyOn(f.attache.service('local'), 'upload');
    try {
      for (const adapter of ['viaNode', 'viaFetch'] as const) {
        const payload = body(png);
        const init = { method: 'PUT', body: new Uint8Array(payload), headers: adapter === 'viaFetch' ? { ...sent, 'content-length': String(payload.length) } : sent };
        const answer = await both[adapter](url, init);
        expect([adapter, answer.status]).toEqual([adapter, 422]);
      }
      expect(upload).not.toHaveBeenCalled();
    } finally {
      upload.mockRestore();
    }
    await expectNothingStored(blob.key);
  });

  it('refuses a chunked body (no Content-Length) with 422', async () => {
    const { blob, url, headers } = await directUpload(png);
    const answer = await both.viaNode(url, { method: 'PUT', body: Readable.toWeb(Readable.from([png])) as ReadableStream, headers, duplex: 'half' } as RequestInit);
    expect(answer.status).toBe(422);
    await expectNothingStored(blob.key);
  });

  it('refuses bytes that do not match the signed checksum (same length, headers as signed) and keeps nothing', async () => {
    const { blob, url, headers } = await directUpload(png);
    const altered = Buffer.from(png);
    altered[100] = altered[100]! ^ 0xff;
    for (const adapter of ['viaNode', 'viaFetch'] as const) {
      const answer = await both[adapter](url, { method: 'PUT', body: altered, headers: { ...headers, 'content-length': String(altered.length) } });
      expect([adapter, answer.status]).toEqual([adapter, 422]);
    }
    await expectNothingStored(blob.key);
  });

  it('a tampered or expired upload token is 404 and stores nothing', async () => {
    const { blob, url, headers } = await directUpload(png);
    const token = tokenOf(url);
    const tampered = url.replace(token, `${token.slice(0, 5)}${token[5] === 'A' ? 'B' : 'A'}${token.slice(6)}`);
    expect((await both.viaNode(tampered, { method: 'PUT', body: png, headers })).status).toBe(404);
    const claims = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { d: unknown };
    const expired = new MessageVerifier(TEST_SECRET, () => Date.now() - 301_000).sign(claims.d, 'disk_upload', 300);
    expect((await both.viaNode(`/attache/disk/${expired}`, { method: 'PUT', body: png, headers })).status).toBe(404);
    await expectNothingStored(blob.key);
  });

  it('refuses GET on the upload path with 405', async () => {
    const { url } = await directUpload(png);
    const answer = await both.viaNode(url);
    expect(answer.status).toBe(405);
    expect(answer.headers.get('allow')).toBe('PUT');
  });
});

describe('a Disk PUT stores bytes only while their blob row waits (checklist 40)', () => {
  it('a PUT replayed after the blob was purged is 404 and recreates no file', async () => {
    const { blob, url, headers } = await directUpload(png);
    expect((await both.viaNode(url, { method: 'PUT', body: png, headers })).status).toBe(204);
    await blob.purge();
    expect((await both.viaNode(url, { method: 'PUT', body: png, headers })).status).toBe(404);
    await expectNothingStored(blob.key);
  });

  it('a PUT arriving after an early attach removed the blob is 404 and leaves nothing', async () => {
    const checksum = md5Base64(png);
    const { signedId, directUpload: target } = await f.attache.createDirectUpload({ attachment: 'User#avatar', filename: 'early.png', byteSize: png.length, checksum, contentType: 'image/png' });
    const users = f.db.dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'Early' }));
    await expect(user.avatar.attach(signedId)).rejects.toMatchObject({ name: 'FileNotFoundError' });
    const { url, headers } = target as { url: string; headers: Record<string, string> };
    expect((await both.viaNode(url, { method: 'PUT', body: png, headers })).status).toBe(404);
    const key = decodeKey(url);
    await expectNothingStored(key);
    expect(await f.db.dataSource.getRepository(Blob).countBy({ key })).toBe(0);
  });

  it('a purge that lands while the PUT streams wins: the PUT is 404 and nothing is stored', async () => {
    const { blob, url, headers } = await directUpload(png);
    // A PUT with the signed Content-Length whose body arrives in two halves, the second after the purge.
    const request = httpRequest(`${both.node.base}${url}`, { method: 'PUT', headers: { ...headers, 'content-length': String(png.length) } });
    const putting = new Promise<number>((resolve, reject) => {
      request.once('response', (response) => (response.resume(), resolve(response.statusCode ?? 0)));
      request.once('error', reject);
    });
    request.write(png.subarray(0, 100));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await blob.purge();
    request.end(png.subarray(100));
    expect(await putting).toBe(404);
    await expectNothingStored(blob.key);
  });
});

/** The key a Disk upload URL's token names (its readable payload). */
function decodeKey(url: string): string {
  const token = new URL(url, 'http://x').pathname.split('/')[3]!;
  return (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { d: { key: string } }).d.key;
}
