import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../../src/core/checksum.ts';
import { AttachmentError, Blob } from '../../../src/index.ts';
import { railsPathParam } from '../../../src/signing/rails/url.ts';
import { User } from '../../support/entities.ts';
import { filesUnder } from '../../support/storage.ts';
import { openAttache } from '../../support/attache.ts';
import { serveBoth, type Both } from '../harness.ts';
import { openRailsAttache, PREFIX, type RailsFixture } from './fixture.ts';

const CSRF = 'csrf-token-of-this-session';
const BYTES = Buffer.from('a text file uploaded the way @rails/activestorage does it');

let f: RailsFixture;
let both: Both;
const seen: Array<string | null> = [];

beforeAll(async () => {
  f = await openRailsAttache();
  both = await serveBoth(f.attache, {
    // What an app does with Rails' client: it sends the page's <meta name="csrf-token"> as X-CSRF-Token.
    authorizeDirectUpload: (request) => {
      const token = request instanceof Request ? request.headers.get('x-csrf-token') : ((request as IncomingMessage).headers['x-csrf-token'] as string | undefined) ?? null;
      seen.push(token);
      return token === CSRF;
    },
  });
});
afterAll(async () => {
  await both?.node.close();
  await f?.close();
});

/** What Rails' BlobRecord sends. */
function railsBody(overrides: Record<string, unknown> = {}, bytes = BYTES): string {
  return JSON.stringify({ blob: { filename: 'notes.txt', content_type: 'text/plain', byte_size: bytes.length, checksum: md5Base64(bytes), ...overrides } });
}
const post = (query: string, body: string, via: 'node' | 'fetch' = 'node', csrf: string | null = CSRF) =>
  (via === 'node' ? both.viaNode : both.viaFetch)(`${PREFIX}/direct_uploads${query}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', accept: 'application/json', 'x-requested-with': 'XMLHttpRequest', ...(csrf ? { 'x-csrf-token': csrf } : {}) },
  });
const blobCount = () => f.db.dataSource.getRepository(Blob).count();

describe("POST {mount}/direct_uploads with Rails' body", () => {
  it("answers Rails' shape; the PUT with its headers stores the bytes, and the signed id attaches", async () => {
    const answer = await post('?attachment=User%23avatar', railsBody());
    expect(answer.status).toBe(200);
    const json = JSON.parse(answer.body.toString()) as Record<string, unknown> & { signed_id: string; direct_upload: { url: string; headers: Record<string, string> } };
    expect(Object.keys(json)).toEqual(['id', 'key', 'filename', 'content_type', 'metadata', 'service_name', 'byte_size', 'checksum', 'created_at', 'signed_id', 'direct_upload']);
    expect(json).toMatchObject({ filename: 'notes.txt', content_type: 'text/plain', byte_size: BYTES.length, checksum: md5Base64(BYTES), service_name: 'local', metadata: {} });
    expect(typeof json.id).toBe('number');
    expect(json.direct_upload.url).toMatch(/^\/rails\/active_storage\/disk\/[^/]+$/);
    // Rails' token, so a Rails app could take this PUT as well.
    expect(f.rails.verifyDiskUpload(railsPathParam(json.direct_upload.url.split('/')[4]!))).toMatchObject({ key: json.key, contentLength: BYTES.length, checksum: md5Base64(BYTES), serviceName: 'local' });
    const put = await both.viaNode(json.direct_upload.url, { method: 'PUT', body: BYTES, headers: json.direct_upload.headers });
    expect(put.status).toBe(204);
    const users = f.db.dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'Rails client' }));
    await user.avatar.attach(json.signed_id);
    expect(await user.avatar.download()).toEqual(BYTES);
  });

  it('works through the Fetch handler too, with the framework Request given to authorizeDirectUpload', async () => {
    const answer = await post('?attachment=User%23avatar', railsBody(), 'fetch');
    expect(answer.status).toBe(200);
    expect(seen.at(-1)).toBe(CSRF);
  });

  it("the direct upload's signed id is bound to the attachment in the URL", async () => {
    const json = JSON.parse((await post('?attachment=User%23avatar', railsBody())).body.toString()) as { signed_id: string; direct_upload: { url: string; headers: Record<string, string> } };
    await both.viaNode(json.direct_upload.url, { method: 'PUT', body: BYTES, headers: json.direct_upload.headers });
    const users = f.db.dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'Other' }));
    await expect(user.photo.attach(json.signed_id)).rejects.toBeInstanceOf(AttachmentError);
  });

  it('the body cannot choose the service or the key (Rails permits neither, and attache takes only the URL)', async () => {
    const answer = await post('?attachment=User%23avatar', railsBody({ service_name: 'archive', key: 'chosenbytheclient00000000000' }));
    expect(JSON.parse(answer.body.toString())).toMatchObject({ service_name: 'local' });
    expect(JSON.parse(answer.body.toString()).key).not.toBe('chosenbytheclient00000000000');
  });

  it.each([
    ['a file over maxByteSize', '?attachment=User%23photo', railsBody({ content_type: 'image/png', byte_size: 4096 }), /FileTooLargeError/],
    ['a disallowed type', '?attachment=User%23photo', railsBody({ content_type: 'text/html', byte_size: 10 }), /ContentTypeNotAllowedError/],
    ['no attachment in the URL', '', railsBody(), /attachment=User%23avatar/],
    ['an unknown attachment', '?attachment=User%23nope', railsBody(), /ArgumentError|AttachmentError|ConfigurationError/],
    ['a blob that is not an object', '?attachment=User%23avatar', '{"blob":"x"}', /blob must be an object/],
    ['a bad checksum', '?attachment=User%23avatar', railsBody({ checksum: 'nope' }), /checksum/],
  ])('refuses %s with 422 and saves no blob', async (_label, query, body, message) => {
    const before = await blobCount();
    const answer = await post(query, body);
    expect(answer.status).toBe(422);
    expect(answer.body.toString()).toMatch(message);
    expect(await blobCount()).toBe(before);
  });

  it.each([
    ['without X-CSRF-Token', null],
    ['with a wrong X-CSRF-Token', 'forged'],
  ])('authorizeDirectUpload refuses a request %s (403) before any blob is saved', async (_label, csrf) => {
    const before = await blobCount();
    const files = await filesUnder(f.local);
    expect((await post('?attachment=User%23avatar', railsBody(), 'node', csrf)).status).toBe(403);
    expect(seen.at(-1)).toBe(csrf);
    expect(await blobCount()).toBe(before);
    expect(await filesUnder(f.local)).toEqual(files);
  });

  it("attache's own body shape is still answered in attache's shape", async () => {
    const answer = await post('', JSON.stringify({ attachment: 'User#avatar', filename: 'a.txt', byteSize: BYTES.length, checksum: md5Base64(BYTES), contentType: 'text/plain' }));
    expect(Object.keys(JSON.parse(answer.body.toString()))).toEqual(['signedId', 'directUpload']);
  });

  it("is answered without Rails mode too, with attache's own Disk URL, and the PUT stores the bytes", async () => {
    const plain = await openAttache();
    try {
      const served = await serveBoth(plain.attache);
      const answer = await served.viaNode('/attache/direct_uploads?attachment=User%23avatar', { method: 'POST', body: railsBody(), headers: { 'content-type': 'application/json' } });
      const json = JSON.parse(answer.body.toString()) as { signed_id: string; direct_upload: { url: string; headers: Record<string, string> } };
      expect(json.direct_upload.url).toMatch(/^\/attache\/disk\/[\w-]+\.[\w-]+$/);
      expect((await served.viaNode(json.direct_upload.url, { method: 'PUT', body: BYTES, headers: json.direct_upload.headers })).status).toBe(204);
      const users = plain.db.dataSource.getRepository(User);
      const user = await users.save(users.create({ name: 'No Rails mode' }));
      await user.avatar.attach(json.signed_id);
      expect(await user.avatar.download()).toEqual(BYTES);
      await served.node.close();
    } finally {
      await plain.close();
    }
  });
});
