import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { ProcessingError } from '../../src/index.ts';
import { transformImage } from '../../src/representations/image-processor.ts';
import { loadSharp } from '../../src/representations/sharp.ts';
import { Variation } from '../../src/representations/variation.ts';
import { imageInfo, makeImage } from '../support/media.ts';

const limits = { maxInputPixels: 64_000_000, timeout: 30 };
const png = { value: 'png', ruby: 'string' } as const;
const transform = async (input: Buffer, transformations: Record<string, unknown>) => {
  const made = await transformImage(input, Variation.of(transformations).defaultTo(png), limits);
  return { ...(await imageInfo(made.data)), contentType: made.contentType, bytes: made.data.length, data: made.data };
};

describe('transformImage (sharp)', () => {
  it('applies transformations in the declared order', async () => {
    const image = await makeImage(400, 200, 'png');
    expect(await transform(image, { crop: [0, 0, 200, 200], resizeToLimit: [100, 100] })).toMatchObject({ width: 100, height: 100 });
    expect(await transform(image, { resizeToLimit: [100, 100], crop: [0, 0, 50, 50] })).toMatchObject({ width: 50, height: 50 });
    expect(await transform(image, { rotate: 90, resizeToFit: [100, 100] })).toMatchObject({ width: 50, height: 100 });
  });

  it.each([
    ['resizeToLimit never enlarges', { resizeToLimit: [1000, 1000] }, [300, 150]],
    ['resizeToFit enlarges', { resizeToFit: [600, 600] }, [600, 300]],
    ['resizeToFill covers exactly', { resizeToFill: [100, 100, { crop: 'attention' }] }, [100, 100]],
    ['resizeAndPad pads to exactly', { resizeAndPad: [100, 100, { background: [255, 255, 255] }] }, [100, 100]],
  ])('%s', async (_label, transformations, [width, height]) => {
    expect(await transform(await makeImage(300, 150, 'png'), transformations)).toMatchObject({ width, height });
  });

  it.each([
    ['webp', 'image/webp'],
    ['jpg', 'image/jpeg'],
    ['avif', 'image/avif'],
    ['gif', 'image/gif'],
    ['tiff', 'image/tiff'],
  ])('writes %s as %s', async (format, contentType) => {
    expect(await transform(await makeImage(64, 64, 'png'), { format })).toMatchObject({ contentType });
  });

  it('passes quality to lossy encoders', async () => {
    const photo = await sharp(Buffer.from(Array.from({ length: 256 * 256 * 3 }, (_, i) => (i * 7919) % 251)), { raw: { width: 256, height: 256, channels: 3 } }).png().toBuffer();
    const low = await transform(photo, { format: 'jpeg', quality: 10 });
    const high = await transform(photo, { format: 'jpeg', saver: { quality: 95 } });
    expect(low.bytes).toBeLessThan(high.bytes);
  });

  it('refuses an image over maxInputPixels before decoding it', async () => {
    const error = await transformImage(await makeImage(2000, 2000, 'png'), Variation.of({}).defaultTo(png), { ...limits, maxInputPixels: 1_000_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProcessingError);
    expect(error).toMatchObject({ reason: 'too_many_pixels' });
  });

  it('decodes only the allowed formats: SVG (librsvg) is blocked for the whole process once attache loaded sharp', async () => {
    await loadSharp();
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>');
    await expect(sharp(svg).metadata()).rejects.toThrow();
    await expect(transformImage(svg, Variation.of({}).defaultTo(png), limits)).rejects.toMatchObject({ reason: 'unreadable' });
    expect((await sharp(await makeImage(8, 8, 'png')).metadata()).format).toBe('png');
  });

  it('a crop outside the image is a typed error', async () => {
    await expect(transform(await makeImage(50, 50, 'png'), { crop: [40, 40, 20, 20] })).rejects.toMatchObject({ code: 'E_PROCESSING', reason: 'transform_failed' });
  });
});
