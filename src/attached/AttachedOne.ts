import type { Readable } from 'node:stream';
import type { Attachment } from '../records/Attachment.ts';
import type { Blob } from '../records/Blob.ts';
import { FileNotFoundError } from '../core/errors.ts';
import { Attached } from './Attached.ts';
import { downloadVerified, streamLater } from '../records/blob-io.ts';
import type { BlobUrlOptions } from '../records/blob-urls.ts';
import type { AttachInput } from './input.ts';
import type { AttachOptions } from './prepare.ts';
import type { Representation } from '../records/runtime.ts';
import type { Transformations } from '../representations/transformations.ts';
import { namedVariant } from './definitions.ts';

/** The accessor behind `@hasOneAttached()`: `await user.avatar.attach(file)`. */
export class AttachedOne extends Attached {
  /**
   * Attaches one file, replacing the current one (the old blob is purged after commit per `dependent`).
   * On an unsaved record the file is staged and stored when the record is saved. An existing blob
   * on another service is refused (AttachmentError) unless `{ copy: true }`.
   */
  async attach(input: AttachInput, options?: AttachOptions): Promise<void> {
    await this.attachInputs([input], options);
  }

  /** The attachment row, or null. */
  async attachment(): Promise<Attachment | null> {
    return (await this.load())[0] ?? null;
  }

  /** The attached blob, or null. */
  async blob(): Promise<Blob | null> {
    return (await this.loadBlobs())[0] ?? null;
  }

  /** The file's bytes, verified against the stored checksum. FileNotFoundError when nothing is attached. */
  async download(): Promise<Buffer> {
    return downloadVerified(this.runtime(), await this.requireBlob());
  }

  /** A signed URL serving the file (see Blob#url). FileNotFoundError when nothing is attached. */
  async url(options?: BlobUrlOptions): Promise<string> {
    return (await this.requireBlob()).url(options);
  }

  /** The attached blob's signed id (see Blob#signedId). FileNotFoundError when nothing is attached. */
  async signedId(options?: { expiresIn?: number }): Promise<string> {
    return (await this.requireBlob()).signedId(options);
  }

  /**
   * A variant of the attached image: a named one (`variant('thumb')`, declared with `variants`)
   * or `variant({ resizeToLimit: [50, 50] })`. Answers at once; the blob is loaded on first use.
   * Throws ArgumentError (an unknown name, a transformation outside the allowlist) now, and
   * InvariableError / FileNotFoundError when it is used.
   */
  variant(variant: string | Transformations): Representation {
    return this.runtime().representations.later('variant', () => this.requireBlob(), this.transformationsOf(variant));
  }

  /** A preview of the attached PDF or video (first page, a frame), transformed. See variant(). */
  preview(variant: string | Transformations): Representation {
    return this.runtime().representations.later('preview', () => this.requireBlob(), this.transformationsOf(variant));
  }

  /** A preview when the attached file is previewable, else a variant. See variant(). */
  representation(variant: string | Transformations): Representation {
    return this.runtime().representations.later('representation', () => this.requireBlob(), this.transformationsOf(variant));
  }

  private transformationsOf(variant: string | Transformations): Transformations {
    return typeof variant === 'string' ? namedVariant(this.definition, variant).transformations : variant;
  }

  private async requireBlob(): Promise<Blob> {
    const blob = await this.blob();
    if (!blob) throw new FileNotFoundError(`Nothing is attached as ${this.name}.`);
    return blob;
  }

  /** A stream of the file's bytes; it errors with IntegrityError if they were altered in storage. */
  stream(): Readable {
    return streamLater(this.runtime(), () => this.blob());
  }
}
