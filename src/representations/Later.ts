import type { Blob } from '../records/Blob.ts';
import type { BlobUrlOptions } from '../records/blob-urls.ts';
import type { Representation } from '../records/runtime.ts';

/**
 * A representation of an accessor's blob, which is loaded on first use: `user.avatar.variant('thumb')`
 * answers at once, and the blob (and its kind) are checked when the representation is used.
 */
export class Later implements Representation {
  private resolved: Promise<Representation> | undefined;

  constructor(private readonly resolve: () => Promise<Representation>) {}

  async processed(): Promise<this> {
    await (await this.target()).processed();
    return this;
  }

  async isProcessed(): Promise<boolean> {
    return (await this.target()).isProcessed();
  }

  async image(): Promise<Blob> {
    return (await this.target()).image();
  }

  async url(options?: BlobUrlOptions): Promise<string> {
    return (await this.target()).url(options);
  }

  async download(): Promise<Buffer> {
    return (await this.target()).download();
  }

  async redirectUrl(options?: { expiresIn?: number }): Promise<string> {
    return (await this.target()).redirectUrl(options);
  }

  async proxyUrl(options?: { expiresIn?: number }): Promise<string> {
    return (await this.target()).proxyUrl(options);
  }

  /** The resolved representation; a failure (nothing attached yet) is not remembered, so a later call tries again. */
  private target(): Promise<Representation> {
    this.resolved ??= this.resolve().catch((error: unknown) => {
      this.resolved = undefined;
      throw error;
    });
    return this.resolved;
  }
}
