import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Measure } from '../../core/checksum.ts';
import { StorageAccessError, type AttacheError } from '../../core/errors.ts';
import type { SseParams } from './encryption.ts';

export interface ReadTarget {
  client: S3Client;
  bucket: string;
  key: string;
  /** The SSE `read` parameters (an SSE-C key). */
  sse: SseParams;
  /** Turns an SDK error into the service's AttacheError. */
  fail(error: unknown): AttacheError;
}

/** Inclusive byte range, already validated (0 <= start <= end). */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * A stream of the object (or of `range`). The GET's error is translated by `fail`; so is an error
 * of the stream later. A server that answers a range with more bytes than asked is cut to the range.
 */
export async function getObject(target: ReadTarget, range?: ByteRange): Promise<Readable> {
  let answer: GetObjectCommandOutput;
  try {
    answer = await target.client.send(
      new GetObjectCommand({ ...target.sse, Bucket: target.bucket, Key: target.key, ...(range && { Range: `bytes=${range.start}-${range.end}` }) }),
    );
  } catch (error) {
    throw target.fail(error);
  }
  const body = answer.Body as Readable;
  const out = new PassThrough();
  body.once('error', (error) => out.destroy(target.fail(error)));
  out.once('close', () => body.destroy());
  if (range === undefined) return body.pipe(out);
  const served = servedRange(answer.ContentRange);
  if (served?.start !== range.start) {
    body.destroy();
    throw new StorageAccessError(`The S3 server did not honour the byte range requested for "${target.key}".`);
  }
  return served.end > range.end ? body.pipe(new Limit(range.end - range.start + 1)).pipe(out) : body.pipe(out);
}

/** The MD5 and size of the stored object, read back through Measure. */
export async function measureObject(target: ReadTarget): Promise<{ checksum: string; byteSize: number }> {
  const measure = new Measure();
  await pipeline(await getObject(target), measure, async (chunks: AsyncIterable<Buffer>) => {
    for await (const _ of chunks) void _;
  });
  return { checksum: measure.checksum, byteSize: measure.byteSize };
}

/** The objects' bytes one after the other (compose's streaming path). */
export async function* concatenate(targets: readonly ReadTarget[]): AsyncGenerator<Buffer> {
  for (const target of targets) yield* (await getObject(target)) as AsyncIterable<Buffer>;
}

function servedRange(contentRange: string | undefined): ByteRange | undefined {
  const match = /^bytes (\d+)-(\d+)\//.exec(contentRange ?? '');
  return match ? { start: Number(match[1]), end: Number(match[2]) } : undefined;
}

/** Passes the first `remaining` bytes and drops the rest. */
class Limit extends Transform {
  constructor(private remaining: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const kept = chunk.subarray(0, this.remaining);
    this.remaining -= kept.length;
    done(null, kept.length > 0 ? kept : undefined);
  }
}
