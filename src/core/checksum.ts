import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ArgumentError, FileTooLargeError, IntegrityError } from './errors.ts';
import { md5Hasher, type Md5Hasher } from './md5-worker.ts';

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
 * Invariant: every write path counts its body's bytes here (Measure, S3's PartReader, Disk's
 * writeTemp), so a body past its limit fails the same way on every service, as soon as it passes.
 */
export class ByteCounter {
  byteSize = 0;

  constructor(private readonly limit: number | undefined) {}

  /** Counts `bytes` more. Throws FileTooLargeError once the total passes the limit. */
  add(bytes: number): void {
    this.byteSize += bytes;
    if (this.limit !== undefined && this.byteSize > this.limit) throw FileTooLargeError.exceeds(this.limit, 'the allowed size');
  }
}

/**
 * Invariant: what a write path measured (MD5 and size) is checked against what its caller declared
 * here, on every service. A body longer than declared already failed its ByteCounter. Throws
 * IntegrityError. A checksum not known yet (`undefined`) is checked by a later call.
 */
export function assertDeclared(key: string, measured: { checksum?: string | undefined; byteSize: number }, declared: { checksum?: string | undefined; byteSize?: number | undefined }): void {
  if (measured.checksum !== undefined && declared.checksum !== undefined && declared.checksum !== measured.checksum) throw IntegrityError.checksumMismatch(key);
  if (declared.byteSize !== undefined && measured.byteSize < declared.byteSize) throw IntegrityError.sizeMismatch(key, declared.byteSize, measured.byteSize);
}

/**
 * A pass-through that hashes (MD5, base64, on the event loop) and counts what flows through it,
 * for reads and small bodies; large uploads hash on the MD5 worker (md5-worker.ts) instead.
 * `checksum` and `byteSize` are final once the stream has ended.
 */
export class Measure extends Transform {
  private readonly counter: ByteCounter;
  private readonly hash: Hash = createHash('md5');
  private digest: string | undefined;

  constructor(options: MeasureOptions = {}) {
    super();
    this.counter = new ByteCounter(options.maxByteSize);
  }

  get byteSize(): number {
    return this.counter.byteSize;
  }

  get checksum(): string {
    this.digest ??= this.hash.digest('base64');
    return this.digest;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.counter.add(chunk.length);
    } catch (error) {
      return done(error as Error);
    }
    this.hash.update(chunk);
    done(null, chunk);
  }
}

/** Bytes handed to the MD5 worker between two checks that it keeps up; at most VERIFY_WINDOWS of them are outstanding. */
const VERIFY_WINDOW = 4 * 1024 * 1024;
const VERIFY_WINDOWS = 2;

export interface VerifyHashOptions {
  /** The hasher to use (default: md5Hasher for the expected size: inline below a few MiB, a worker thread above). */
  hasher?: Md5Hasher;
}

/**
 * A pass-through that checks, at the end of the stream, that the bytes have the expected
 * checksum and size; otherwise the stream errors with IntegrityError. It holds back the last
 * chunk until the check passes, so a reader of altered bytes never receives a complete file.
 * Large bodies are hashed on a worker thread while they stream; the stream waits whenever the
 * worker is more than VERIFY_WINDOW × VERIFY_WINDOWS bytes behind, so memory stays bounded.
 */
export class Verify extends Transform {
  byteSize = 0;
  private held: Buffer | null = null;
  private readonly hasher: Md5Hasher;
  private readonly windows: Promise<void>[] = [];
  private unsettled = 0;

  constructor(private readonly key: string, private readonly expected: { checksum?: string | null; byteSize?: number }, options: VerifyHashOptions = {}) {
    super();
    this.hasher = options.hasher ?? md5Hasher(expected.byteSize);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.byteSize += chunk.length;
    this.hasher.update(chunk);
    const previous = this.held;
    this.held = chunk;
    if (previous) this.push(previous);
    this.unsettled += chunk.length;
    if (this.unsettled < VERIFY_WINDOW) return done();
    this.unsettled = 0;
    this.windows.push(this.hasher.settled());
    if (this.windows.length <= VERIFY_WINDOWS) return done();
    this.windows.shift()!.then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    const { checksum, byteSize } = this.expected;
    if (byteSize !== undefined && byteSize !== this.byteSize) return done(IntegrityError.sizeMismatch(this.key, byteSize, this.byteSize));
    this.hasher.digest().then((digest) => {
      if (checksum && checksum !== digest) return done(IntegrityError.checksumMismatch(this.key));
      if (this.held) done(null, this.held);
      else done();
    }, done);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.hasher.destroy();
    done(error);
  }
}
