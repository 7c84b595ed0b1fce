import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { Verify } from '../../src/core/checksum.ts';
import { IntegrityError } from '../../src/core/errors.ts';
import { InlineMd5, OffThreadMd5 } from '../../src/core/md5-worker.ts';

const md5 = (data: Uint8Array): string => createHash('md5').update(data).digest('base64');
const CHUNK = 512 * 1024;
const SIZE = 9 * 1024 * 1024 + 77; // past the inline limit and several hash windows; a short last chunk

function chunks(data: Buffer): Readable {
  const pieces: Buffer[] = [];
  for (let at = 0; at < data.length; at += CHUNK) pieces.push(Buffer.from(data.subarray(at, at + CHUNK)));
  return Readable.from(pieces, { objectMode: false });
}

/** A sink that counts what it was given and keeps a copy. */
function counter(): { sink: Writable; received: () => Buffer } {
  const got: Buffer[] = [];
  return { sink: new Writable({ write: (chunk: Buffer, _e, done) => void (got.push(Buffer.from(chunk)), done()) }), received: () => Buffer.concat(got) };
}

describe.each([
  ['a worker thread (OffThreadMd5)', () => new OffThreadMd5()],
  ['the event loop (InlineMd5)', () => new InlineMd5()],
  ['the default for the size', undefined],
] as const)('Verify hashing on %s', (_label, hasher) => {
  const data = randomBytes(SIZE);
  /** A fresh hasher per stream (a hasher is spent by its digest). */
  const options = () => (hasher ? { hasher: hasher() } : {});

  it('passes every byte of intact data', async () => {
    const { sink, received } = counter();
    await pipeline(chunks(data), new Verify('k', { checksum: md5(data), byteSize: SIZE }, options()), sink);
    expect(received().equals(data)).toBe(true);
  });

  it.each([0, SIZE - 1, SIZE - 100_000])('never delivers the last chunk of data altered at byte %i', async (at) => {
    const altered = Buffer.from(data);
    altered[at] = altered[at]! ^ 0x80;
    const { sink, received } = counter();
    const verify = new Verify('k', { checksum: md5(data), byteSize: SIZE }, options());
    await expect(pipeline(chunks(altered), verify, sink)).rejects.toBeInstanceOf(IntegrityError);
    const lastChunk = SIZE % CHUNK || CHUNK;
    expect(received().length).toBeLessThanOrEqual(SIZE - lastChunk);
    expect(received().equals(altered.subarray(0, received().length))).toBe(true);
  });
});
