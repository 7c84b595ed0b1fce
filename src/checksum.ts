import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { FileTooLargeError } from './errors.ts';

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
