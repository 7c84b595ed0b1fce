import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { FileTooLargeError, IntegrityError } from './errors.ts';

/** The Rails checksum format: base64 of the MD5 digest. */
export function md5Base64(data: Uint8Array | string): string {
  return createHash('md5').update(data).digest('base64');
}

export interface MeasureOptions {
  /** Fail with FileTooLargeError once more than this many bytes pass. */
  maxByteSize?: number;
}

/**
 * Invariant: byte size and checksum are computed while streaming, here and nowhere else.
 * A pass-through that hashes (MD5, base64) and counts what flows through it.
 * `checksum` and `byteSize` are final once the stream has ended.
 */
export class Measure extends Transform {
  byteSize = 0;
  private readonly hash: Hash = createHash('md5');
  private digest: string | undefined;

  constructor(private readonly options: MeasureOptions = {}) {
    super();
  }

  get checksum(): string {
    this.digest ??= this.hash.digest('base64');
    return this.digest;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.byteSize += chunk.length;
    const max = this.options.maxByteSize;
    if (max !== undefined && this.byteSize > max) {
      done(FileTooLargeError.exceeds(max, 'the allowed size'));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }
}

/**
 * A pass-through that checks, at the end of the stream, that the bytes have the expected
 * checksum and size; otherwise the stream errors with IntegrityError. It holds back the last
 * chunk until the check passes, so a reader of altered bytes never receives a complete file.
 */
export class Verify extends Measure {
  private held: Buffer | null = null;

  constructor(private readonly key: string, private readonly expected: { checksum?: string | null; byteSize?: number }) {
    super();
  }

  override _transform(chunk: Buffer, encoding: BufferEncoding, done: TransformCallback): void {
    super._transform(chunk, encoding, (error, data: Buffer | undefined) => {
      if (error) return done(error);
      const previous = this.held;
      this.held = data ?? null;
      if (previous) done(null, previous);
      else done();
    });
  }

  override _flush(done: TransformCallback): void {
    const { checksum, byteSize } = this.expected;
    if (byteSize !== undefined && byteSize !== this.byteSize) return done(IntegrityError.sizeMismatch(this.key, byteSize, this.byteSize));
    if (checksum && checksum !== this.checksum) return done(IntegrityError.checksumMismatch(this.key));
    if (this.held) done(null, this.held);
    else done();
  }
}
