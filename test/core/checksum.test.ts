import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { Measure, md5Base64, Verify } from '../../src/core/checksum.ts';
import { FileTooLargeError, IntegrityError } from '../../src/core/errors.ts';

const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('base64');

/** A byte source in chunks of the given sizes, and the bytes it yields in total. */
function chunked(sizes: number[]): { source: () => Readable; bytes: Buffer } {
  const chunks = sizes.map((n) => randomBytes(n));
  return { source: () => Readable.from(chunks, { objectMode: false }), bytes: Buffer.concat(chunks) };
}

/** Chunk sizes that add up to `total`, each at most `size`. */
function inChunksOf(size: number, total: number): number[] {
  return Array.from({ length: Math.ceil(total / size) }, (_, i) => Math.min(size, total - i * size));
}

/** A sink that keeps what it receives. */
function collector(): { sink: Writable; received: () => Buffer } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  });
  return { sink, received: () => Buffer.concat(chunks) };
}

describe('md5Base64', () => {
  it('is the base64 MD5 (the Rails checksum format)', () => {
    expect(md5Base64('')).toBe('1B2M2Y8AsgTpgAmY7PhCfg==');
    expect(md5Base64(Buffer.from('hello'))).toBe('XUFAKrxLKna5cZ2REBfFkg==');
  });
});

describe('Measure', () => {
  it.each([
    ['0 bytes', []],
    ['one chunk', [1000]],
    ['many small chunks', Array.from({ length: 100 }, (_, i) => (i % 7) + 1)],
    ['chunks around 64 KiB', [65_535, 1, 65_536, 3]],
  ])('hashes and counts %s exactly as crypto does, passing every byte through', async (_label, sizes) => {
    const { source, bytes } = chunked(sizes);
    const measure = new Measure();
    const { sink, received } = collector();
    await pipeline(source(), measure, sink);
    expect(measure.byteSize).toBe(bytes.length);
    expect(measure.checksum).toBe(md5(bytes));
    expect(received().equals(bytes)).toBe(true);
  });

  it('gives the empty-input checksum for an ended empty stream', async () => {
    const measure = new Measure();
    await pipeline(Readable.from([], { objectMode: false }), measure, collector().sink);
    expect(measure.byteSize).toBe(0);
    expect(measure.checksum).toBe('1B2M2Y8AsgTpgAmY7PhCfg==');
  });

  it.each([
    ['exactly the limit', 100, 100, false],
    ['one byte under', 99, 100, false],
    ['one byte over', 101, 100, true],
    ['far over, in many chunks', 10_000, 100, true],
    ['any byte when the limit is 0', 1, 0, true],
  ])('maxByteSize with %s', async (_label, size, max, fails) => {
    const { source } = chunked(inChunksOf(37, size));
    const measure = new Measure({ maxByteSize: max });
    const { sink, received } = collector();
    const run = pipeline(source(), measure, sink);
    if (fails) {
      await expect(run).rejects.toBeInstanceOf(FileTooLargeError);
      expect(received().length).toBeLessThanOrEqual(max);
    } else {
      await run;
      expect(measure.byteSize).toBe(size);
    }
  });
});

describe('Verify', () => {
  const { source, bytes } = chunked([10, 4096, 1, 70_000]);
  const good = { checksum: md5(bytes), byteSize: bytes.length };
  const flipped = Buffer.from(bytes);
  flipped[5] = (flipped[5] ?? 0) ^ 0xff;

  it.each([
    ['the checksum and size both match', good],
    ['only the checksum is given', { checksum: good.checksum }],
    ['only the size is given', { byteSize: good.byteSize }],
    ['the checksum is null', { checksum: null, byteSize: good.byteSize }],
  ])('passes every byte through when %s', async (_label, expected) => {
    const { sink, received } = collector();
    await pipeline(source(), new Verify('k', expected), sink);
    expect(received().equals(bytes)).toBe(true);
  });

  it('passes 0 bytes with the empty checksum', async () => {
    await pipeline(Readable.from([], { objectMode: false }), new Verify('k', { checksum: md5(Buffer.alloc(0)), byteSize: 0 }), collector().sink);
  });

  it.each([
    ['a wrong checksum', { checksum: md5(flipped), byteSize: good.byteSize }],
    ['a checksum of other bytes of the same size', { checksum: md5(Buffer.alloc(bytes.length)) }],
    ['a size one byte short', { checksum: good.checksum, byteSize: good.byteSize - 1 }],
    ['a size one byte long', { checksum: good.checksum, byteSize: good.byteSize + 1 }],
    ['a size of 0', { byteSize: 0 }],
    ['a malformed checksum', { checksum: 'not-base64' }],
  ])('errors with IntegrityError on %s', async (_label, expected) => {
    await expect(pipeline(source(), new Verify('k', expected), collector().sink)).rejects.toBeInstanceOf(IntegrityError);
  });

  it('errors with IntegrityError when one stored byte was flipped', async () => {
    const tampered = Readable.from([flipped], { objectMode: false });
    await expect(pipeline(tampered, new Verify('k', good), collector().sink)).rejects.toBeInstanceOf(IntegrityError);
  });

  it('names the key, not the expected checksum, in the error', async () => {
    const error = await pipeline(source(), new Verify('blob-key', { checksum: md5(flipped) }), collector().sink).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as IntegrityError).code).toBe('E_INTEGRITY');
    expect((error as Error).message).toContain('blob-key');
    expect((error as Error).message).not.toContain(md5(flipped));
  });
});
