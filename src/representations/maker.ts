import { ProcessingError, UnpreviewableError } from '../core/errors.ts';
import type { Blob } from '../records/Blob.ts';
import { downloadVerified, openAsFile } from '../records/blob-io.ts';
import { database } from '../records/database.ts';
import type { AttacheRuntime } from '../records/runtime.ts';
import type { BlobFacts, ProcessingContext } from './analyzer.ts';
import type { GenerateOnce } from './generate-once.ts';
import { IN_MEMORY_ORIGINAL, processingError, transformImage } from './image-processor.ts';
import { previewImage, variantImage } from './image-records.ts';
import { storePreviewImage, storeVariantImage } from './image-store.ts';
import { knownPreview, knownVariant, rememberPreview, rememberVariant } from './preload.ts';
import { openImage } from './sharp.ts';
import type { Previewer } from './previewers.ts';
import type { Variation } from './variation.ts';

/**
 * Finds or makes the stored images of representations: a variant's image (the original
 * transformed with sharp) and a preview's image (drawn by a previewer), each made once.
 */
export class ImageMaker {
  constructor(
    private readonly rt: AttacheRuntime,
    private readonly context: ProcessingContext,
    private readonly once: GenerateOnce,
    private readonly previewerFor: (blob: BlobFacts) => Previewer | undefined,
  ) {}

  /** The stored image of the variant `variation` (already given its default format) of `blob`, made now when missing. */
  async variant(blob: Blob, variation: Variation): Promise<Blob> {
    const digest = variation.digest;
    const cached = knownVariant(blob, digest);
    if (cached) return cached;
    const find = this.finder(cached === null, () => variantImage(this.rt.dataSource.manager, blob.id, digest));
    const image = await this.once.once(`attache:variant:${blob.id}:${digest}`, find, async () => {
      // A small original is read into memory (a temporary file costs more than its bytes); every read is checked against its MD5.
      const transform = (input: string | Buffer) => transformImage(input, variation, this.context.limits);
      const made = blob.byteSize <= IN_MEMORY_ORIGINAL ? await transform(await downloadVerified(this.rt, blob)) : await openAsFile(this.rt, blob, transform);
      const facts = { width: made.width, height: made.height };
      const stored = await storeVariantImage(this.rt, blob, digest, { data: made.data, contentType: made.contentType, metadata: facts, extension: variation.formatName });
      return stored ?? (await this.mustFind(find));
    });
    rememberVariant(blob, digest, image);
    return image;
  }

  /** Whether the variant's image is stored (never makes it). */
  async hasVariant(blob: Blob, variation: Variation): Promise<boolean> {
    const cached = knownVariant(blob, variation.digest);
    if (cached !== undefined) return cached !== null;
    return (await this.query(() => variantImage(this.rt.dataSource.manager, blob.id, variation.digest))) !== null;
  }

  /** The stored preview image of `blob`, drawn now when missing. Throws UnpreviewableError when no previewer takes it. */
  async preview(blob: Blob): Promise<Blob> {
    const cached = knownPreview(blob);
    if (cached) return cached;
    const previewer = this.previewerFor(blob);
    if (!previewer) throw new UnpreviewableError(`No previewer can draw a ${blob.contentType ?? 'file'} here (a PDF needs pdftoppm, a video ffmpeg).`);
    const find = this.finder(cached === null, () => previewImage(this.rt.dataSource.manager, blob.id));
    const image = await this.once.once(`attache:preview:${blob.id}`, find, async () => {
      const drawn = await openAsFile(this.rt, blob, (file) => previewer.preview(file, blob, this.context));
      const facts = await imageSize(drawn.data);
      const stored = await storePreviewImage(this.rt, blob, { data: drawn.data, contentType: drawn.contentType, metadata: facts, extension: drawn.extension });
      return stored ?? (await this.mustFind(find));
    });
    rememberPreview(blob, image);
    return image;
  }

  /** The stored preview image, or null (never draws it). */
  async storedPreview(blob: Blob): Promise<Blob | null> {
    const cached = knownPreview(blob);
    if (cached !== undefined) return cached;
    return this.query(() => previewImage(this.rt.dataSource.manager, blob.id));
  }

  /** A lookup that skips its first query when the image is known (preloaded) not to be stored yet. */
  private finder(knownAbsent: boolean, lookup: () => Promise<Blob | null>): () => Promise<Blob | null> {
    let skip = knownAbsent;
    return async () => {
      if (skip) {
        skip = false;
        return null;
      }
      return this.query(lookup);
    };
  }

  private query(lookup: () => Promise<Blob | null>): Promise<Blob | null> {
    return database('look up a stored variant or preview', lookup);
  }

  private async mustFind(find: () => Promise<Blob | null>): Promise<Blob> {
    const found = await find();
    if (!found) throw new ProcessingError('transform_failed', 'Another writer stored this image, but it cannot be found.');
    return found;
  }
}

/** The size of a drawn preview, read from its header; a tool output that is no image we decode is refused here. */
async function imageSize(data: Buffer): Promise<{ width: number; height: number }> {
  try {
    const { width, height } = await (await openImage(data, { limitInputPixels: false })).metadata();
    return { width: width ?? 0, height: height ?? 0 };
  } catch (error) {
    throw processingError(error);
  }
}
