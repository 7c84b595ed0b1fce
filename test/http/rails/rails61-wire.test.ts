import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { md5Base64 } from '../../../src/core/checksum.ts';
import { Blob } from '../../../src/index.ts';
import { railsPathParam } from '../../../src/signing/rails/url.ts';
import { Rails61, rubyStatus } from '../../signing/rails/ruby.ts';
import { User } from '../../support/entities.ts';
import { createTestBucket, s3Endpoint, s3Settings, type TestBucket } from '../../support/s3.ts';
import { serveBoth, type Both } from '../harness.ts';
import { openRailsAttache, PREFIX, RAILS_SECRET, railsBlob, type RailsFixture } from './fixture.ts';

interface RubyResponse { status: number; headers: Record<string, string>; body: string }
interface RailsDirectUpload { id: number; key: string; signed_id: string; service_name: string; direct_upload: { url: string; headers: Record<string, string> } }

const PNG = await readFile(new URL('../../../examples/fixtures/ada.png', import.meta.url));
const status = rubyStatus();
if (!status.activeStorage) console.warn(`[attache] skipping the Rails 6.1 wire tests: ${status.reason}`);
const s3Reason = s3Endpoint().server === 's3rver' ? "s3rver does not check Rails' presigned PUT headers (needs Ceph RGW: source its env)" : undefined;
if (status.activeStorage && s3Reason) console.warn(`[attache] skipping the Rails 6.1 S3 wire tests: ${s3Reason}`);

const pathOf = (url: string) => { const u = new URL(url, 'http://x'); return `${u.pathname}${u.search}`; };
const bytes = (answer: RubyResponse) => Buffer.from(answer.body, 'base64');

/** One shared schema and storage: attache's handler on 127.0.0.1 and Rails 6.1 (Ruby) on the same rows and roots. */
async function openPair(options: { services?: Record<string, Record<string, unknown>>; service?: string } = {}): Promise<{ f: RailsFixture; rails: Rails61; both: Both; close(): Promise<void> }> {
  const f = await openRailsAttache({ services: options.services, service: options.service });
  const services = { local: { service: 'Disk', root: f.local }, archive: { service: 'Disk', root: f.archive }, ...options.services };
  const rails = new Rails61({ secretKeyBase: RAILS_SECRET, root: f.local, databaseUrl: inject('databaseUrl'), schema: f.db.schema, services });
  const both = await serveBoth(f.attache);
  return { f, rails, both, close: async () => { await rails.close(); await both.node.close(); await f.close(); } };
}

describe.skipIf(!status.activeStorage)(`Rails ${status.activeStorage} and attache on one schema and one Disk root`, () => {
  let pair: Awaited<ReturnType<typeof openPair>>;
  let f: RailsFixture;
  let rails: Rails61;
  let both: Both;
  let pngId: string;
  const newUser = async () => { const users = f.db.dataSource.getRepository(User); return users.save(users.create({ name: 'Ada' })); };

  beforeAll(async () => {
    pair = await openPair();
    ({ f, rails, both } = pair);
    pngId = await railsBlob(f, PNG, { key: 'rails61pngkey000000000000001', filename: 'ada.png', contentType: 'image/png' });
  });
  afterAll(async () => pair?.close());

  describe('what Rails makes, attache verifies and serves', () => {
    it("Blob#signed_id attaches through attache, and its redirect link (Rails' path) is served by attache", async () => {
      const signedId = await rails.call<string>('signed_id', { id: Number(pngId) });
      const user = await newUser();
      await user.avatar.attach(signedId);
      expect(await user.avatar.download()).toEqual(PNG);
      const link = await rails.call<string>('blob_path', { signedId, filename: 'ada.png' });
      const redirect = await both.get(link);
      expect(redirect.status).toBe(302);
      expect((await both.get(redirect.headers.get('location')!)).body).toEqual(PNG);
      expect((await both.get(link.replace('/redirect/', '/proxy/'))).body).toEqual(PNG);
      expect((await both.get(link.replace('/redirect/', '/'))).status).toBe(302); // 6.1's blobs/:signed_id/*filename
    });

    it("DiskService#url is served by attache with Rails' type and disposition, under attache's serving rules", async () => {
      const url = await rails.call<string>('disk_url', { key: 'rails61pngkey000000000000001', filename: 'a b.png', contentType: 'image/png', disposition: 'inline', expiresIn: 60 });
      const answer = await both.get(pathOf(url));
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual(PNG);
      expect(answer.headers.get('content-disposition')).toBe('inline; filename="a b.png"; filename*=UTF-8\'\'a%20b.png');
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    });

    it("a Rails direct upload (Rails' blob row, signed id, Disk URL and headers) is stored by attache's PUT and attached by attache", async () => {
      const body = Buffer.from('uploaded by a page of the Rails app, stored by attache');
      const upload = await rails.call<RailsDirectUpload>('direct_upload', { filename: 'r.txt', byteSize: body.length, checksum: md5Base64(body), contentType: 'text/plain' });
      expect(upload.direct_upload.headers).toEqual({ 'Content-Type': 'text/plain' }); // Rails' Disk sends no Content-MD5
      expect((await both.viaNode(pathOf(upload.direct_upload.url), { method: 'PUT', body, headers: upload.direct_upload.headers })).status).toBe(204);
      const user = await newUser();
      await user.avatar.attach(upload.signed_id);
      expect(await user.avatar.download()).toEqual(body);
    });

    it("attache refuses what Rails' DiskController wrongly accepts: an unknown service name, an upload token without a checksum", async () => {
      const ghost = await rails.call<string>('generate', { format: '6.1', purpose: 'blob_key', expiresIn: 60, value: { hash: [[{ sym: 'key' }, 'rails61pngkey000000000000001'], [{ sym: 'disposition' }, 'inline'], [{ sym: 'content_type' }, 'image/png'], [{ sym: 'service_name' }, { sym: 'gone' }]] } });
      const path = `${PREFIX}/disk/${encodeURIComponent(ghost)}/ada.png`;
      expect((await rails.call<RubyResponse>('get', { path })).status).toBe(200); // Rails falls back to its default service
      expect((await both.get(path)).status).toBe(404);
      const body = Buffer.from('unchecked');
      const blob = await f.db.dataSource.getRepository(Blob).save(f.db.dataSource.getRepository(Blob).create({ key: 'rails61nochecksum00000000001', filename: 'n.txt', contentType: 'text/plain', metadata: {}, serviceName: 'local', byteSize: body.length, checksum: md5Base64(body) }));
      const url = await rails.call<string>('upload_url', { key: blob.key, contentType: 'text/plain', contentLength: body.length, checksum: null, expiresIn: 60 });
      expect((await both.viaNode(pathOf(url), { method: 'PUT', body, headers: { 'content-type': 'text/plain' } })).status).toBe(422);
      expect((await rails.call<RubyResponse>('put', { path: pathOf(url), body: body.toString('base64'), contentType: 'text/plain' })).status).toBe(204);
    });

    it("attache's Rails-shaped direct-upload answer has the keys of Rails' DirectUploadsController#create", async () => {
      const blob = { filename: 'k.txt', content_type: 'text/plain', byte_size: 3, checksum: md5Base64('abc') };
      const fromRails = JSON.parse(bytes(await rails.call<RubyResponse>('post_json', { path: `${PREFIX}/direct_uploads`, body: { blob } })).toString()) as Record<string, unknown>;
      const fromAttache = JSON.parse((await both.viaNode(`${PREFIX}/direct_uploads?attachment=User%23avatar`, { method: 'POST', body: JSON.stringify({ blob }), headers: { 'content-type': 'application/json' } })).body.toString()) as Record<string, unknown>;
      expect(Object.keys(fromAttache)).toEqual(Object.keys(fromRails));
      expect(Object.keys(fromAttache.direct_upload as object)).toEqual(Object.keys(fromRails.direct_upload as object));
      for (const name of ['filename', 'content_type', 'byte_size', 'checksum', 'metadata', 'service_name']) expect(fromAttache[name]).toEqual(fromRails[name]);
      expect(typeof fromAttache.id).toBe(typeof fromRails.id);
      expect(String(fromAttache.created_at)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(String(fromRails.created_at)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    });
  });

  describe('what attache makes, Rails verifies and serves', () => {
    it("blob.url() on Disk, redirectUrl() and proxyUrl() are served by Rails' own controllers", async () => {
      const user = await newUser();
      await user.avatar.attach({ io: PNG, filename: 'portrait.png' });
      const blob = (await user.avatar.blob())!;
      const disk = await rails.call<RubyResponse>('get', { path: await blob.url() });
      expect(disk.status).toBe(200);
      expect(bytes(disk)).toEqual(PNG);
      expect(disk.headers['Content-Disposition']).toBe('inline; filename="portrait.png"; filename*=UTF-8\'\'portrait.png');
      const redirect = await rails.call<RubyResponse>('get', { path: blob.redirectUrl() });
      expect(redirect.status).toBe(302);
      expect(bytes(await rails.call<RubyResponse>('get', { path: pathOf(redirect.headers.Location!) }))).toEqual(PNG);
      const proxy = await rails.call<RubyResponse>('get', { path: blob.proxyUrl() });
      expect(proxy.status).toBe(200);
      expect(bytes(proxy)).toEqual(PNG);
    });

    it("blob.signedId({ format: 'rails' }) attaches in Rails, and attache then sees Rails' attachment row", async () => {
      const blob = await f.attache.createAndUpload({ io: PNG, filename: 'shared.png' });
      const user = await newUser();
      expect(await rails.call('attach', { userId: user.id, signedId: blob.signedId({ format: 'rails' }) })).toBe(Number(blob.id));
      expect((await user.avatar.reset().blob())?.id).toBe(blob.id);
      await expect(rails.call('attach', { userId: user.id, signedId: blob.signedId() })).rejects.toThrow(/InvalidSignature/); // attache's own id is not Rails'
    });

    it("an attache direct upload in Rails' shape is PUT through Rails' DiskController, then attached by attache", async () => {
      const body = Buffer.from('uploaded through attache, stored by Rails');
      const answer = await both.viaNode(`${PREFIX}/direct_uploads?attachment=User%23avatar`, {
        method: 'POST', body: JSON.stringify({ blob: { filename: 'a.txt', content_type: 'text/plain', byte_size: body.length, checksum: md5Base64(body) } }), headers: { 'content-type': 'application/json' },
      });
      const json = JSON.parse(answer.body.toString()) as RailsDirectUpload;
      const put = await rails.call<RubyResponse>('put', { path: json.direct_upload.url, body: body.toString('base64'), contentType: 'text/plain' });
      expect(put.status).toBe(204);
      expect(await readFile(join(f.local, json.key.slice(0, 2), json.key.slice(2, 4), json.key))).toEqual(body);
      const user = await newUser();
      await user.avatar.attach(json.signed_id);
      expect(await user.avatar.download()).toEqual(body);
    });

    it("Rails refuses attache's Rails tokens once tampered, and its Disk keys for a PUT", async () => {
      const blob = await f.attache.createAndUpload({ io: PNG, filename: 'x.png' });
      const path = await blob.url();
      const segments = path.split('/');
      const key = railsPathParam(segments[4]!);
      segments[4] = encodeURIComponent(`${key.slice(0, 20)}${key[20] === 'A' ? 'B' : 'A'}${key.slice(21)}`);
      expect((await rails.call<RubyResponse>('get', { path: segments.join('/') })).status).toBe(404);
      expect((await rails.call<RubyResponse>('put', { path: path.split('/').slice(0, 5).join('/'), body: PNG.toString('base64'), contentType: 'image/png' })).status).toBe(404);
    });
  });
});

describe.skipIf(!status.activeStorage || s3Reason)(`Rails ${status.activeStorage}'s S3Service and attache on one RGW bucket`, () => {
  let bucket: TestBucket;
  let pair: Awaited<ReturnType<typeof openPair>>;

  beforeAll(async () => {
    bucket = await createTestBucket();
    pair = await openPair({ services: { s3: { service: 'S3', ...s3Settings(bucket.name) } }, service: 's3' });
  });
  afterAll(async () => {
    await pair?.close();
    await bucket?.remove();
  });

  it("a Rails direct upload to S3 (Rails' presigned PUT and headers) is attached by attache after its checks", async () => {
    const body = Buffer.from('a Rails direct upload to RGW');
    const upload = await pair.rails.call<RailsDirectUpload>('direct_upload', { filename: 's.txt', byteSize: body.length, checksum: md5Base64(body), contentType: 'text/plain', service: 's3' });
    expect(upload.service_name).toBe('s3');
    const put = await fetch(upload.direct_upload.url, { method: 'PUT', body, headers: upload.direct_upload.headers });
    expect(put.status).toBe(200);
    const users = pair.f.db.dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'S3' }));
    await user.avatar.attach(upload.signed_id);
    expect(await user.avatar.download()).toEqual(body);
  });

  it("an object attache stored is downloaded by Rails, and Rails' redirect route presigns a GET that returns it", async () => {
    const users = pair.f.db.dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'S3 reader' }));
    await user.avatar.attach({ io: PNG, filename: 'ada.png' });
    const blob = (await user.avatar.blob())!;
    expect(Buffer.from(await pair.rails.call<string>('download', { id: Number(blob.id) }), 'base64')).toEqual(PNG);
    const redirect = await pair.rails.call<RubyResponse>('get', { path: blob.redirectUrl() });
    expect(redirect.status).toBe(302);
    expect(Buffer.from(await (await fetch(redirect.headers.Location!)).arrayBuffer())).toEqual(PNG);
  });
});
