import { Readable } from 'node:stream';
import { ByteCounter } from '../../core/checksum.ts';
import { ArgumentError } from '../../core/errors.ts';
import { INLINE_MD5_LIMIT } from '../../core/md5-worker.ts';

/** One part of a body: its bytes (a pooled buffer or a view of the caller's Uint8Array) and whether it is the last. */
export interface Part {
  bytes: Buffer;
  last: boolean;
  /** Gives a pooled buffer back for the next part; call once the part was sent and hashed. */
  release(): void;
}

/**
 * Part-sized buffers reused for the parts of one upload, so an upload allocates at most
 * queueSize + 1 of them however long the body is. They live in SharedArrayBuffers, so the MD5
 * worker reads each part in place (md5-worker.ts) and the bytes are copied once only: from the
 * caller's chunks into the part, which the SDK then signs and writes to the socket as is.
 */
class BufferPool {
  readonly #free: Buffer[] = [];

  constructor(readonly size: number) {}

  take(): Buffer {
    // A body too small for the worker is hashed inline (md5Hasher): a plain buffer is cheaper to get.
    return this.#free.pop() ?? (this.size < INLINE_MD5_LIMIT ? Buffer.allocUnsafe(this.size) : Buffer.from(new SharedArrayBuffer(this.size)));
  }

  give(buffer: Buffer): void {
    this.#free.push(buffer);
  }
}

/**
 * Cuts an upload body into parts of `partSize` bytes (the last one shorter), counting bytes and
 * failing with FileTooLargeError as soon as more than `limit` arrive. A Uint8Array body is cut
 * into views, without a copy. A stream's chunks are copied into pooled part buffers as they
 * arrive, before the next chunk is asked for and before next() returns, so a source may refill
 * its chunk buffer once the chunk was handed over. Whether a
 * part is the last is known when it is returned (the reader looks one chunk ahead), so the
 * caller can check the whole body before that part leaves.
 */
export class PartReader {
  readonly #partSize: number;
  readonly #counter: ByteCounter;
  readonly #bytes: Uint8Array | undefined;
  readonly #chunks: AsyncIterator<unknown> | undefined;
  readonly #pool: BufferPool;
  /** A chunk read ahead, not yet copied into a part. */
  #carry: Buffer | undefined;
  #ended = false;
  /** Where the next view of a Uint8Array body starts. */
  #offset = 0;

  constructor(body: Readable | Uint8Array, options: { partSize: number; limit: number | undefined; knownSize: number | undefined }) {
    this.#partSize = options.partSize;
    this.#counter = new ByteCounter(options.limit);
    this.#pool = new BufferPool(Math.max(1, Math.min(options.partSize, options.knownSize ?? Infinity)));
    if (body instanceof Uint8Array) {
      this.#bytes = body;
      this.#counter.add(body.byteLength);
    } else {
      // A stream that only has pipe() (an old-style stream) is read through wrap().
      const stream = typeof (body as Partial<Readable>)[Symbol.asyncIterator] === 'function' ? body : new Readable().wrap(body);
      this.#chunks = stream[Symbol.asyncIterator]();
    }
  }

  /** The bytes read so far. */
  get byteSize(): number {
    return this.#counter.byteSize;
  }

  /** The next part. After the last one, do not call again. */
  async next(): Promise<Part> {
    if (this.#bytes !== undefined) return this.#view(this.#bytes);
    const buffer = this.#pool.take();
    const release = (): void => this.#pool.give(buffer);
    try {
      const filled = await this.#fill(buffer, Math.min(buffer.length, this.#partSize));
      if (this.#carry === undefined && !this.#ended) await this.#readAhead();
      // The chunk read ahead (or the rest of one cut at the boundary) waits for the next call, while the
      // source may refill its buffer: keep a copy (at most one chunk per part), never the source's bytes.
      if (this.#carry !== undefined) this.#carry = Buffer.from(this.#carry);
      return { bytes: buffer.subarray(0, filled), last: this.#ended && this.#carry === undefined, release };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Stops reading: the source is released (its stream destroyed). */
  async close(): Promise<void> {
    this.#carry = undefined;
    await this.#chunks?.return?.();
  }

  #view(bytes: Uint8Array): Part {
    const start = this.#offset;
    const end = Math.min(bytes.byteLength, start + this.#partSize);
    this.#offset = end;
    return { bytes: Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start), last: end === bytes.byteLength, release: () => undefined };
  }

  /** Copies chunks into `buffer` until `size` bytes are there or the source ends; returns the bytes filled. */
  async #fill(buffer: Buffer, size: number): Promise<number> {
    let filled = 0;
    while (filled < size) {
      if (this.#carry === undefined && !(await this.#readAhead())) break;
      const carry = this.#carry!;
      const taken = Math.min(carry.length, size - filled);
      carry.copy(buffer, filled, 0, taken);
      filled += taken;
      this.#carry = taken < carry.length ? carry.subarray(taken) : undefined;
    }
    return filled;
  }

  /** Reads the next non-empty chunk into #carry; false once the source has ended. */
  async #readAhead(): Promise<boolean> {
    while (!this.#ended) {
      const next = await this.#chunks!.next();
      if (next.done === true) {
        this.#ended = true;
        break;
      }
      const value = next.value;
      const chunk = typeof value === 'string' ? Buffer.from(value) : value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : undefined;
      if (chunk === undefined) throw new ArgumentError('The upload body must yield bytes (Buffer, Uint8Array or string chunks).');
      if (chunk.length === 0) continue;
      this.#counter.add(chunk.length);
      this.#carry = chunk;
      return true;
    }
    return false;
  }

}
