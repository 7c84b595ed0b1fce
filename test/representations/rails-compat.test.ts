import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Blob } from '../../src/index.ts';
import type { Variant } from '../../src/representations/Variant.ts';
import { makeImage, makePdf, makeRotatedJpeg, toolsMissing } from '../support/media.ts';
import { ruby, rubyMissing } from '../support/ruby.ts';
import { openGallery, type Gallery } from './fixture.ts';

const SCRIPT = path.join(import.meta.dirname, 'rails', 'read_as_rails.rb');

interface RailsAnswer {
  blob: number;
  metadata: Record<string, unknown>;
  analyzed: boolean;
  identified: boolean;
  default_format: string;
  digest?: string;
  processed?: boolean;
  image_blob?: number | null;
  image_md5?: string | null;
  preview_image_blob?: number | null;
  preview_variant_processed?: boolean;
}

/** Asks Rails 6.1's own ActiveStorage models, connected to this test's schema, about these blobs. */
function askRails(g: Gallery, requests: Array<{ blob: string; variant?: string; preview?: string }>): RailsAnswer[] {
  const answer = ruby(`load ${JSON.stringify(SCRIPT)}`, [inject('databaseUrl'), g.db.schema, g.root, JSON.stringify(requests.map((r) => ({ blob: Number(r.blob), variant: r.variant ?? null, preview: r.preview ?? null })))]);
  return answer.trim().split('\n').map((line) => JSON.parse(line) as RailsAnswer);
}

/**
 * A Rails 6.1 app sharing the database reads what attache wrote: blob metadata through
 * ActiveStorage::Blob#metadata, and attache's variants through its own `blob.variant(…)`:
 * the same default format, the same variation digest, the variant record found, the bytes read
 * through Rails' DiskService.
 */
describe.skipIf(rubyMissing('activestorage'))('a Rails 6.1 app reads what attache wrote', () => {
  let g: Gallery;
  const blobs: Record<string, Blob> = {};
  beforeAll(async () => {
    g = await openGallery();
    const files: Array<[string, Buffer]> = [
      ['ada.png', await makeImage(640, 480, 'png')],
      ['Photo.JPG', await makeRotatedJpeg(640, 480)],
      ['cat.webp', await makeImage(300, 200, 'webp')],
    ];
    for (const [filename, data] of files) {
      const member = await g.newMember();
      await member.avatar.attach({ io: data, filename });
      blobs[filename] = (await member.avatar.blob())!;
    }
    await g.attache.drain();
  });
  afterAll(() => g.close());

  it('metadata, analyzed? and identified? as ActiveStorage::Blob reads them', async () => {
    const answers = askRails(g, Object.values(blobs).map((blob) => ({ blob: blob.id })));
    for (const [i, blob] of Object.values(blobs).entries()) {
      const ours = (await g.attache.findSigned(blob.signedId()))!.metadata;
      expect(answers[i]!.metadata).toEqual(ours);
      expect([answers[i]!.analyzed, answers[i]!.identified]).toEqual([true, true]);
    }
    expect(answers[1]!.metadata).toMatchObject({ width: 480, height: 640 });
  });

  it('finds attache\'s variants by its own digest and reads their bytes', async () => {
    const cases: Array<[string, Record<string, unknown>, string, string]> = [
      ['ada.png', { resizeToLimit: [100, 100] }, '{ resize_to_limit: [100, 100] }', '"png"'],
      ['Photo.JPG', { resizeToFill: [50, 50] }, '{ resize_to_fill: [50, 50] }', '"JPG"'],
      ['cat.webp', { resizeToLimit: [64, 64], format: 'webp' }, '{ resize_to_limit: [64, 64], format: :webp }', ':png'],
      ['ada.png', { resizeToFit: [30, 30], quality: 80, strip: true }, '{ resize_to_fit: [30, 30], quality: 80, strip: true }', '"png"'],
    ];
    const made: Array<{ variant: Variant; image: Blob }> = [];
    for (const [file, transformations] of cases) {
      const variant = blobs[file]!.variant(transformations) as Variant;
      made.push({ variant, image: await variant.image() });
    }
    const answers = askRails(g, cases.map(([file, , rails]) => ({ blob: blobs[file]!.id, variant: rails })));
    cases.forEach(([file, , , defaultFormat], i) => {
      const { variant, image } = made[i]!;
      expect(answers[i], file).toMatchObject({ default_format: defaultFormat, digest: variant.digest, processed: true, image_blob: Number(image.id), image_md5: image.checksum });
    });
  });

  it('does not find a variant attache never made', () => {
    const [answer] = askRails(g, [{ blob: blobs['ada.png']!.id, variant: '{ resize_to_limit: [77, 77] }' }]);
    expect(answer).toMatchObject({ processed: false, image_blob: null });
  });

  it.skipIf(toolsMissing('pdftoppm'))('finds attache\'s PDF preview as its preview_image, and the preview\'s variant', async () => {
    const member = await g.newMember();
    await member.report.attach({ io: makePdf([{ width: 200, height: 100 }]), filename: 'report.pdf' });
    const pdf = (await member.report.blob())!;
    await pdf.preview({ resizeToLimit: [100, 100] }).processed();
    const [answer] = askRails(g, [{ blob: pdf.id, preview: '{ resize_to_limit: [100, 100] }' }]);
    expect(answer!.preview_image_blob).not.toBeNull();
    expect(answer!.preview_variant_processed).toBe(true);
  });
});
