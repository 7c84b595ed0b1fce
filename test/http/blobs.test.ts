import { IncomingMessage } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Blob } from '../../src/index.ts';
import { MessageVerifier } from '../../src/signing/MessageVerifier.ts';
import { openAttache, TEST_SECRET, type AttacheFixture } from '../support/attache.ts';
import { User } from '../support/entities.ts';
import { decodeToken, flipChar, HOSTILE_FILENAMES, serveBoth, tokenOf, watchReads, WELL_FORMED_DISPOSITION, type Answer, type Both } from './harness.ts';
import { runtimeOf } from '../../src/attache.ts';

const fixtures = path.resolve(import.meta.dirname, '../../examples/fixtures');
const HTML = Buffer.from('<html><body><script>alert(1)</script></body></html>');

let f: AttacheFixture;
let both: Both;
let png: Buffer;
let blob: Blob;
/** Decides every authorize call of `both`; records what it was given. */
let allow: boolean | Promise<boolean> = true;
const seen: Array<{ request: unknown; blob: Blob }> = [];

async function attached(io: Buffer, filename: string, contentType?: string): Promise<Blob> {
  const users = f.db.dataSource.getRepository(User);
  const user = await users.save(users.create({ name: 'Grace' }));
  await user.avatar.attach({ io, filename, contentType });
  return (await user.avatar.blob())!;
}

/** Both adapters answer the same; returns the Node one. */
const get = (urlPath: string, init?: RequestInit): Promise<Answer> => both.get(urlPath, init);

beforeAll(async () => {
  f = await openAttache();
  both = await serveBoth(f.attache, {
    authorize: (request, b) => {
      seen.push({ request, blob: b });
      return allow;
    },
  });
  png = await readFile(path.join(fixtures, 'ada.png'));
  blob = await attached(png, 'ada.png');
});
afterAll(async () => {
  await both.node.close();
  await f.close();
});

describe('GET {mount}/blobs/redirect/:signedId/:filename', () => {
  const redirectUrl = (signedId: string, query = ''): string => `${runtimeOf(f.attache).routes.redirect(signedId, 'ada.png')}${query}`;
  /** The id inside a blob's redirect URL (purpose blob_url: it serves, but cannot be attached). */
  const urlId = (b: Blob): string => b.redirectUrl().split('/')[4]!;

  it('is 302 to a fresh Disk URL, not cached, and that URL serves the file', async () => {
    const answer = await get(blob.redirectUrl());
    expect(answer.status).toBe(302);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    const location = answer.headers.get('location')!;
    expect(location).toMatch(/^\/attache\/disk\/[\w-]+\.[\w-]+\/ada\.png$/);
    const { e, d } = decodeToken(tokenOf(location));
    expect(e! - Date.now() / 1000).toBeGreaterThan(290);
    expect(d).toMatchObject({ key: blob.key, service: 'local', disposition: 'inline', contentType: 'image/png' });
    const file = await get(location);
    expect(file.status).toBe(200);
    expect(file.body.equals(png)).toBe(true);
  });

  it('?disposition=attachment asks for a download; other values are ignored', async () => {
    const attachment = (await get(redirectUrl(urlId(blob), '?disposition=attachment'))).headers.get('location')!;
    expect(decodeToken(tokenOf(attachment)).d).toMatchObject({ disposition: 'attachment' });
    const html = await attached(HTML, 'page.html');
    const inline = (await get(redirectUrl(urlId(html), '?disposition=inline'))).headers.get('location')!;
    expect(decodeToken(tokenOf(inline)).d).toMatchObject({ disposition: 'attachment', contentType: 'application/octet-stream' });
  });

  it('a tampered, expired or wrong-purpose id, or a blob that is gone, is 404', async () => {
    const signedId = urlId(blob);
    const expired = new MessageVerifier(TEST_SECRET, () => Date.now() - 10_000).sign(blob.id, 'blob_url', 5);
    const diskToken = tokenOf(await blob.url());
    const gone = await attached(Buffer.from('bye'), 'bye.txt');
    const goneId = urlId(gone);
    await f.db.dataSource.query('DELETE FROM active_storage_attachments WHERE blob_id = $1', [gone.id]);
    await f.db.dataSource.getRepository(Blob).delete({ id: gone.id });
    // blob.signedId() is an attachable id, not a link id: links only take the ids they were made with.
    for (const id of [flipChar(signedId, 2), signedId.slice(0, -2), expired, diskToken, goneId, 'nonsense', blob.signedId()]) {
      const answer = await get(redirectUrl(id));
      expect(answer.status).toBe(404);
      expect(answer.headers.get('location')).toBeNull();
    }
  });
});

describe('GET|HEAD {mount}/blobs/proxy/:signedId/:filename', () => {
  it('streams the bytes with servedHeaders, ETag and an immutable private Cache-Control', async () => {
    const answer = await get(blob.proxyUrl());
    expect(answer.status).toBe(200);
    expect(answer.body.equals(png)).toBe(true);
    expect(answer.headers.get('etag')).toBe(`"${blob.checksum}"`);
    expect(answer.headers.get('cache-control')).toBe('private, max-age=3155695200, immutable');
    expect(answer.headers.get('content-type')).toBe('image/png');
    expect(answer.headers.get('content-disposition')).toBe(`inline; filename="ada.png"; filename*=UTF-8''ada.png`);
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    expect(answer.headers.get('accept-ranges')).toBe('bytes');
    expect(answer.headers.get('set-cookie')).toBeNull();
  });

  it('If-None-Match with the ETag is 304 without reading the file', async () => {
    const watch = watchReads(f.attache.service('local'), { forbidAll: true });
    try {
      for (const tag of [`"${blob.checksum}"`, `W/"${blob.checksum}"`, `"other", "${blob.checksum}"`, '*']) {
        const answer = await get(blob.proxyUrl(), { headers: { 'if-none-match': tag } });
        expect(answer.status).toBe(304);
        expect(answer.body.length).toBe(0);
        expect(answer.headers.get('etag')).toBe(`"${blob.checksum}"`);
      }
      expect(watch.calls).toEqual([]);
    } finally {
      watch.restore();
    }
    expect((await get(blob.proxyUrl(), { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
  });

  it('HEAD gives the Content-Length and no body, without reading the file', async () => {
    const watch = watchReads(f.attache.service('local'), { forbidAll: true });
    try {
      const answer = await get(blob.proxyUrl(), { method: 'HEAD' });
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-length')).toBe(String(png.length));
      expect(answer.body.length).toBe(0);
      expect(watch.calls).toEqual([]);
    } finally {
      watch.restore();
    }
  });

  it('serves a blob on another service (the proxy is service-agnostic)', async () => {
    const users = f.db.dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'Archivist' }));
    await user.documents.attach({ io: Buffer.from('from the archive'), filename: 'a.txt' });
    const [doc] = await user.documents.blobs();
    const answer = await get(doc!.proxyUrl());
    expect(answer.body.toString()).toBe('from the archive');
    expect(answer.headers.get('content-disposition')).toMatch(/^attachment; /);
  });

  it('checklist 17: HTML or SVG declared image/png is application/octet-stream, attachment, with nosniff, even with ?disposition=inline', async () => {
    for (const bytes of [HTML, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')]) {
      const risky = await attached(bytes, 'cat.png', 'image/png');
      expect(risky.contentType).toMatch(/^(text\/html|image\/svg\+xml)$/); // the row keeps the true type
      for (const url of [risky.proxyUrl(), `${risky.proxyUrl()}?disposition=inline`]) {
        const answer = await get(url);
        expect(answer.headers.get('content-type')).toBe('application/octet-stream');
        expect(answer.headers.get('content-disposition')).toMatch(/^attachment; /);
        expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      }
    }
    expect((await get(`${blob.proxyUrl()}?disposition=attachment`)).headers.get('content-disposition')).toMatch(/^attachment; /);
  });

  it.each([
    ['text/html;image/png', 'application/octet-stream', 'attachment'],
    ['image/png, text/html', 'application/octet-stream', 'attachment'],
    [' IMAGE/PNG ', 'image/png', 'inline'],
    ['image/png\r\nX-Evil: 1', 'application/octet-stream', 'attachment'],
  ])('checklist 18: a stored content type %j is served as %s, %s, with no injected header', async (stored, served, disposition) => {
    const odd = await attached(png, 'odd.png');
    await f.db.dataSource.getRepository(Blob).update({ id: odd.id }, { contentType: stored });
    const answer = await get(odd.proxyUrl());
    expect(answer.headers.get('content-type')).toBe(served);
    expect(answer.headers.get('content-disposition')).toMatch(new RegExp(`^${disposition}; `));
    expect(answer.headers.get('x-evil')).toBeNull();
  });

  it('checklist 19: hostile filenames give a well-formed Content-Disposition and no cookie', async () => {
    for (const name of HOSTILE_FILENAMES) {
      const hostile = await attached(png, name);
      const url = hostile.proxyUrl();
      expect(url.split('/')).toHaveLength(6);
      const answer = await get(url);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-disposition')).toMatch(WELL_FORMED_DISPOSITION);
      expect(answer.headers.get('set-cookie')).toBeNull();
    }
  });

  it('a signed id with expiresIn works until it expires; a tampered one is 404', async () => {
    expect((await get(blob.proxyUrl({ expiresIn: 60 }))).status).toBe(200);
    const expired = new MessageVerifier(TEST_SECRET, () => Date.now() - 61_000).sign(blob.id, 'blob_url', 60);
    expect((await get(runtimeOf(f.attache).routes.proxy(expired, 'ada.png'))).status).toBe(404);
    const signedId = blob.proxyUrl().split('/')[4]!;
    expect((await get(runtimeOf(f.attache).routes.proxy(flipChar(signedId, signedId.length - 1), 'ada.png'))).status).toBe(404);
  });
});

describe('the authorize hook', () => {
  it('decides redirect and proxy (403 when false, also async), with the framework request and the blob', async () => {
    try {
      for (const decision of [false, Promise.resolve(false)]) {
        allow = decision;
        for (const url of [blob.proxyUrl(), blob.redirectUrl()]) {
          const answer = await get(url);
          expect(answer.status).toBe(403);
          expect(answer.body.toString()).toBe('Forbidden\n');
        }
      }
      allow = true;
      seen.length = 0;
      await both.viaNode(blob.proxyUrl());
      await both.viaFetch(blob.proxyUrl());
      expect(seen).toHaveLength(2);
      expect(seen[0]!.request).toBeInstanceOf(IncomingMessage);
      expect(seen[1]!.request).toBeInstanceOf(Request);
      expect(seen.map((s) => s.blob.id)).toEqual([blob.id, blob.id]);
    } finally {
      allow = true;
    }
  });

  it('is not asked for a bad signed id (that is 404 first), nor for Disk URLs', async () => {
    seen.length = 0;
    allow = false;
    try {
      expect((await get(runtimeOf(f.attache).routes.proxy('bad.token', 'x'))).status).toBe(404);
      expect((await get(await blob.url())).status).toBe(200);
      expect(seen).toEqual([]);
    } finally {
      allow = true;
    }
  });

  it('a throwing authorize is a bare 500, reported to onError', async () => {
    const onError = vi.fn();
    const failing = await serveBoth(f.attache, { onError, authorize: () => { throw new Error('db down: secret detail'); } });
    try {
      for (const adapter of ['viaNode', 'viaFetch'] as const) {
        const answer = await failing[adapter](blob.proxyUrl());
        expect(answer.status).toBe(500);
        expect(answer.body.toString()).toBe('Internal Server Error\n');
      }
      expect(onError).toHaveBeenCalledTimes(2);
      expect((onError.mock.calls[0]![0] as Error).message).toBe('db down: secret detail');
    } finally {
      await failing.node.close();
    }
  });
});

describe('proxy integrity', () => {
  it('aborts a whole-file answer whose stored bytes were altered, instead of serving them as complete', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const tampered = await attached(Buffer.concat([png, big]), 'big.png');
    const file = path.join(f.local, tampered.key.slice(0, 2), tampered.key.slice(2, 4), tampered.key);
    const bytes = await readFile(file);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await writeFile(file, bytes);
    const read = async () => Buffer.from(await (await fetch(`${both.node.base}${tampered.proxyUrl()}`)).arrayBuffer());
    await expect(read()).rejects.toThrow();
    const intact = await attached(Buffer.concat([png, big]), 'ok.png');
    expect((await (await fetch(`${both.node.base}${intact.proxyUrl()}`)).arrayBuffer()).byteLength).toBe(png.length + big.length);
  });
});
