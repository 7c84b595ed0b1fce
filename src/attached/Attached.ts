import type { Attachment } from '../records/Attachment.ts';
import type { Blob } from '../records/Blob.ts';
import { ConfigurationError } from '../core/errors.ts';
import { asAttacheError, attachToSaved, disposeDetached } from './attach-ops.ts';
import { deleteAttachments, findAttachments, lockAttachment } from '../records/attachment-store.ts';
import { serviceFor, type AttachmentDefinition } from './definitions.ts';
import { normalizeInput, type AttachInput } from './input.ts';
import { recordRef, type RecordRef } from '../records/record-ref.ts';
import { runtimeFor, type AttacheRuntime } from '../records/runtime.ts';
import { stage, stagedChange } from './staged.ts';

/** What AttachedOne and AttachedMany share: the record, its definition and the loaded rows. */
export abstract class Attached {
  /** Loaded attachments (with blobs), or undefined until loaded. */
  protected loaded: Attachment[] | undefined;

  constructor(readonly record: object, readonly definition: AttachmentDefinition) {}

  /** The attachment's name on the record. */
  get name(): string {
    return this.definition.name;
  }

  /** Forgets loaded rows; the next read queries again. Returns this. */
  reset(): this {
    this.loaded = undefined;
    return this;
  }

  /** Sets the loaded rows (used by `withAttached`, so later reads do not query). */
  preload(attachments: Attachment[]): void {
    this.loaded = attachments;
  }

  /** Whether something is attached (or staged on an unsaved record). */
  async attached(): Promise<boolean> {
    if (!this.ref()) return (stagedChange(this.record, this.name)?.inputs.length ?? 0) > 0;
    return (await this.load()).length > 0;
  }

  /** Removes the attachment rows only; blobs and files stay. Idempotent. */
  async detach(): Promise<void> {
    await this.removeRows();
  }

  /** Removes the attachment rows, then purges each blob nothing else is attached to. Idempotent. */
  async purge(): Promise<void> {
    const blobs = await this.removeRows();
    for (const blob of blobs) await this.runtime().purger.purge(blob, 'skip');
  }

  /** Like purge, but the blobs are purged by the job queue. */
  async purgeLater(): Promise<void> {
    await disposeDetached(this.runtime(), { dependent: 'purge_later' }, await this.removeRows());
  }

  protected async attachInputs(inputs: AttachInput[]): Promise<void> {
    const ref = this.ref();
    if (!ref) {
      stage(this.record, this.name, inputs, this.definition.kind === 'one');
      return;
    }
    const rt = this.runtime();
    const normalized = [];
    for (const input of inputs) normalized.push(await normalizeInput(input));
    this.loaded = undefined;
    await attachToSaved(rt, ref, this.definition, serviceFor(rt, this.definition, this.record), normalized);
  }

  protected async load(): Promise<Attachment[]> {
    const ref = this.ref();
    if (!ref) return [];
    this.loaded ??= await findAttachments(this.runtime().dataSource.manager, ref, [this.name]);
    return this.loaded;
  }

  protected async loadBlobs(): Promise<Blob[]> {
    return (await this.load()).map((a) => a.blob).filter((b): b is Blob => b !== undefined);
  }

  protected runtime(): AttacheRuntime {
    const rt = runtimeFor(this.record.constructor);
    if (!rt) throw new ConfigurationError(`No Attache is initialized for ${this.record.constructor.name}: call Attache.init({ dataSource, … }) first.`);
    return rt;
  }

  protected ref(): RecordRef | null {
    return recordRef(this.runtime().dataSource, this.record);
  }

  private async removeRows(): Promise<Blob[]> {
    const ref = this.ref();
    if (!ref) return [];
    try {
      const removed = await this.runtime().dataSource.transaction(async (manager) => {
        await lockAttachment(manager, ref, this.name);
        const rows = await findAttachments(manager, ref, [this.name]);
        await deleteAttachments(manager, rows);
        return rows;
      });
      this.loaded = [];
      return removed.map((a) => a.blob).filter((b): b is Blob => b !== undefined);
    } catch (error) {
      throw asAttacheError(error, `Could not detach ${ref.type}#${this.name}.`);
    }
  }
}
