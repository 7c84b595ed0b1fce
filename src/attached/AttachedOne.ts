import type { Readable } from 'node:stream';
import type { Attachment } from '../records/Attachment.ts';
import type { Blob } from '../records/Blob.ts';
import { FileNotFoundError } from '../core/errors.ts';
import { Attached } from './Attached.ts';
import { downloadVerified, streamLater } from '../records/blob-io.ts';
import type { BlobUrlOptions } from '../records/blob-urls.ts';
import type { AttachInput } from './input.ts';
import type { AttachOptions } from './prepare.ts';

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
