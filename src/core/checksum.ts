import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ArgumentError, FileTooLargeError, IntegrityError } from './errors.ts';

/** The Rails checksum format: base64 of the MD5 digest. */
export function md5Base64(data: Uint8Array | string): string {
  return createHash('md5').update(data).digest('base64');
}

/** Whether a value is a canonical base64 encoding of an MD5 digest (Rails' checksum, Content-MD5). */
export function isBase64Md5(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9+/]{22}==$/.test(value) && Buffer.from(value, 'base64').toString('base64') === value;
}

/** Whether a value is a whole, non-negative number of bytes. */
export function isByteCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** The byte cap of an upload: the smaller of maxByteSize and the declared byteSize. Throws ArgumentError for invalid sizes. */
export function byteLimit(options: { byteSize?: number; maxByteSize?: number }): number | undefined {
  for (const name of ['byteSize', 'maxByteSize'] as const) {
    const value = options[name];
    if (value !== undefined && !isByteCount(value)) throw new ArgumentError(`"${name}" must be a non-negative integer number of bytes.`);
  }
  const limits = [options.byteSize, options.maxByteSize].filter((n): n is number => n !== undefined);
  return limits.length > 0 ? Math.min(...limits) : undefined;
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
