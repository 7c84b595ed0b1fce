import type { Blob } from '../records/Blob.ts';
import { StoredRepresentation, type RepresentationKit } from './Variant.ts';
import type { Variation } from './variation.ts';

/**
 * A preview of a PDF or video (Rails' ActiveStorage::Preview): the previewer's image is stored
 * once as the blob's `preview_image`, and each preview is a variant of that image.
 */
export class Preview extends StoredRepresentation {
  constructor(protected readonly kit: RepresentationKit, readonly blob: Blob, readonly variation: Variation) {
    super();
  }

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

  /** Rails: `preview_image.variant(variation)`, i.e. the variation with the preview image's default format. */
  private variationOf(preview: Blob): Variation {
    return this.variation.defaultTo(this.kit.defaultFormat(preview));
  }
}
