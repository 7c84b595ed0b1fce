import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../../src/core/checksum.ts';
import { railsPathGlob, railsPathSegment } from '../../../src/signing/rails/url.ts';
import { User } from '../../support/entities.ts';
import { serveBoth, type Both } from '../harness.ts';
import { openRailsAttache, PREFIX, type RailsFixture } from './fixture.ts';

// Ids and tokens ActiveSupport 7.2.3 made (load_defaults 7.1); the Disk ones are for ada.png (179 bytes) and expire in 2099.
const vectors = JSON.parse(readFileSync(new URL('../../signing/rails/fixtures/rails-message-vectors.json', import.meta.url), 'utf8')) as {
  secret_key_base: string;
  signed_ids: Array<{ id: number; message: string }>;
  signed_id_expiring: { id: number; message: string };
  signed_id_expired: { message: string };
  signed_id_other_purpose: { message: string };
  disk_download_token: { data: { key: string }; message: string };
  disk_upload_token: { data: { key: string; content_type: string; content_length: number; checksum: string }; message: string };
};
const PNG = await readFile(new URL('../../../examples/fixtures/ada.png', import.meta.url));
const KEY = vectors.disk_download_token.data.key;

let f: RailsFixture;
let both: Both;

beforeAll(async () => {
  f = await openRailsAttache({ rails: { secretKeyBase: vectors.secret_key_base, messageFormat: '7.1' } });
  both = await serveBoth(f.attache);
  for (const { id } of vectors.signed_ids) {
    await f.db.dataSource.query(
      `INSERT INTO active_storage_blobs (id, key, filename, content_type, metadata, service_name, byte_size, checksum, created_at)
       VALUES ($1, $2, 'ada.png', 'image/png', '{}', 'local', $3, $4, now())`,
      [id, `vectorblob${String(id).padStart(18, '0')}`, PNG.length, md5Base64(PNG)],
    );
  }
});
afterAll(async () => {
  await both?.node.close();
  await f?.close();
});

describe('ActiveSupport 7.2 messages (the 7.1 format) through Rails mode', () => {
  it("Rails' signed ids find their blobs, and the uploaded file attaches by them", async () => {
    // The upload token's PUT stores ada.png under the vectors' key, for the blob row a Rails app would have made.
    const up = vectors.disk_upload_token.data;
    await f.db.dataSource.query(
      `UPDATE active_storage_blobs SET key = $1 WHERE id = $2`,
      [up.key, vectors.signed_ids[1]!.id],
    );
    const put = await both.viaNode(`${PREFIX}/disk/${railsPathSegment(vectors.disk_upload_token.message)}`, { method: 'PUT', body: PNG, headers: { 'content-type': up.content_type } });
    expect(put.status).toBe(204);
    expect(await readFile(join(f.local, KEY.slice(0, 2), KEY.slice(2, 4), KEY))).toEqual(PNG);

    const users = f.db.dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'Vectors' }));
    await user.avatar.attach(vectors.signed_ids[1]!.message);
    expect(await user.avatar.download()).toEqual(PNG);
    for (const { id, message } of vectors.signed_ids) expect((await f.attache.findSigned(message))?.id).toBe(String(id));
    expect((await f.attache.findSigned(vectors.signed_id_expiring.message))?.id).toBe('42');
  });

  it('refuses the expired id and the id of another purpose', async () => {
    expect(await f.attache.findSigned(vectors.signed_id_expired.message)).toBeNull();
    expect(await f.attache.findSigned(vectors.signed_id_other_purpose.message)).toBeNull();
  });

  it("serves Rails' Disk URL and Rails' redirect link for the vectors", async () => {
    const disk = await both.get(`${PREFIX}/disk/${railsPathSegment(vectors.disk_download_token.message)}/${railsPathGlob('portrait.png')}`);
    expect(disk.status).toBe(200);
    expect(disk.body).toEqual(PNG);
    expect(disk.headers.get('content-disposition')).toBe('inline; filename="portrait.png"; filename*=UTF-8\'\'portrait.png');
    const redirect = await both.get(`${PREFIX}/blobs/redirect/${railsPathSegment(vectors.signed_ids[1]!.message)}/ada.png`);
    expect(redirect.status).toBe(302);
    expect((await both.get(redirect.headers.get('location')!)).body).toEqual(PNG);
  });

  it('a different secret_key_base reads none of them', async () => {
    const other = await openRailsAttache({ rails: { messageFormat: '7.1' } });
    try {
      for (const { message } of vectors.signed_ids) expect(await other.attache.findSigned(message)).toBeNull();
    } finally {
      await other.close();
    }
  });
});
