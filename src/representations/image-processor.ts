import type { Sharp } from 'sharp';
import { ProcessingError, type ProcessingFailure } from '../core/errors.ts';
import { encoderFor } from './formats.ts';
import { loadSharp, openImage } from './sharp.ts';
import type { Transformations } from './transformations.ts';
import type { Variation } from './variation.ts';

/** Limits every decode honours. */
export interface ImageLimits {
  /** Largest input in pixels (width × height); a larger image is refused before it is decoded. */
  maxInputPixels: number;
  /** Seconds one transformation may run. */
  timeout: number;
}

/** A transformed image, encoded. */
export interface TransformedImage {
  data: Buffer;
  width: number;
  height: number;
  contentType: string;
}

type Step = [name: keyof Transformations, argument: unknown];
const ENCODER_OPTIONS = new Set<string>(['quality', 'strip', 'saver']);

/** Originals up to this size are transformed from memory; larger ones from a verified temporary file. */
export const IN_MEMORY_ORIGINAL = 16 * 1024 * 1024;

/**
 * Applies a variation to an image (a file path, or its bytes) with sharp: EXIF orientation first (as Rails'
 * processors do), then each transformation in the declared order, then the encoder. EXIF and XMP
 * are never copied to the output. One transformation runs as one pipeline; several run one
 * after another through raw pixels, so their order holds. Throws ProcessingError (unreadable,
 * too_many_pixels, transform_failed, timeout) with sharp's error as the cause.
 */
export async function transformImage(input: string | Buffer, variation: Variation, limits: ImageLimits): Promise<TransformedImage> {
  const steps = (Object.entries(variation.transformations) as Step[]).filter(([name]) => !ENCODER_OPTIONS.has(name));
  try {
    let image = await openImage(input, { limitInputPixels: limits.maxInputPixels, autoOrient: true, failOn: 'warning' });
    for (const [index, step] of steps.entries()) {
      image = await apply(image, step);
      if (index < steps.length - 1) image = await rawStage(image, limits);
    }
    return await encode(image.timeout({ seconds: limits.timeout }), variation);
  } catch (error) {
    throw processingError(error);
  }
}

/** Materializes the pixels so the next transformation sees this one's result, whatever sharp's internal order. */
async function rawStage(image: Sharp, limits: ImageLimits): Promise<Sharp> {
  const { data, info } = await image.timeout({ seconds: limits.timeout }).raw().toBuffer({ resolveWithObject: true });
  return openImage(data, { raw: { width: info.width, height: info.height, channels: info.channels }, limitInputPixels: limits.maxInputPixels });
}

async function apply(image: Sharp, [name, argument]: Step): Promise<Sharp> {
  const sharp = await loadSharp();
  const [width, height, options = {}] = (Array.isArray(argument) ? argument : []) as [number, number, Record<string, unknown>?];
  switch (name) {
    case 'resizeToLimit':
      return image.resize(width, height, { fit: 'inside', withoutEnlargement: true });
    case 'resizeToFit':
      return image.resize(width, height, { fit: 'inside' });
    case 'resizeToFill': {
      const crop = options['crop'];
      const position = crop === 'attention' ? sharp.strategy.attention : crop === 'entropy' ? sharp.strategy.entropy : 'centre';
      return image.resize(width, height, { fit: 'cover', position });
    }
    case 'resizeAndPad': {
      // Rails' default pad is transparent; a given [r, g, b] is opaque unless it has an alpha.
      const [r = 0, g = 0, b = 0, alpha = 255] = (options['background'] as number[] | undefined) ?? [0, 0, 0, 0];
      return image.resize(width, height, { fit: 'contain', background: { r, g, b, alpha: alpha / 255 } });
    }
    case 'crop': {
      const [left, top, cropWidth, cropHeight] = argument as [number, number, number, number];
      return image.extract({ left, top, width: cropWidth, height: cropHeight });
    }
    case 'rotate':
      return image.rotate(argument as number);
    default:
      return image;
  }
}

/** The encoder and its options: quality where the format has one; the ICC profile kept only with `strip: false`. */
async function encode(image: Sharp, variation: Variation): Promise<TransformedImage> {
  const { quality: topQuality, strip: topStrip, saver } = variation.transformations;
  const quality = saver?.quality ?? topQuality;
  const strip = saver?.strip ?? topStrip;
  const encoder = encoderFor(variation.formatName) ?? { sharp: 'png' as const, contentType: 'image/png' };
  const lossy = encoder.sharp === 'jpeg' || encoder.sharp === 'webp' || encoder.sharp === 'avif' || encoder.sharp === 'tiff';
  let output = image.toFormat(encoder.sharp, lossy && quality !== undefined ? { quality } : {});
  if (strip === false) output = output.keepIccProfile();
  const { data, info } = await output.toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, contentType: encoder.contentType };
}

/** sharp reports failures as plain Errors; this names the reason a caller can act on. */
export function processingError(error: unknown): ProcessingError {
  if (error instanceof ProcessingError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const reason: ProcessingFailure = /pixel limit/i.test(message)
    ? 'too_many_pixels'
    : /timeout/i.test(message)
      ? 'timeout'
      : /unsupported image format|premature end|corrupt|truncated|invalid|not a known file format|VipsForeignLoad|is blocked/i.test(message)
        ? 'unreadable'
        : 'transform_failed';
  const text: Partial<Record<ProcessingFailure, string>> = {
    unreadable: 'The image cannot be read: it is truncated, corrupt or of a format attache does not decode.',
    too_many_pixels: 'The image has more pixels than maxInputPixels allows (a decompression bomb is never decoded).',
    timeout: 'Transforming the image took longer than the timeout.',
    transform_failed: 'The image could not be transformed (for example, a crop outside the image).',
  };
  return new ProcessingError(reason, text[reason] ?? 'The image could not be processed.', { cause: error });
}
