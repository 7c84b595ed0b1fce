import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../../src/core/checksum.ts';
import { Attache, AttachmentError, Blob, ConfigurationError } from '../../../src/index.ts';
import { RailsVerifier } from '../../../src/signing/rails/RailsVerifier.ts';
import { railsPathGlob, railsPathParam, railsPathSegment } from '../../../src/signing/rails/url.ts';
import { openAttache, TEST_SECRET, type AttacheFixture } from '../../support/attache.ts';
import { User } from '../../support/entities.ts';
import { filesUnder } from '../../support/storage.ts';
import { serveBoth, WELL_FORMED_DISPOSITION, type Both } from '../harness.ts';
import { openRailsAttache, PREFIX, RAILS_SECRET, railsBlob, type RailsFixture } from './fixture.ts';
import { runtimeOf } from '../../../src/attache.ts';

const PNG = await readFile(new URL('../../../examples/fixtures/ada.png', import.meta.url));
const HTML = Buffer.from('<html><script>alert(1)</script></html>');

let f: RailsFixture;
let both: Both;
let users: ReturnType<RailsFixture['db']['dataSource']['getRepository']>;
let pngId: string;
let htmlId: string;
let archivedId: string;

beforeAll(async () => {
  f = await openRailsAttache();
  both = await serveBoth(f.attache);
  users = f.db.dataSource.getRepository(User);
  pngId = await railsBlob(f, PNG, { key: 'railspngkey000000000000000001', filename: 'ada.png', contentType: 'image/png' });
  htmlId = await railsBlob(f, HTML, { key: 'railshtmlkey00000000000000001', filename: 'page.html', contentType: 'text/html' });
  archivedId = await railsBlob(f, PNG, { key: 'railsarchivekey00000000000001', filename: 'old.png', contentType: 'image/png', service: 'archive' });
});
afterAll(async () => {
  await both?.node.close();
  await f?.close();
});

const newUser = (name = 'Ada') => users.save(users.create({ name })) as Promise<User>;
const diskPath = (encodedKey: string, filename = 'x.png') => `${PREFIX}/disk/${railsPathSegment(encodedKey)}/${railsPathGlob(filename)}`;
const diskClaims = (overrides: Partial<{ key: string; disposition: string; contentType: string | null; serviceName: string }> = {}) => ({
  key: 'railspngkey000000000000000001', disposition: 'inline; filename="ada.png"; filename*=UTF-8\'\'ada.png', contentType: 'image/png', serviceName: 'local', ...overrides,
});

describe('signed ids made by the Rails app', () => {
  it('findSigned finds the blob of a Rails blob_id, and attach attaches it after checking the stored file', async () => {
    const signedId = f.rails.signBlobId(pngId);
    expect((await f.attache.findSigned(signedId))?.id).toBe(pngId);
    const user = await newUser();
    await user.avatar.attach(signedId);
    expect((await user.avatar.reset().blob())?.id).toBe(pngId);
    expect(await user.avatar.download()).toEqual(PNG);
  });

  it('a Rails id of a blob on another service is refused (the service check holds), and copied with { copy: true }', async () => {
    const user = await newUser();
    await expect(user.avatar.attach(f.rails.signBlobId(archivedId))).rejects.toBeInstanceOf(AttachmentError);
    expect(await user.avatar.reset().attached()).toBe(false);
    await user.avatar.attach(f.rails.signBlobId(archivedId), { copy: true });
    expect((await user.avatar.reset().blob())).toMatchObject({ serviceName: 'local', checksum: md5Base64(PNG) });
  });

  it.each([
    ['another secret', () => new RailsVerifier({ secretKeyBase: `${RAILS_SECRET}-x`, messageFormat: '6.1' }).signBlobId(pngId)],
    ['an expired id', () => new RailsVerifier({ secretKeyBase: RAILS_SECRET, messageFormat: '6.1', now: () => Date.now() - 120_000 }).signBlobId(pngId, { expiresIn: 60 })],
    ['a Disk key', () => f.rails.signDiskKey(diskClaims(), 60)],
    ['another format (7.1)', () => new RailsVerifier({ secretKeyBase: RAILS_SECRET, messageFormat: '7.1' }).signBlobId(pngId)],
    ['a blob that does not exist', () => f.rails.signBlobId('999999')],
  ])('findSigned refuses %s (null), and attach throws', async (_label, make) => {
    expect(await f.attache.findSigned(make())).toBeNull();
    await expect((await newUser()).avatar.attach(make())).rejects.toThrow();
  });

  it("Rails ids are refused where attache's Disk tokens go, and vice versa", async () => {
    expect((await both.get(`${PREFIX}/disk/${railsPathSegment(f.rails.signBlobId(pngId))}/x.png`)).status).toBe(404);
    expect((await both.get(diskPath(f.rails.signDiskUpload({ key: 'k', contentType: null, contentLength: 1, checksum: md5Base64('x'), serviceName: 'local' }, 60)))).status).toBe(404);
  });
});

describe('ids attache makes', () => {
  it("blob.signedId() stays attache's own; { format: 'rails' } is Rails' blob_id, and both find the blob", async () => {
    const blob = (await f.attache.findSigned(f.rails.signBlobId(pngId)))!;
    const own = blob.signedId();
    expect(own).toContain('.');
    expect(() => f.rails.verifyBlobId(own)).toThrow();
    const rails = blob.signedId({ format: 'rails' });
    expect(rails).toBe(f.rails.signBlobId(pngId));
    expect(f.rails.verifyBlobId(blob.signedId({ format: 'rails', expiresIn: 60 }))).toBe(pngId);
    expect((await f.attache.findSigned(own))?.id).toBe(pngId);
    expect((await f.attache.findSigned(rails))?.id).toBe(pngId);
  });

  it("{ format: 'rails' } without Rails mode is a ConfigurationError, and Rails ids are not read", async () => {
    const plain: AttacheFixture = await openAttache();
    try {
      const blob = await plain.attache.createAndUpload({ io: PNG, filename: 'a.png' });
      expect(() => blob.signedId({ format: 'rails' })).toThrow(ConfigurationError);
      expect(await plain.attache.findSigned(new RailsVerifier({ secretKeyBase: RAILS_SECRET, messageFormat: '6.1' }).signBlobId(blob.id))).toBeNull();
    } finally {
      await plain.close();
    }
  });

  it("in Rails mode, Disk URLs, redirect and proxy links are Rails' paths with Rails' tokens, under Rails' prefix", async () => {
    const blob = (await f.attache.findSigned(f.rails.signBlobId(pngId)))!;
    const url = await blob.url({ filename: 'a b&c.png' });
    const [, rails, active, disk, key, filename] = url.split('/');
    expect([rails, active, disk, filename]).toEqual(['rails', 'active_storage', 'disk', 'a%20b&c.png']);
    expect(f.rails.verifyDiskKey(railsPathParam(key!))).toEqual({ key: blob.key, disposition: 'inline; filename="a b&c.png"; filename*=UTF-8\'\'a%20b%26c.png', contentType: 'image/png', serviceName: 'local' });
    const redirect = blob.redirectUrl();
    expect(redirect).toBe(`${PREFIX}/blobs/redirect/${railsPathSegment(f.rails.signBlobId(pngId))}/ada.png`);
    expect(blob.proxyUrl()).toBe(`${PREFIX}/blobs/proxy/${railsPathSegment(f.rails.signBlobId(pngId))}/ada.png`);
    expect((await both.get(url)).body).toEqual(PNG);
  });

  it("with urls: 'attache', links keep attache's tokens (link ids cannot be attached) while Rails' ids are still read", async () => {
    const g = await openRailsAttache({ rails: { urls: 'attache' } });
    try {
      const served = await serveBoth(g.attache);
      const blob = await g.attache.createAndUpload({ io: PNG, filename: 'a.png' });
      const link = blob.redirectUrl();
      expect(link).toMatch(/^\/rails\/active_storage\/blobs\/redirect\/[\w-]+\.[\w-]+\/a\.png$/);
      const linkId = link.split('/')[4]!;
      expect(await g.attache.findSigned(linkId)).toBeNull(); // a link id is not attachable
      expect((await served.get(link)).status).toBe(302);
      expect(await blob.url()).toMatch(/^\/rails\/active_storage\/disk\/[\w-]+\.[\w-]+\/a\.png$/);
      expect((await g.attache.findSigned(g.rails.signBlobId(blob.id)))?.id).toBe(blob.id);
      await served.node.close();
    } finally {
      await g.close();
    }
  });
});

describe("Rails' blob routes", () => {
  it.each(['redirect', 'alias'])('%s: a Rails id redirects (302, no-store) to a Disk URL that serves the bytes', async (kind) => {
    const id = railsPathSegment(f.rails.signBlobId(pngId));
    const path = kind === 'alias' ? `${PREFIX}/blobs/${id}/ada.png` : `${PREFIX}/blobs/redirect/${id}/ada.png`;
    const answer = await both.get(path);
    expect(answer.status).toBe(302);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    const served = await both.get(answer.headers.get('location')!);
    expect(served.status).toBe(200);
    expect(served.body).toEqual(PNG);
  });

  it('proxy: a Rails id streams the bytes with ETag, nosniff and the sandbox CSP; a slash in the filename glob is fine', async () => {
    const answer = await both.get(`${PREFIX}/blobs/proxy/${railsPathSegment(f.rails.signBlobId(pngId))}/dir/ada.png`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(PNG);
    expect(answer.headers.get('etag')).toBe(`"${md5Base64(PNG)}"`);
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    expect(answer.headers.get('content-security-policy')).toContain('sandbox');
  });

  it('an HTML blob behind a Rails id is served as an attachment, never inline', async () => {
    const answer = await both.get(`${PREFIX}/blobs/proxy/${railsPathSegment(f.rails.signBlobId(htmlId))}/page.html`);
    expect(answer.headers.get('content-disposition')).toMatch(/^attachment; /);
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('authorize sees Rails-id requests too (403)', async () => {
    const guarded = await serveBoth(f.attache, { authorize: () => false });
    expect((await guarded.get(`${PREFIX}/blobs/proxy/${railsPathSegment(f.rails.signBlobId(pngId))}/ada.png`)).status).toBe(403);
    await guarded.node.close();
  });
});

describe("Rails' Disk route: GET disk/:encoded_key/*filename", () => {
  it('serves the file with the signed type and filename, through Range', async () => {
    const path = diskPath(f.rails.signDiskKey(diskClaims(), 60));
    const answer = await both.get(path);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(PNG);
    expect(answer.headers.get('content-type')).toBe('image/png');
    expect(answer.headers.get('content-disposition')).toBe('inline; filename="ada.png"; filename*=UTF-8\'\'ada.png');
    const range = await both.get(path, { headers: { range: 'bytes=0-3' } });
    expect(range.status).toBe(206);
    expect(range.body).toEqual(PNG.subarray(0, 4));
  });

  it.each([
    ['text/html signed inline', { key: 'railshtmlkey00000000000000001', contentType: 'text/html', disposition: 'inline; filename="page.html"' }],
    ['image/svg+xml signed inline', { key: 'railshtmlkey00000000000000001', contentType: 'image/svg+xml', disposition: 'inline' }],
    ['a hostile disposition', { disposition: 'inline; filename="a\r\nSet-Cookie: x=1.png"' }],
  ])('keeps attache\'s serving rules on %s', async (_label, overrides) => {
    const answer = await both.get(diskPath(f.rails.signDiskKey(diskClaims(overrides), 60)));
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    expect(answer.headers.get('content-security-policy')).toContain('sandbox');
    expect(answer.headers.get('content-disposition')).toMatch(WELL_FORMED_DISPOSITION);
    expect(answer.headers.get('set-cookie')).toBeNull();
    if ('contentType' in overrides) expect(answer.headers.get('content-disposition')).toMatch(/^attachment; /);
  });

  it.each([
    ['an unknown service (Rails would use the default)', { serviceName: 'gone' }],
    ['a missing file', { key: 'nosuchkey0000000000000000000' }],
    ['a traversal key', { key: '../../../etc/passwd' }],
  ])('answers 404 to %s', async (_label, overrides) => {
    expect((await both.get(diskPath(f.rails.signDiskKey(diskClaims(overrides), 60)))).status).toBe(404);
  });

  it('answers 404 to an expired or tampered key and 405 to a POST', async () => {
    const past = new RailsVerifier({ secretKeyBase: RAILS_SECRET, messageFormat: '6.1', now: () => Date.now() - 120_000 });
    expect((await both.get(diskPath(past.signDiskKey(diskClaims(), 60)))).status).toBe(404);
    const key = f.rails.signDiskKey(diskClaims(), 60);
    expect((await both.get(diskPath(`${key.slice(0, 10)}A${key.slice(11)}`))).status).toBe(404);
    expect((await both.viaNode(diskPath(key), { method: 'POST' })).status).toBe(405);
  });
});

describe("Rails' Disk upload route: PUT disk/:encoded_token", () => {
  const body = Buffer.from('bytes of a rails direct upload');
  let key = 0;
  async function pending(bytes = body): Promise<string> {
    const blobKey = `railsupload${String(++key).padStart(17, '0')}`;
    await f.db.dataSource.query(
      `INSERT INTO active_storage_blobs (key, filename, content_type, metadata, service_name, byte_size, checksum, created_at) VALUES ($1, 'u.txt', 'text/plain', '{}', 'local', $2, $3, now())`,
      [blobKey, bytes.length, md5Base64(bytes)],
    );
    return blobKey;
  }
  const token = (claims: { key: string; contentType?: string | null; contentLength?: number; checksum?: string | null; serviceName?: string }) =>
    f.rails.signDiskUpload({ contentType: 'text/plain', contentLength: body.length, checksum: md5Base64(body), serviceName: 'local', ...claims }, 60);
  const put = (encodedToken: string, bytes: Buffer = body, headers: Record<string, string> = { 'content-type': 'text/plain' }) =>
    both.viaNode(`${PREFIX}/disk/${railsPathSegment(encodedToken)}`, { method: 'PUT', body: new Uint8Array(bytes), headers });
  const stored = async (blobKey: string) => (await filesUnder(f.local)).includes(join(blobKey.slice(0, 2), blobKey.slice(2, 4), blobKey));

  it('stores the signed bytes (204) with only Content-Type sent, as Rails\' client does on Disk', async () => {
    const blobKey = await pending();
    expect((await put(token({ key: blobKey }))).status).toBe(204);
    expect(await readFile(join(f.local, blobKey.slice(0, 2), blobKey.slice(2, 4), blobKey))).toEqual(body);
  });

  it.each([
    ['a token without a checksum', (k: string) => token({ key: k, checksum: null }), body, { 'content-type': 'text/plain' }, 422],
    ['another Content-Type', (k: string) => token({ key: k }), body, { 'content-type': 'text/html' }, 422],
    ['another Content-MD5', (k: string) => token({ key: k }), body, { 'content-type': 'text/plain', 'content-md5': md5Base64('x') }, 422],
    ['other bytes of the same length', (k: string) => token({ key: k }), Buffer.alloc(body.length, 0x61), { 'content-type': 'text/plain' }, 422],
    ['an unknown service', (k: string) => token({ key: k, serviceName: 'gone' }), body, { 'content-type': 'text/plain' }, 404],
    ['no blob row waiting for the object', () => token({ key: 'nobodywaitsforthis0000000000' }), body, { 'content-type': 'text/plain' }, 404],
    ['a download key', (k: string) => f.rails.signDiskKey(diskClaims({ key: k }), 60), body, { 'content-type': 'text/plain' }, 404],
  ])('refuses %s and stores nothing', async (_label, make, bytes, headers, status) => {
    const blobKey = await pending();
    const encoded = make(blobKey);
    expect((await put(encoded, bytes, headers)).status).toBe(status);
    expect(await stored(blobKey)).toBe(false);
    expect(await stored('nobodywaitsforthis0000000000')).toBe(false);
  });

  it('a PUT replayed after the blob was purged is refused', async () => {
    const blobKey = await pending();
    const encoded = token({ key: blobKey });
    await f.db.dataSource.getRepository(Blob).delete({ key: blobKey });
    expect((await put(encoded)).status).toBe(404);
    expect(await stored(blobKey)).toBe(false);
  });
});

describe('Rails mode options', () => {
  it.each([
    ['an unknown option', { secretKeyBase: RAILS_SECRET, messageFormat: '6.1', secret_key_base: 'x' }, /Unknown rails option "secret_key_base"/],
    ['a short secret', { secretKeyBase: 'short', messageFormat: '6.1' }, /secretKeyBase/],
    ['an unknown format', { secretKeyBase: RAILS_SECRET, messageFormat: '5.0' }, /messageFormat/],
    ['a bad urls', { secretKeyBase: RAILS_SECRET, messageFormat: '7.1', urls: 'both' }, /rails.urls/],
  ])('refuses %s with a ConfigurationError that never shows the secret', async (_label, rails, message) => {
    const error = await Attache.init({ dataSource: f.db.dataSource, services: { local: { service: 'Disk', root: f.local } }, secret: TEST_SECRET, rails: rails as never }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(RAILS_SECRET);
  });

  it('does not print the secret in JSON or inspect', () => {
    expect(JSON.stringify(runtimeOf(f.attache).rails)).not.toContain(RAILS_SECRET);
    expect(JSON.stringify(f.attache)).not.toContain(RAILS_SECRET);
  });
});
