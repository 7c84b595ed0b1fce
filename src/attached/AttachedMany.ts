import type { Attachment } from '../records/Attachment.ts';
import type { Blob } from '../records/Blob.ts';
import { Attached } from './Attached.ts';
import type { AttachInput } from './input.ts';
import type { AttachOptions } from './prepare.ts';

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
}
