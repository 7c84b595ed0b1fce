import { mkdir, open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { ByteCounter } from '../../core/checksum.ts';
import { AttacheError, type StorageAccessError } from '../../core/errors.ts';
import { InlineMd5, md5Hasher, type Md5Hasher } from '../../core/md5-worker.ts';
import type { DiskLayout } from './paths.ts';

type Fail = (action: string, cause: unknown) => StorageAccessError;

/** Bytes per write(2): source chunks (64 KiB from a socket or file) are gathered into blocks this big. */
export const WRITE_BLOCK = 1024 * 1024;
/** Blocks per write in rotation: one filling while the others are written and hashed. */
const BLOCKS_PER_WRITE = 4;
/** Idle blocks kept for the next writes (each WRITE_BLOCK bytes). */
const POOL_LIMIT = 8;
const idle: Buffer[] = [];

export interface WriteLimits {
  /** Fail with FileTooLargeError once more bytes than this arrive. */
  maxByteSize?: number;
  /** The body's size when known beforehand (declared, or a Uint8Array's): picks the MD5 hasher. */
  expectedBytes?: number;
}

export interface Written {
  checksum: string;
  byteSize: number;
}

/**
 * Streams source into a new temp file (`wx`: never an existing one) in WRITE_BLOCK writes, while
 * the MD5 runs on a worker thread reading the same blocks in place (shared memory, no copy), so the
 * event loop only copies bytes once. Returns the measured size and base64 MD5. The body stream's
 * own error and FileTooLargeError surface unchanged; a file error becomes StorageAccessError.
 * The caller removes the temp file on failure.
 */
export async function writeTemp(layout: DiskLayout, temp: string, source: Readable, limits: WriteLimits, fail: Fail): Promise<Written> {
  const handle = await openTemp(layout, temp, fail);
  const writer = new BlockWriter(handle, limits.expectedBytes === undefined ? undefined : md5Hasher(limits.expectedBytes), fail);
  try {
    const counter = new ByteCounter(limits.maxByteSize);
    for await (const raw of source as AsyncIterable<Buffer | string>) {
      const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
      counter.add(chunk.length);
      await writer.add(chunk);
    }
    return { checksum: await writer.finish(), byteSize: counter.byteSize };
  } finally {
    await writer.release();
    await handle.close().catch(() => undefined);
  }
}

/**
 * Gathers bytes into pooled shared blocks; each full block is hashed (in place, on the worker) and
 * written at its position, one write after another, while the next block fills.
 */
class BlockWriter {
  readonly #blocks: Array<{ buffer: Buffer; ready: Promise<void> }> = [];
  #current = 0;
  #filled = 0;
  #position = 0;
  #hasher: Md5Hasher | undefined;
  /** The latest write: writes go one at a time (concurrent writes to one file contend for its inode lock). */
  #lastWrite: Promise<void> = Promise.resolve();

  constructor(private readonly handle: FileHandle, hasher: Md5Hasher | undefined, private readonly fail: Fail) {
    this.#hasher = hasher;
  }

  async add(chunk: Buffer): Promise<void> {
    for (let offset = 0; offset < chunk.length; ) {
      const block = await this.#block();
      const copied = chunk.copy(block, this.#filled, offset);
      offset += copied;
      this.#filled += copied;
      if (this.#filled === WRITE_BLOCK) this.#flush(false);
    }
  }

  /** Writes the rest, waits for every write and returns the digest. */
  async finish(): Promise<string> {
    if (this.#filled > 0) this.#flush(true);
    for (const { ready } of this.#blocks) await ready;
    return (this.#hasher ??= new InlineMd5()).digest();
  }

  /** Waits for writes and reads in flight (they use the blocks), then pools the blocks; drops an unfinished hash. */
  async release(): Promise<void> {
    await Promise.allSettled(this.#blocks.map((block) => block.ready));
    this.#hasher?.destroy();
    for (const { buffer } of this.#blocks.splice(0)) if (idle.length < POOL_LIMIT) idle.push(buffer);
  }

  /** The block to fill now: the current one, or the next in rotation once its write and hash are done. */
  async #block(): Promise<Buffer> {
    if (this.#filled > 0 || this.#current < this.#blocks.length) {
      const slot = this.#blocks[this.#current]!;
      if (this.#filled === 0) await slot.ready;
      return slot.buffer;
    }
    const buffer = idle.pop() ?? Buffer.from(new SharedArrayBuffer(WRITE_BLOCK));
    this.#blocks.push({ buffer, ready: Promise.resolve() });
    return buffer;
  }

  #flush(last: boolean): void {
    const slot = this.#blocks[this.#current]!;
    const view = slot.buffer.subarray(0, this.#filled);
    // Unknown size: a body that ends within its first block is small, so it is hashed inline; else on the worker.
    const hasher = (this.#hasher ??= last && this.#position === 0 ? new InlineMd5() : md5Hasher());
    hasher.update(view);
    const position = this.#position;
    const written = (this.#lastWrite = this.#lastWrite.then(() => this.#write(view, position)));
    slot.ready = Promise.all([written, hasher.settled()]).then(() => undefined);
    slot.ready.catch(() => undefined); // awaited later; not an unhandled rejection meanwhile
    this.#position += view.length;
    this.#filled = 0;
    this.#current = (this.#current + 1) % BLOCKS_PER_WRITE;
  }

  async #write(view: Buffer, position: number): Promise<void> {
    try {
      for (let done = 0; done < view.length; ) done += (await this.handle.write(view, done, view.length - done, position + done)).bytesWritten;
    } catch (error) {
      throw error instanceof AttacheError ? error : this.fail('write a file', error);
    }
  }
}

async function openTemp(layout: DiskLayout, temp: string, fail: Fail): Promise<FileHandle> {
  try {
    await mkdir(layout.tempDir(), { recursive: true });
    return await open(temp, 'wx');
  } catch (error) {
    throw fail('create a temporary file', error);
  }
}
