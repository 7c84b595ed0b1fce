import { rm } from 'node:fs/promises';
import { ArgumentError, type StorageAccessError } from '../../core/errors.ts';
import { moveIntoPlace } from './paths.ts';

/** Bytes written and verified into a temp file, not yet visible under their key (DiskService#stageUpload). */
export interface StagedUpload {
  /** base64 MD5 of the staged bytes, measured while streaming. */
  readonly checksum: string;
  readonly byteSize: number;
  /**
   * Moves the file into place under its key, replacing any object there. Idempotent once done.
   * Throws StorageAccessError (the temp file is then removed: nothing is left; for instance when
   * discardPendingWrite swept it first), ArgumentError after discard().
   */
  commit(): Promise<void>;
  /** Removes the temp file. Idempotent; a no-op after commit(). Throws StorageAccessError. */
  discard(): Promise<void>;
}

type Fail = (action: string, cause: unknown) => StorageAccessError;

/** A verified temp file and where it goes; the rename is DiskService's one way into place (moveIntoPlace). */
export class StagedFile implements StagedUpload {
  #state: 'staged' | 'committed' | 'discarded' = 'staged';
  #committing: Promise<void> | undefined;

  constructor(
    readonly checksum: string,
    readonly byteSize: number,
    private readonly temp: string,
    private readonly target: string,
    private readonly fail: Fail,
  ) {}

  commit(): Promise<void> {
    if (this.#state === 'discarded' && this.#committing === undefined) {
      return Promise.reject(new ArgumentError('This staged upload was discarded; it cannot be committed.'));
    }
    this.#committing ??= this.#move();
    return this.#committing;
  }

  async discard(): Promise<void> {
    await this.#committing?.catch(() => undefined);
    if (this.#state !== 'staged') return;
    this.#state = 'discarded';
    await rm(this.temp, { force: true }).catch((error: unknown) => Promise.reject(this.fail('remove a staged file', error)));
  }

  async #move(): Promise<void> {
    try {
      await moveIntoPlace(this.temp, this.target);
      this.#state = 'committed';
    } catch (error) {
      this.#state = 'discarded';
      await rm(this.temp, { force: true }).catch(() => undefined);
      throw this.fail('move a file into place', error);
    }
  }

  toJSON(): { checksum: string; byteSize: number } {
    return { checksum: this.checksum, byteSize: this.byteSize };
  }
}
