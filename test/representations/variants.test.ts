import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Entity, PrimaryGeneratedColumn } from 'typeorm';
import {
  ArgumentError,
  Attachment,
  Blob,
  hasOneAttached,
  InvalidSignatureError,
  InvariableError,
  ProcessingError,
  type PreprocessFailed,
  VariantRecord,
  type AnalysisSkipped,
  type AttachedOne,
} from '../../src/index.ts';
import { filesUnder } from '../support/storage.ts';
import { imageInfo, makeImage, makeJpegWithExif, makePdf, makePixelBomb, makeRotatedJpeg, truncate } from '../support/media.ts';
import { Variation } from '../../src/representations/variation.ts';
import { countQueries, Member, openGallery, type Gallery } from './fixture.ts';
import { runtimeOf } from '../../src/attache.ts';

let g: Gallery;
const skipped: AnalysisSkipped[] = [];
const rows = (entity: Function) => g.db.dataSource.getRepository(entity).count();

beforeAll(async () => {
  g = await openGallery();
  g.attache.on('analysis:skipped', (event) => skipped.push(event));
});
afterAll(() => g.close());

async function attachAvatar(data: Buffer, filename: string) {
  const member = await g.newMember();
  await member.avatar.attach({ io: data, filename });
  await g.attache.drain();
  return member;
}

describe('analysis after attach', () => {
  it('records width and height under Rails\' keys, through the job queue', async () => {
    const member = await attachAvatar(await makeImage(640, 480, 'png'), 'ada.png');
    expect((await member.avatar.blob())!.metadata).toEqual({ identified: true, analyzed: true, width: 640, height: 480 });
    const stored = await g.db.dataSource.getRepository(Blob).findOneByOrFail({ id: (await member.avatar.blob())!.id });
    expect(stored.metadata).toEqual({ identified: true, analyzed: true, width: 640, height: 480 });
  });

  it('applies the EXIF orientation: a 640×480 JPEG turned by 90° is 480 wide', async () => {
    const member = await attachAvatar(await makeRotatedJpeg(640, 480), 'portrait.jpg');
    expect((await member.avatar.blob())!.metadata).toMatchObject({ analyzed: true, width: 480, height: 640 });
  });

  it('reads a decompression bomb\'s size from its header without decoding it', async () => {
    const member = await attachAvatar(await makePixelBomb(), 'bomb.png');
    expect((await member.avatar.blob())!.metadata).toMatchObject({ analyzed: true, width: 10_000, height: 10_000 });
  });

  it('marks a broken image analyzed with nothing extracted, and says so in an event', async () => {
    const broken = Buffer.from(await makeImage(64, 48, 'png'));
    broken.writeUInt32BE(0, 16); // a PNG whose header says it is 0 pixels wide
    const member = await attachAvatar(broken, 'broken.png');
    const blob = (await member.avatar.blob())!;
    expect(blob.contentType).toBe('image/png');
    expect(blob.metadata).toEqual({ identified: true, analyzed: true });
    expect(skipped.find((e) => e.blobId === blob.id)).toMatchObject({ analyzer: 'image', reason: 'unreadable' });
  });
});

describe('pluggable analyzers', () => {
  it('runs a registered analyzer first, keeps its result to JSON values and never lets it set attache\'s flags', async () => {
    const { readFile } = await import('node:fs/promises');
    g.attache.registerAnalyzer({
      name: 'lines',
      accept: (blob) => blob.contentType === 'text/plain',
      metadata: async (file) => ({ lines: (await readFile(file, 'utf8')).split('\n').length, identified: false, encryption: 'forged', when: new Date() }),
    });
    const member = await g.newMember();
    await member.report.attach({ io: Buffer.from('a\nb\nc'), filename: 'notes.txt' });
    await g.attache.drain();
    expect((await member.report.blob())!.metadata).toEqual({ identified: true, analyzed: true, lines: 3 });
  });
});

describe('variants', () => {
  it('makes a named variant once: a variant record, its image blob attached as "image", the bytes', async () => {
    const member = await attachAvatar(await makeImage(640, 480, 'png'), 'ada.png');
    const before = { records: await rows(VariantRecord), blobs: await rows(Blob) };
    const thumb = member.avatar.variant('thumb');
    expect(await thumb.isProcessed()).toBe(false);
    await thumb.processed();
    const image = await thumb.image();
    expect(await imageInfo(await thumb.download())).toMatchObject({ width: 100, height: 75, format: 'png' });
    expect(image).toMatchObject({ filename: 'ada.png', contentType: 'image/png', serviceName: 'local', metadata: { identified: true, analyzed: true, width: 100, height: 75 } });
    const attachment = await g.db.dataSource.getRepository(Attachment).findOneByOrFail({ blobId: image.id });
    expect(attachment).toMatchObject({ recordType: 'ActiveStorage::VariantRecord', name: 'image' });
    const record = await g.db.dataSource.getRepository(VariantRecord).findOneByOrFail({ id: attachment.recordId });
    expect(record.blobId).toBe((await member.avatar.blob())!.id);
    await member.avatar.variant('thumb').processed();
    expect({ records: await rows(VariantRecord), blobs: await rows(Blob) }).toEqual({ records: before.records + 1, blobs: before.blobs + 1 });
    expect(await thumb.url()).toMatch(/^\/attache\/disk\/[^/]+\/ada\.png$/);
  });

  it('makes ad-hoc variants, and preprocessed ones right after attach through the queue', async () => {
    const member = await attachAvatar(await makeImage(800, 600, 'jpeg'), 'photo.jpg');
    expect(await member.avatar.variant('card').isProcessed()).toBe(true);
    expect(await imageInfo(await member.avatar.variant('card').download())).toMatchObject({ width: 400, height: 300, format: 'webp' });
    expect((await member.avatar.variant('card').image()).filename).toBe('photo.webp');
    const small = member.avatar.variant({ resizeToLimit: [50, 50], format: 'png' });
    expect(await imageInfo(await small.download())).toMatchObject({ width: 50, height: 38, format: 'png' });
  });

  it('keeps a web image\'s format and turns others into PNG, as Rails does', async () => {
    const jpeg = await attachAvatar(await makeImage(200, 100, 'jpeg'), 'photo.jpg');
    expect(await imageInfo(await jpeg.avatar.variant('thumb').download())).toMatchObject({ format: 'jpeg', width: 100, height: 50 });
    const webp = await attachAvatar(await makeImage(200, 100, 'webp'), 'cat.webp');
    expect((await webp.avatar.variant('thumb').image()).contentType).toBe('image/png');
  });

  it('applies the EXIF orientation before resizing and never copies EXIF into the variant', async () => {
    const rotated = await attachAvatar(await makeRotatedJpeg(640, 480), 'portrait.jpg');
    expect(await imageInfo(await rotated.avatar.variant('thumb').download())).toMatchObject({ width: 75, height: 100 });
    const private_ = await attachAvatar(await makeJpegWithExif(), 'gps.jpg');
    expect((await imageInfo(await private_.avatar.blob().then((b) => b!.download()))).exif).toBe(true);
    expect((await imageInfo(await private_.avatar.variant({ resizeToLimit: [32, 32] }).download())).exif).toBe(false);
  });

  it.each([
    ['a decompression bomb', () => makePixelBomb(), 'bomb.png', 'too_many_pixels'],
    ['a truncated JPEG', async () => truncate(await makeImage(400, 300, 'jpeg')), 'half.jpg', 'unreadable'],
  ])('refuses %s with a typed error and stores nothing', async (_label, make, filename, reason) => {
    const member = await attachAvatar(await make(), filename);
    const before = { records: await rows(VariantRecord), files: (await filesUnder(g.root)).length };
    const error = await member.avatar.variant('thumb').processed().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProcessingError);
    expect(error).toMatchObject({ reason });
    expect({ records: await rows(VariantRecord), files: (await filesUnder(g.root)).length }).toEqual(before);
  });

  it('refuses variants of what is not an image, and unknown names, with typed errors', async () => {
    const member = await g.newMember();
    await member.report.attach({ io: makePdf([{ width: 200, height: 100 }]), filename: 'report.pdf' });
    const pdf = (await member.report.blob())!;
    expect(pdf.variable()).toBe(false);
    expect(() => pdf.variant({ resizeToLimit: [10, 10] })).toThrow(InvariableError);
    await expect(member.report.variant('cover').processed()).rejects.toBeInstanceOf(InvariableError);
    expect(() => member.avatar.variant('poster')).toThrow(/no variant "poster". Declared: thumb, card/);
    expect(() => member.avatar.variant({ resize: '10x10' } as never)).toThrow(ArgumentError);
  });

  it('refuses a class that declares a transformation outside the allowlist, when it is declared', () => {
    expect(() => {
      @Entity()
      class Bad {
        @PrimaryGeneratedColumn() id!: number;
        @hasOneAttached({ variants: { evil: { resizeToLimit: [10, 10], colorspace: 'x' } as never } }) declare avatar: AttachedOne;
      }
      return Bad;
    }).toThrow(/Bad.avatar variant "evil": "colorspace" is not an allowed transformation/);
  });

  it('makes one variant per image of a has-many', async () => {
    const member = await g.newMember();
    await member.photos.attach([await makeImage(300, 200, 'png'), await makeImage(100, 300, 'png')]);
    const squares = await member.photos.variants('square');
    const sizes = await Promise.all(squares.map(async (v) => imageInfo(await v.download())));
    expect(sizes.map((s) => [s.width, s.height])).toEqual([[64, 64], [64, 64]]);
  });
});

describe('made once, and preprocessed through signed jobs', () => {
  it('five concurrent requests in one process share one making: one record, one image', async () => {
    const member = await attachAvatar(await makeImage(900, 600, 'png'), 'five.png');
    const before = await rows(VariantRecord);
    const images = await Promise.all(Array.from({ length: 5 }, () => member.avatar.variant({ resizeToLimit: [64, 64] }).image()));
    expect(new Set(images.map((image) => image.id)).size).toBe(1);
    expect(await rows(VariantRecord)).toBe(before + 1);
  });

  it('a preprocessed variant that cannot be made emits preprocess:failed and is not retried', async () => {
    const failed: PreprocessFailed[] = [];
    g.attache.on('preprocess:failed', (event) => failed.push(event));
    const member = await attachAvatar(truncate(await makeImage(400, 300, 'jpeg')), 'cut.jpg');
    expect(failed.map((event) => [event.blobId, event.reason])).toEqual([[(await member.avatar.blob())!.id, 'unreadable']]);
  });

  it('a preprocess job whose variation is forged, or signed for another blob, is refused', async () => {
    const member = await attachAvatar(await makeImage(100, 100, 'png'), 'job.png');
    const blob = (await member.avatar.blob())!;
    const forged = { type: 'preprocess' as const, blobId: blob.id, variation: Buffer.from(JSON.stringify({ b: blob.id, t: { resizeToLimit: [9, 9] } })).toString('base64url') };
    await expect(g.attache.perform(forged)).rejects.toBeInstanceOf(InvalidSignatureError);
    const elsewhere = Variation.of({ resizeToLimit: [9, 9] }).sign(runtimeOf(g.attache).verifier, String(Number(blob.id) + 1));
    await expect(g.attache.perform({ type: 'preprocess', blobId: blob.id, variation: elsewhere })).rejects.toBeInstanceOf(InvalidSignatureError);
    await g.attache.perform({ type: 'preprocess', blobId: blob.id, variation: Variation.of({ resizeToLimit: [9, 9] }).sign(runtimeOf(g.attache).verifier, blob.id) });
    expect(await blob.variant({ resizeToLimit: [9, 9] }).isProcessed()).toBe(true);
  });
});

describe('purging the original', () => {
  it('removes its variant records, their image blobs and every stored file', async () => {
    const member = await attachAvatar(await makeImage(640, 480, 'png'), 'gone.png');
    const original = (await member.avatar.blob())!;
    const images = [await member.avatar.variant('thumb').image(), await member.avatar.variant('card').image()];
    await member.avatar.purge();
    expect(await g.db.dataSource.getRepository(VariantRecord).countBy({ blobId: original.id })).toBe(0);
    for (const blob of [original, ...images]) {
      expect(await g.db.dataSource.getRepository(Blob).findOneBy({ id: blob.id })).toBeNull();
      expect(await g.attache.service('local').exists(blob.key)).toBe(false);
    }
    expect(await g.db.dataSource.getRepository(Attachment).countBy({ recordType: 'ActiveStorage::VariantRecord' })).toBe(await rows(VariantRecord));
  });
});

describe('withAttached(records, name, { variants: true })', () => {
  it('loads N records\' variant records and images in a constant number of queries; the variants then answer without querying', async () => {
    const members: Member[] = [];
    for (let i = 0; i < 6; i++) {
      const member = await g.newMember(`batch-${i}`);
      if (i % 2 === 0) {
        await member.avatar.attach({ io: await makeImage(200 + i, 100, 'png'), filename: `m${i}.png` });
        await member.avatar.variant('thumb').processed();
      }
      members.push(member);
    }
    await g.attache.drain();
    const loaded = await g.db.dataSource.getRepository(Member).findBy(members.map((m) => ({ id: m.id })));
    const { queries: eager } = await countQueries(g.db, () => g.attache.withAttached(loaded, 'avatar', { variants: true }));
    expect(eager.length).toBeLessThanOrEqual(4);
    const withAvatar: Member[] = [];
    for (const member of loaded) if (await member.avatar.attached()) withAvatar.push(member);
    const { result: urls, queries: after } = await countQueries(g.db, () => Promise.all(withAvatar.map((m) => m.avatar.variant('thumb').url())));
    expect(urls).toHaveLength(3);
    const { result: processed } = await countQueries(g.db, () => Promise.all(withAvatar.map((m) => m.avatar.variant('card').isProcessed())));
    expect(processed).toEqual([true, true, true]);
    expect(after).toEqual([]);
  });
});
