import type { Attachment } from '../records/Attachment.ts';
import type { Blob } from '../records/Blob.ts';
import { Attached } from './Attached.ts';
import type { AttachInput } from './input.ts';
import type { AttachOptions } from './prepare.ts';
import type { Representation } from '../records/runtime.ts';
import type { Transformations } from '../representations/transformations.ts';
import { namedVariant } from './definitions.ts';

/** The accessor behind `@hasManyAttached()`: `await user.documents.attach([a, b])`. */
export class AttachedMany extends Attached {
  /** Adds files (or existing blobs) to the collection. On an unsaved record they are staged until save. */
  async attach(inputs: AttachInput | AttachInput[], options?: AttachOptions): Promise<void> {
    await this.attachInputs(Array.isArray(inputs) ? inputs : [inputs], options);
  }

  /** The attachment rows, oldest first. */
  async attachments(): Promise<Attachment[]> {
    return [...(await this.load())];
  }

  /** The attached blobs, oldest first. */
  async blobs(): Promise<Blob[]> {
    return this.loadBlobs();
  }

  /** How many files are attached. */
  async count(): Promise<number> {
    return (await this.load()).length;
  }

  /**
   * One variant per attached image, oldest first: a named one (`variants('thumb')`) or
   * `variants({ resizeToLimit: [50, 50] })`. Throws ArgumentError, InvariableError.
   */
  async variants(variant: string | Transformations): Promise<Representation[]> {
    const transformations = this.transformationsOf(variant);
    return (await this.blobs()).map((blob) => blob.variant(transformations));
  }

  /** One preview per attached PDF or video, oldest first. Throws UnpreviewableError. */
  async previews(variant: string | Transformations): Promise<Representation[]> {
    const transformations = this.transformationsOf(variant);
    return (await this.blobs()).map((blob) => blob.preview(transformations));
  }

  /** One representation per attached file, oldest first: a preview where previewable, else a variant. Throws UnrepresentableError. */
  async representations(variant: string | Transformations): Promise<Representation[]> {
    const transformations = this.transformationsOf(variant);
    return (await this.blobs()).map((blob) => blob.representation(transformations));
  }

  private transformationsOf(variant: string | Transformations): Transformations {
    return typeof variant === 'string' ? namedVariant(this.definition, variant).transformations : variant;
  }
}
