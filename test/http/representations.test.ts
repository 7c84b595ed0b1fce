import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Blob, VariantRecord } from '../../src/index.ts';
import { Variation } from '../../src/representations/variation.ts';
import { MessageVerifier } from '../../src/signing/MessageVerifier.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { imageInfo, makeImage, makePdf, toolsMissing, truncate } from '../support/media.ts';
import { openGallery, type Gallery } from '../representations/fixture.ts';
import { flipChar, serveBoth, type Both } from './harness.ts';
import { runtimeOf } from '../../src/attache.ts';

let g: Gallery;
let both: Both;
let allow = true;
let png: Blob;

beforeAll(async () => {
  g = await openGallery();
  both = await serveBoth(g.attache, { authorize: () => allow });
  const member = await g.newMember();
  await member.avatar.attach({ io: await makeImage(640, 480, 'png'), filename: 'ada.png' });
  await g.attache.drain();
  png = (await member.avatar.blob())!;
});
afterAll(async () => {
  await both.node.close();
  await g.close();
});

/** The path segments of a representation URL: mount, representations, via, signed id, variation key, filename. */
function segments(url: string): string[] {
  return url.split('/').slice(1);
}

describe('representation routes ({mount}/representations/{redirect,proxy}/:signedBlobId/:variationKey/:filename)', () => {
  it('proxy: makes the variant on first request, then serves it with the blob proxy\'s safe headers', async () => {
    const variant = png.variant({ resizeToLimit: [120, 120], format: 'webp' });
    const url = await variant.proxyUrl();
    expect(segments(url).slice(0, 3)).toEqual(['attache', 'representations', 'proxy']);
    expect(url.endsWith('/ada.png')).toBe(true);
    expect(await variant.isProcessed()).toBe(false);
    const answer = await both.get(url);
    expect(answer.status).toBe(200);
    expect(await imageInfo(answer.body)).toMatchObject({ width: 120, height: 90, format: 'webp' });
    expect(answer.headers.get('content-type')).toBe('image/webp');
    expect(answer.headers.get('content-disposition')).toMatch(/^inline; filename="ada.webp"/);
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    expect(answer.headers.get('content-security-policy')).toContain('sandbox');
    expect(answer.headers.get('etag')).toBe(`"${(await variant.image()).checksum}"`);
    const records = await g.db.dataSource.getRepository(VariantRecord).countBy({ blobId: png.id });
    expect((await both.get(url)).status).toBe(200);
    expect(await g.db.dataSource.getRepository(VariantRecord).countBy({ blobId: png.id })).toBe(records);
  });

  it('redirect: 302 to the variant\'s service URL, not cached; a named variant\'s URL from the accessor', async () => {
    const member = await g.newMember();
    await member.avatar.attach({ io: await makeImage(300, 300, 'jpeg'), filename: 'face.jpg' });
    const answer = await both.get(await member.avatar.variant('thumb').redirectUrl());
    expect(answer.status).toBe(302);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    const image = await both.get(answer.headers.get('location')!);
    expect(await imageInfo(image.body)).toMatchObject({ width: 100, height: 100, format: 'jpeg' });
  });

  it('HEAD answers without a body; other methods are 405', async () => {
    const url = await png.variant({ resizeToLimit: [10, 10] }).proxyUrl();
    expect((await both.get(url, { method: 'HEAD' })).body.length).toBe(0);
    const post = await both.viaNode(url, { method: 'POST' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
  });

  describe('refuses transformations the server did not sign for this blob (404, nothing made)', () => {
    const verifier = new MessageVerifier(TEST_SECRET);
    const other = new MessageVerifier('another-secret-0123456789abcdefghijkl');
    const cases: Array<[string, (parts: string[]) => void]> = [
      ['a tampered variation key', (p) => (p[4] = flipChar(p[4]!, 5))],
      ['a key signed with another secret', (p) => (p[4] = Variation.of({ resizeToLimit: [7, 7] }).sign(other, png.id))],
      ['a key signed for another blob', (p) => (p[4] = Variation.of({ resizeToLimit: [7, 7] }).sign(verifier, String(Number(png.id) + 1)))],
      ['transformations outside the allowlist, signed', (p) => (p[4] = verifier.sign({ b: png.id, t: { resize: '7x7', colorspace: 'x' } }, 'variation'))],
      ['a plain JSON variation', (p) => (p[4] = Buffer.from(JSON.stringify({ resizeToLimit: [7, 7] })).toString('base64url'))],
      ['a signed blob id (not a variation) as the key', (p) => (p[4] = png.signedId())],
      ['an attachable signed id instead of the serving id', (p) => (p[3] = png.signedId())],
      ['a tampered blob id', (p) => (p[3] = flipChar(p[3]!, 3))],
    ];
    it.each(cases)('%s', async (_label, tamper) => {
      const parts = segments(await png.variant({ resizeToLimit: [33, 33] }).proxyUrl());
      tamper(parts);
      const before = await g.db.dataSource.getRepository(VariantRecord).count();
      for (const via of ['proxy', 'redirect']) {
        parts[2] = via;
        expect((await both.get(`/${parts.join('/')}`)).status).toBe(404);
      }
      expect(await g.db.dataSource.getRepository(VariantRecord).count()).toBe(before);
    });
  });

  it('asks authorize first: 403, and nothing made', async () => {
    allow = false;
    try {
      const variant = png.variant({ resizeToLimit: [44, 44] });
      expect((await both.get(await variant.proxyUrl())).status).toBe(403);
      expect(await variant.isProcessed()).toBe(false);
    } finally {
      allow = true;
    }
  });

  it('answers 422 for an image that cannot be read and 404 for a blob that is not representable', async () => {
    const member = await g.newMember();
    const broken = truncate(await makeImage(400, 300, 'jpeg'));
    await member.avatar.attach({ io: broken, filename: 'broken.jpg' });
    expect((await both.get(await member.avatar.variant('thumb').proxyUrl())).status).toBe(422);
    await member.report.attach({ io: Buffer.from('just text'), filename: 'notes.txt' });
    const text = (await member.report.blob())!;
    const url = runtimeOf(g.attache).routes.representation('proxy', text.proxyUrl().split('/')[4]!, Variation.of({ resizeToLimit: [5, 5] }).sign(runtimeOf(g.attache).verifier, text.id), 'notes.txt');
    expect((await both.get(url)).status).toBe(404);
  });

  it.skipIf(toolsMissing('pdftoppm'))('makes a PDF\'s preview on first request', async () => {
    const member = await g.newMember();
    await member.report.attach({ io: makePdf([{ width: 200, height: 100 }]), filename: 'report.pdf' });
    const answer = await both.get(await member.report.representation({ resizeToLimit: [100, 100] }).proxyUrl());
    expect(answer.status).toBe(200);
    expect(await imageInfo(answer.body)).toMatchObject({ width: 100, height: 50, format: 'png' });
  });
});
