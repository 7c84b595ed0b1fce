import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { RailsVerifier, railsPathGlob, railsPathParam, railsPathSegment } from '../../../src/signing/rails/index.ts';
import { openTestDataSource, type TestDataSource } from '../../support/db.ts';
import { refusal } from './fuzz.ts';
import { Rails61, rubyStatus } from './ruby.ts';

const SECRET = `rails61-cross-test-${'0123456789abcdef'.repeat(7)}`;
const KEY = 'xyzdefghijklmnopqrstuvwxyz12';
const BODY = Buffer.from('hello from attache');
const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('base64');
const PREFIX = '/rails/active_storage';

interface RubyResponse { status: number; headers: Record<string, string>; body: string }

const status = rubyStatus();
if (!status.activeStorage) console.warn(`[attache] skipping the Rails 6.1 cross-tests: ${status.reason}`);

describe.skipIf(!status.activeStorage)(`with Rails' own ActiveStorage ${status.activeStorage} (ruby)`, () => {
  const attache = new RailsVerifier({ secretKeyBase: SECRET, messageFormat: '6.1' });
  const past = new RailsVerifier({ secretKeyBase: SECRET, messageFormat: '6.1', now: () => Date.now() - 3_600_000 });
  let rails: Rails61;
  let db: TestDataSource;
  let root: string;
  let blobId: string;

  beforeAll(async () => {
    db = await openTestDataSource();
    root = await mkdtemp(join(tmpdir(), 'attache-rails61-'));
    await mkdir(join(root, KEY.slice(0, 2), KEY.slice(2, 4)), { recursive: true });
    await writeFile(join(root, KEY.slice(0, 2), KEY.slice(2, 4), KEY), BODY);
    const [row] = (await db.dataSource.query(
      `INSERT INTO active_storage_blobs (key, filename, content_type, metadata, service_name, byte_size, checksum, created_at)
       VALUES ($1, 'ada.png', 'image/png', '{}', 'local', $2, $3, now()) RETURNING id`,
      [KEY, BODY.length, md5(BODY)],
    )) as Array<{ id: string }>;
    blobId = row!.id;
    rails = new Rails61({ secretKeyBase: SECRET, root, databaseUrl: inject('databaseUrl'), schema: db.schema });
  });

  afterAll(async () => {
    await rails?.close();
    await db?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  describe('signed ids', () => {
    it('Blob#signed_id is byte-identical to ours and verifies here', async () => {
      const fromRuby = await rails.call<string>('signed_id', { id: Number(blobId) });
      expect(attache.signBlobId(blobId)).toBe(fromRuby);
      expect(attache.verifyBlobId(fromRuby)).toBe(blobId);
    });

    it('an expiring Ruby id verifies here until it expires', async () => {
      const fromRuby = await rails.call<string>('signed_id', { id: Number(blobId), expiresIn: 60 });
      expect(attache.verifyBlobId(fromRuby)).toBe(blobId);
      const later = new RailsVerifier({ secretKeyBase: SECRET, messageFormat: '6.1', now: () => Date.now() + 61_000 });
      expect(refusal(() => later.verifyBlobId(fromRuby)).reason).toBe('expired');
    });

    it('Blob.find_signed finds the blob by our ids, permanent and expiring, and reads an Integer', async () => {
      expect(await rails.call('find_signed', { message: attache.signBlobId(blobId) })).toBe(Number(blobId));
      expect(await rails.call('find_signed', { message: attache.signBlobId(blobId, { expiresIn: 60 }) })).toBe(Number(blobId));
      expect(await rails.call('verified', { message: attache.signBlobId(blobId), purpose: 'blob_id' })).toEqual({ int: blobId });
    });

    it.each(tamperings())('Blob.find_signed refuses our id with %s', async (_name, change) => {
      expect(await rails.call('find_signed', { message: change(attache.signBlobId(blobId)) })).toBeNull();
    });

    it('Blob.find_signed refuses our expired ids and our Disk tokens', async () => {
      expect(await rails.call('find_signed', { message: past.signBlobId(blobId, { expiresIn: 60 }) })).toBeNull();
      expect(await rails.call('find_signed', { message: attache.signDiskKey(diskClaims(), 60) })).toBeNull();
    });

    it("Rails' redirect route takes our id and answers with a Disk URL whose key verifies here", async () => {
      const id = attache.signBlobId(blobId);
      const answer = await rails.call<RubyResponse>('get', { path: `${PREFIX}/blobs/redirect/${railsPathSegment(id)}/${railsPathGlob('ada.png')}` });
      expect(answer.status).toBe(302);
      const claims = attache.verifyDiskKey(railsPathParam(new URL(answer.headers.Location!).pathname.split('/')[4]!));
      expect(claims).toMatchObject({ key: KEY, contentType: 'image/png', serviceName: 'local' });
      expect(claims.disposition).toMatch(/^inline; filename="ada.png"/);
    });
  });

  describe('Disk download keys', () => {
    it("DiskService#url's key verifies here, and we sign the same bytes for the same expiry", async () => {
      const url = await rails.call<string>('disk_url', { key: KEY, filename: 'a b&c/é.png', contentType: 'image/png', disposition: 'attachment', expiresIn: 300 });
      const encoded = railsPathParam(new URL(url).pathname.split('/')[4]!);
      const claims = attache.verifyDiskKey(encoded);
      // Rails' own Content-Disposition: '&' stays raw in filename*, which the 7.1 JSON escapes as \u0026.
      expect(claims).toEqual({ key: KEY, disposition: 'attachment; filename="a b%26c-e.png"; filename*=UTF-8\'\'a%20b&c-%C3%A9.png', contentType: 'image/png', serviceName: 'local' });
      const exp = Date.parse(/"exp":"([^"]+)"/.exec(Buffer.from(encoded.split('--')[0]!, 'base64').toString())![1]!);
      const sameClock = new RailsVerifier({ secretKeyBase: SECRET, messageFormat: '6.1', now: () => exp - 300_000 });
      expect(sameClock.signDiskKey(claims, 300)).toBe(encoded);
    });

    it("Rails' DiskController serves the file for our key, with our type and disposition", async () => {
      const disposition = 'inline; filename="ada.png"; filename*=UTF-8\'\'ada.png';
      const answer = await rails.call<RubyResponse>('get', { path: diskPath(attache.signDiskKey(diskClaims({ disposition }), 60)) });
      expect(answer.status).toBe(200);
      expect(Buffer.from(answer.body, 'base64')).toEqual(BODY);
      expect(answer.headers['Content-Type']).toBe('image/png');
      expect(answer.headers['Content-Disposition']).toBe(disposition);
    });

    it('Ruby reads our key with Symbol keys and a Symbol service_name, as DiskService writes them', async () => {
      expect(await rails.call('verified', { message: attache.signDiskKey(diskClaims(), 60), purpose: 'blob_key' })).toEqual({
        hash: [
          [{ sym: 'key' }, { str: KEY, enc: 'UTF-8' }], [{ sym: 'disposition' }, { str: 'inline; filename="ada.png"', enc: 'UTF-8' }],
          [{ sym: 'content_type' }, { str: 'image/png', enc: 'UTF-8' }], [{ sym: 'service_name' }, { sym: 'local' }],
        ],
      });
    });

    it.each([
      ...tamperings().map(([name, change]) => [name, (v: RailsVerifier) => change(v.signDiskKey(diskClaims(), 60))] as const),
      ['an expired key', () => past.signDiskKey(diskClaims(), 60)] as const,
      ['a signed id for a key', (v: RailsVerifier) => v.signBlobId(blobId)] as const,
      ['an upload token for a key', (v: RailsVerifier) => v.signDiskUpload(uploadClaims(BODY), 60)] as const,
    ])("Rails' DiskController answers 404 to %s", async (_name, make) => {
      expect((await rails.call<RubyResponse>('get', { path: diskPath(make(attache)) })).status).toBe(404);
    });
  });

  describe('Disk upload tokens', () => {
    it("DiskService#url_for_direct_upload's token verifies here", async () => {
      const url = await rails.call<string>('upload_url', { key: 'up1', contentType: 'text/plain', contentLength: 5, checksum: md5(Buffer.from('hello')), expiresIn: 300 });
      const token = railsPathParam(new URL(url).pathname.split('/')[4]!);
      expect(attache.verifyDiskUpload(token)).toEqual({ key: 'up1', contentType: 'text/plain', contentLength: 5, checksum: md5(Buffer.from('hello')), serviceName: 'local' });
      expect(refusal(() => attache.verifyDiskKey(token)).reason).toBe('purpose');
    });

    it("Rails' DiskController accepts a PUT with our token and writes the file", async () => {
      const body = Buffer.from('uploaded through rails');
      const answer = await rails.call<RubyResponse>('put', { path: uploadPath(attache.signDiskUpload(uploadClaims(body, 'up2'), 60)), body: body.toString('base64'), contentType: 'text/plain' });
      expect(answer.status).toBe(204);
      expect(await readFile(join(root, 'up', '2', 'up2'))).toEqual(body); // Rails' Disk layout: root/up/2/up2
    });

    it.each([
      ['a wrong Content-Length', (b: Buffer) => ({ ...uploadClaims(b, 'up3'), contentLength: b.length + 1 }), 422],
      ['a wrong checksum', (b: Buffer) => ({ ...uploadClaims(b, 'up4'), checksum: md5(Buffer.from('other')) }), 422],
      ['a wrong Content-Type', (b: Buffer) => ({ ...uploadClaims(b, 'up5'), contentType: 'image/png' }), 422],
    ] as const)("Rails' DiskController refuses a PUT with %s", async (_name, claims, code) => {
      const body = Buffer.from('some bytes');
      const answer = await rails.call<RubyResponse>('put', { path: uploadPath(attache.signDiskUpload(claims(body), 60)), body: body.toString('base64'), contentType: 'text/plain' });
      expect(answer.status).toBe(code);
    });

    it.each([
      ...tamperings().map(([name, change]) => [name, () => change(attache.signDiskUpload(uploadClaims(Buffer.from('x'), 'up6'), 60))] as const),
      ['an expired token', () => past.signDiskUpload(uploadClaims(Buffer.from('x'), 'up6'), 60)] as const,
      ['a Disk key for a token', () => attache.signDiskKey(diskClaims(), 60)] as const,
    ])("Rails' DiskController answers 404 to a PUT with %s", async (_name, make) => {
      const answer = await rails.call<RubyResponse>('put', { path: uploadPath(make()), body: Buffer.from('x').toString('base64'), contentType: 'text/plain' });
      expect(answer.status).toBe(404);
    });
  });

  describe('load_defaults 7.0 (6.1 messages under a PBKDF2-HMAC-SHA256 key)', () => {
    const v70 = new RailsVerifier({ secretKeyBase: SECRET, messageFormat: '7.0' });
    const v71 = new RailsVerifier({ secretKeyBase: SECRET, messageFormat: '7.1' });
    const diskValue = { hash: [[{ sym: 'key' }, KEY], [{ sym: 'disposition' }, 'inline'], [{ sym: 'content_type' }, null], [{ sym: 'service_name' }, { sym: 'local' }]] };

    it('Ruby-made ids and Disk keys verify under 7.0 and 7.1 (which reads 7.0 messages) but not 6.1', async () => {
      const id = await rails.call<string>('generate', { format: '7.0', value: { int: blobId }, purpose: 'blob_id' });
      expect(v70.signBlobId(blobId)).toBe(id);
      expect(v70.verifyBlobId(id)).toBe(blobId);
      expect(v71.verifyBlobId(id)).toBe(blobId);
      expect(refusal(() => attache.verifyBlobId(id)).reason).toBe('tampered');
      const key = await rails.call<string>('generate', { format: '7.0', value: diskValue, purpose: 'blob_key', expiresIn: 60 });
      expect(v70.verifyDiskKey(key)).toEqual({ key: KEY, disposition: 'inline', contentType: null, serviceName: 'local' });
    });

    it("Ruby verifies our 7.0 messages with the SHA256 key; its 6.1 key and its 7.0 code read no other format", async () => {
      expect(await rails.call('verified', { format: '7.0', message: v70.signBlobId(blobId), purpose: 'blob_id' })).toEqual({ int: blobId });
      expect(await rails.call('verified', { format: '7.0', message: v70.signDiskUpload(uploadClaims(BODY), 60), purpose: 'blob_token' })).toMatchObject({
        hash: expect.arrayContaining([[{ sym: 'content_length' }, { int: String(BODY.length) }], [{ sym: 'service_name' }, { sym: 'local' }]]),
      });
      expect(await rails.call('verified', { format: '6.1', message: v70.signBlobId(blobId), purpose: 'blob_id' })).toBeNull();
      // Rails 7.0 raises on a 7.1 envelope (it base64-decodes the missing "message"); either way it is not read.
      await expect(rails.call('verified', { format: '7.0', message: v71.signBlobId(blobId), purpose: 'blob_id' })).rejects.toThrow(/NoMethodError|TypeError/);
    });
  });

  describe('URLs', () => {
    it('our path segments and globs are what Rails generates, and Rails routes them back to the same values', async () => {
      // Every character a signed message can hold (both base64 alphabets, '=', the '--' separator), and real messages.
      const messages = ['ABCxyz019+/=--_-0123456789abcdef', attache.signBlobId(blobId), attache.signDiskKey(diskClaims(), 60)];
      for (const message of messages) {
        for (const filename of ['ada.png', 'a b&c%d+é 😀.tar.gz', 'dir/x.png', "it's (1);[2]@x=y,z!$*~"]) {
          const path = `${PREFIX}/blobs/redirect/${railsPathSegment(message)}/${railsPathGlob(filename)}`;
          expect(await rails.call('blob_path', { signedId: message, filename })).toBe(path);
          expect(await rails.call('route', { path })).toMatchObject({ signed_id: message });
        }
        expect(railsPathParam(railsPathSegment(message))).toBe(message);
      }
      expect(railsPathSegment('ab/c+d=')).toBe('ab%2Fc+d=');
    });
  });

  function diskClaims(overrides: Partial<{ disposition: string }> = {}) {
    return { key: KEY, disposition: 'inline; filename="ada.png"', contentType: 'image/png', serviceName: 'local', ...overrides };
  }
  function uploadClaims(body: Buffer, key = 'up0') {
    return { key, contentType: 'text/plain', contentLength: body.length, checksum: md5(body), serviceName: 'local' };
  }
  const diskPath = (encodedKey: string) => `${PREFIX}/disk/${railsPathSegment(encodedKey)}/${railsPathGlob('ada.png')}`;
  const uploadPath = (encodedToken: string) => `${PREFIX}/disk/${railsPathSegment(encodedToken)}`;
});

function tamperings(): Array<[string, (message: string) => string]> {
  const swap = (m: string, i: number) => m.slice(0, i) + (m[i] === 'a' ? 'b' : 'a') + m.slice(i + 1);
  return [
    ['a data character changed', (m) => swap(m, 12)],
    ['a digest character changed', (m) => swap(m, m.length - 3)],
    ['the digest cut short', (m) => m.slice(0, -2)],
    ['another secret', (m) => new RailsVerifier({ secretKeyBase: `${SECRET}-other`, messageFormat: '6.1' }).signBlobId(m.length)],
  ];
}
