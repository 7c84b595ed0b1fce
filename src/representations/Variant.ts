import type { Blob } from '../records/Blob.ts';
import type { BlobUrlOptions } from '../records/blob-urls.ts';
import type { AttacheRuntime, Representation } from '../records/runtime.ts';
import { signBlobUrlId } from '../records/signed-ids.ts';
import type { FormatChoice } from './formats.ts';
import type { ImageMaker } from './maker.ts';
import type { Variation } from './variation.ts';

/** What variants and previews need from the representations module. */
export interface RepresentationKit {
  readonly rt: AttacheRuntime;
  readonly maker: ImageMaker;
  /** Rails' default variant format of a blob (see defaultVariantFormat). */
  defaultFormat(blob: Blob): FormatChoice;
}

/** What a variant and a preview share: their image, made on first use, serves their bytes and URLs. */
export abstract class StoredRepresentation implements Representation {
  abstract readonly blob: Blob;
  abstract readonly variation: Variation;
  protected abstract readonly kit: RepresentationKit;

  abstract processed(): Promise<this>;
  abstract isProcessed(): Promise<boolean>;
  /** The stored image, made (once, across processes) when missing. */
  abstract image(): Promise<Blob>;

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
}

/**
 * A variant of an image blob, tracked as Rails 6.1+ tracks variants: a row in
 * active_storage_variant_records keyed by the variation digest, its image attached to it.
 */
export class Variant extends StoredRepresentation {
  /** The variation with Rails' default format applied: what the digest and the stored image follow. */
  readonly variation: Variation;

  constructor(protected readonly kit: RepresentationKit, readonly blob: Blob, variation: Variation) {
    super();
    this.variation = variation.defaultTo(kit.defaultFormat(blob));
  }

  /** Rails' variation digest: the `variation_digest` of this variant's record. */
  get digest(): string {
    return this.variation.digest;
  }

  async processed(): Promise<this> {
    await this.image();
    return this;
  }

  isProcessed(): Promise<boolean> {
    return this.kit.maker.hasVariant(this.blob, this.variation);
  }

  image(): Promise<Blob> {
    return this.kit.maker.variant(this.blob, this.variation);
  }

}

/** A representation route URL: the blob's serving id (never attachable) and the variation signed for that blob. */
export function representationUrl(rt: AttacheRuntime, via: 'redirect' | 'proxy', blob: Blob, variation: Variation, expiresIn?: number): string {
  return rt.routes.representation(via, signBlobUrlId(rt, blob, expiresIn), variation.sign(rt.verifier, blob.id), blob.filename);
}
