import { readFile } from 'node:fs/promises';
import path from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ArgumentError, Blob } from '../../src/index.ts';
import { md5Base64 } from '../../src/core/checksum.ts';
import { openAttache, type AttacheFixture } from '../support/attache.ts';
import { User } from '../support/entities.ts';
import { decodeToken, flipChar, important, read, serve, serveBoth, tokenOf, type Both, type Served } from './harness.ts';
import { runtimeOf } from '../../src/attache.ts';

const fixtures = path.resolve(import.meta.dirname, '../../examples/fixtures');
let f: AttacheFixture;
let both: Both;
let png: Buffer;
let blob: Blob;
let diskUrl: string;
let uploadUrl: string;
const uploadBytes = Buffer.from('direct upload bytes');
const uploadHeaders = { 'content-type': 'text/plain', 'content-md5': md5Base64(uploadBytes), 'content-length': String(uploadBytes.length) };

beforeAll(async () => {
  f = await openAttache();
  both = await serveBoth(f.attache);
  png = await readFile(path.join(fixtures, 'ada.png'));
  const users = f.db.dataSource.getRepository(User);
  const user = await users.save(users.create({ name: 'Parity' }));
  await user.avatar.attach({ io: png, filename: 'ada.png' });
  blob = (await user.avatar.blob())!;
  diskUrl = await blob.url();
  // A direct upload's blob row waits for these bytes (a PUT without one is 404).
  await waitingBlob('parityuploadkey0000000000aaa', uploadBytes);
  uploadUrl = await f.attache.service('local').urlForDirectUpload('parityuploadkey0000000000aaa', {
    expiresIn: 300,
    contentType: 'text/plain',
    contentLength: uploadBytes.length,
    checksum: md5Base64(uploadBytes),
  });
});
/** The blob row a direct upload makes before its bytes arrive. */
async function waitingBlob(key: string, bytes: Buffer): Promise<void> {
  const blobs = f.db.dataSource.getRepository(Blob);
  await blobs.save(blobs.create({ key, filename: 'up.txt', contentType: 'text/plain', byteSize: bytes.length, checksum: md5Base64(bytes), serviceName: 'local', metadata: {} }));
}

afterAll(async () => {
  await both.node.close();
  await f.close();
});

describe('the Node handler and the Fetch handler give the same answers', () => {
  type Case = [string, number, () => string, RequestInit?];
  const cases: Case[] = [
    ['Disk GET', 200, () => diskUrl],
    ['Disk HEAD', 200, () => diskUrl, { method: 'HEAD' }],
    ['Disk range', 206, () => diskUrl, { headers: { range: 'bytes=10-99' } }],
    ['Disk 416', 416, () => diskUrl, { headers: { range: 'bytes=0-1,4-5' } }],
    ['Disk tampered', 404, () => diskUrl.replace(tokenOf(diskUrl), flipChar(tokenOf(diskUrl), 4))],
    ['Disk query ignored', 200, () => `${diskUrl}?disposition=attachment&content_type=text/html`],
    ['Disk 405', 405, () => diskUrl, { method: 'DELETE' }],
    ['PUT with a download token', 404, () => `/attache/disk/${tokenOf(diskUrl)}`, { method: 'PUT', body: 'x', headers: { 'content-type': 'text/plain', 'content-length': '1' } }],
    ['PUT 204', 204, () => uploadUrl, { method: 'PUT', body: uploadBytes, headers: uploadHeaders }],
    ['PUT 422 (type differs)', 422, () => uploadUrl, { method: 'PUT', body: uploadBytes, headers: { ...uploadHeaders, 'content-type': 'text/html' } }],
    ['upload path GET 405', 405, () => `/attache/disk/${tokenOf(diskUrl)}`],
    ['proxy GET', 200, () => blob.proxyUrl()],
    ['proxy HEAD', 200, () => blob.proxyUrl(), { method: 'HEAD' }],
    ['proxy 304', 304, () => blob.proxyUrl(), { headers: { 'if-none-match': '*' } }],
    ['proxy range', 206, () => blob.proxyUrl(), { headers: { range: 'bytes=-16' } }],
    ['proxy 405', 405, () => blob.proxyUrl(), { method: 'POST', body: 'x' }],
    ['redirect', 302, () => blob.redirectUrl()],
    ['redirect attachment', 302, () => `${blob.redirectUrl()}?disposition=attachment`],
    ['unknown route under the mount', 404, () => '/attache/nope'],
    ['the mount itself', 404, () => '/attache'],
    ['direct_uploads without JSON', 422, () => '/attache/direct_uploads', { method: 'POST', body: '{}' }],
    ['direct_uploads refused by limits', 422, () => '/attache/direct_uploads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ attachment: 'User#photo', filename: 'a.png', byteSize: 1e6, checksum: 'XUFAKrxLKna5cZ2REBfFkg==', contentType: 'image/png' }) }],
    ['direct_uploads GET 405', 405, () => '/attache/direct_uploads'],
    ['outside the mount', 404, () => '/elsewhere/attache/disk/x/y'],
  ];

  it.each(cases)('%s (%d)', async (_name, status, url, init) => {
    const node = await both.viaNode(url(), init);
    expect(node.status).toBe(status);
    const fetched = await both.viaFetch(url(), init);
    expect(fetched.status).toBe(node.status);
    // A redirect's Location carries a fresh token whose expiry may differ by a second: compare what it signs.
    const signed = (location: string | null): unknown => (location === null ? null : { ...decodeToken(tokenOf(location)), e: undefined });
    expect(signed(fetched.headers.get('location'))).toEqual(signed(node.headers.get('location')));
    expect({ ...important(fetched.headers), location: null }).toEqual({ ...important(node.headers), location: null });
    expect(fetched.body.equals(node.body)).toBe(true);
    expect(node.headers.get('set-cookie')).toBeNull();
  });
});

describe('routing', () => {
  it('answers 404, never 500, for malformed paths and tokens under the mount', async () => {
    const signedKey = (key: unknown): string => `/attache/disk/${runtimeOf(f.attache).verifier.sign({ key, service: 'local', disposition: 'inline', contentType: 'image/png', filename: 'x' }, 'disk_download', 60)}/x`;
    const paths = [
      '/attache/disk/%ZZ/x',
      '/attache/disk/a.b.c/x',
      `/attache/disk/${'a'.repeat(9000)}.${'b'.repeat(43)}/x`,
      '/attache/disk//x',
      '/attache/blobs/proxy/x/y',
      '/attache/blobs/redirect/x.y/z',
      '/attache/blobs/proxy/x',
      '/attache/blobs/other/x/y',
      '/attache/disk/a/b/c',
      signedKey(42),
      signedKey('../../etc/passwd'),
      signedKey(''),
      `/attache/disk/${runtimeOf(f.attache).verifier.sign('just a string', 'disk_download', 60)}/x`,
    ];
    for (const p of paths) {
      for (const adapter of ['viaNode', 'viaFetch'] as const) {
        const answer = await both[adapter](p);
        expect([p.slice(0, 60), adapter, answer.status]).toEqual([p.slice(0, 60), adapter, 404]);
        expect(answer.body.toString()).toBe('Not Found\n');
      }
    }
  });

  it('a plain node:http server without next answers 404 outside the mount', async () => {
    const answer = await both.viaNode('/somewhere/else');
    expect(answer.status).toBe(404);
  });

  it('refuses a bad maxRangeBytes when the handler is made', () => {
    for (const maxRangeBytes of [0, -1, 1.5, NaN]) {
      expect(() => f.attache.handler({ maxRangeBytes })).toThrow(ArgumentError);
    }
  });

  it('an internal error is a bare 500 reported to onError: no message, key or stack', async () => {
    const onError = vi.fn();
    const failing = await serveBoth(f.attache, { onError });
    const service = f.attache.service('local');
    const download = vi.spyOn(service, 'download').mockRejectedValue(new Error(`disk exploded at /srv/${blob.key}`));
    try {
      for (const adapter of ['viaNode', 'viaFetch'] as const) {
        const answer = await failing[adapter](diskUrl);
        expect(answer.status).toBe(500);
        expect(answer.body.toString()).toBe('Internal Server Error\n');
        expect(answer.body.toString()).not.toContain(blob.key);
      }
      expect(onError).toHaveBeenCalledTimes(2);
    } finally {
      download.mockRestore();
      await failing.node.close();
    }
  });

  it('a body stream that fails midway aborts the response instead of ending it cleanly', async () => {
    const onError = vi.fn();
    const failing = await serveBoth(f.attache, { onError });
    const { Readable } = await import('node:stream');
    const download = vi.spyOn(f.attache.service('local'), 'download').mockResolvedValue(
      Readable.from((async function* () {
        yield png.subarray(0, 100);
        throw new Error('read failed');
      })()),
    );
    try {
      await expect(fetch(`${failing.node.base}${diskUrl}`).then((r) => r.arrayBuffer())).rejects.toThrow();
    } finally {
      download.mockRestore();
      await failing.node.close();
    }
  });
});

describe('Express: app.use(attache.handler())', () => {
  let app: Served;

  beforeAll(async () => {
    const server = express();
    // Earlier middleware that sets a cookie: attache's responses must not carry it.
    server.use((_req, res, next) => {
      res.setHeader('set-cookie', 'session=abc');
      next();
    });
    server.use(f.attache.handler());
    server.get('/hello', (_req, res) => void res.send('app route'));
    server.use((_req, res) => void res.status(418).send('app 404'));
    app = await serve(server);
  });
  afterAll(() => app.close());

  it('calls next() for paths outside the mount', async () => {
    const hello = await read(await fetch(`${app.base}/hello`));
    expect([hello.status, hello.body.toString()]).toEqual([200, 'app route']);
    const other = await read(await fetch(`${app.base}/attachements/x`));
    expect(other.status).toBe(418);
  });

  it('answers its own routes, and 404 (not next) for unknown ones under the mount', async () => {
    const file = await read(await fetch(`${app.base}${diskUrl}`));
    expect(file.status).toBe(200);
    expect(file.body.equals(png)).toBe(true);
    expect(file.headers.get('set-cookie')).toBeNull();
    const unknown = await read(await fetch(`${app.base}/attache/unknown/route`));
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('set-cookie')).toBeNull();
  });

  it('accepts a direct upload through Express', async () => {
    const service = f.attache.service('local');
    const bytes = Buffer.from('uploaded through express');
    const key = 'expressuploadkey0000000000aa';
    const checksum = md5Base64(bytes);
    await waitingBlob(key, bytes);
    const url = await service.urlForDirectUpload(key, { expiresIn: 60, contentType: 'text/plain', contentLength: bytes.length, checksum });
    const answer = await fetch(`${app.base}${url}`, { method: 'PUT', body: bytes, headers: service.headersForDirectUpload(key, { contentType: 'text/plain', checksum }) });
    expect(answer.status).toBe(204);
    expect(await service.exists(key)).toBe(true);
    await service.delete(key);
  });
});
