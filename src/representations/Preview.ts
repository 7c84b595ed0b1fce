import type { Blob } from '../records/Blob.ts';
import type { BlobUrlOptions } from '../records/blob-urls.ts';
import type { Representation } from '../records/runtime.ts';
import { representationUrl, type RepresentationKit } from './Variant.ts';
import type { Variation } from './variation.ts';

/**
 * A preview of a PDF or video (Rails' ActiveStorage::Preview): the previewer's image is stored
 * once as the blob's `preview_image`, and each preview is a variant of that image.
 */
export class Preview implements Representation {
  constructor(private readonly kit: RepresentationKit, readonly blob: Blob, readonly variation: Variation) {}

  async processed(): Promise<this> {
    await this.image();
    return this;
  }

  async isProcessed(): Promise<boolean> {
    const preview = await this.kit.maker.storedPreview(this.blob);
    return preview !== null && (await this.kit.maker.hasVariant(preview, this.variationOf(preview)));
  }

  /** The preview's variant image (the preview image is drawn first when missing). */
  async image(): Promise<Blob> {
    const preview = await this.kit.maker.preview(this.blob);
    return this.kit.maker.variant(preview, this.variationOf(preview));
  }

  async url(options?: BlobUrlOptions): Promise<string> {
    return (await this.image()).url(options);
  }

  async download(): Promise<Buffer> {
    return (await this.image()).download();
  }

  async redirectUrl(options: { expiresIn?: number } = {}): Promise<string> {
    return representationUrl(this.kit.rt, 'redirect', this.blob, this.variation, options.expiresIn);
  }

  async proxyUrl(options: { expiresIn?: number } = {}): Promise<string> {
    return representationUrl(this.kit.rt, 'proxy', this.blob, this.variation, options.expiresIn);
  }

  /** Rails: `preview_image.variant(variation)`, i.e. the variation with the preview image's default format. */
  private variationOf(preview: Blob): Variation {
    return this.variation.defaultTo(this.kit.defaultFormat(preview));
  }
}
