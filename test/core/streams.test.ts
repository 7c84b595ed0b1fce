import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { discard, peekHead, readAll } from '../../src/core/streams.ts';

/** A byte stream of the given chunks, optionally failing with `error` after them. */
function source(chunks: Buffer[], error?: Error): Readable {
  return Readable.from(
    (async function* () {
      for (const chunk of chunks) yield chunk;
      if (error) throw error;
    })(),
    { objectMode: false },
  );
}

function split(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

/** Whether the stream is destroyed now or within `ms` (a leak fails fast instead of timing out). */
async function destroyedWithin(stream: Readable, ms = 1000): Promise<boolean> {
  if (!stream.destroyed) await Promise.race([once(stream, 'close'), new Promise((r) => setTimeout(r, ms))]);
  return stream.destroyed;
}

async function bodyBytes(body: Readable | Uint8Array): Promise<Buffer> {
  return body instanceof Readable ? readAll(body) : Buffer.from(body);
}

describe('peekHead', () => {
  const bytes = randomBytes(10_000);

  it.each([
    ['a Buffer', () => bytes],
    ['a Uint8Array view with an offset', () => new Uint8Array(Buffer.concat([Buffer.from('junk'), bytes]).buffer.slice(0), 4, bytes.length)],
    ['a Readable of 7-byte chunks', () => source(split(bytes, 7))],
    ['a Readable of 1-byte chunks', () => source(split(bytes, 1))],
    ['a Readable of one big chunk', () => source([bytes])],
    ['a Readable whose chunk ends exactly at the head size', () => source(split(bytes, 100))],
  ])('returns the first N bytes of %s and a body with every byte in order', async (_label, make) => {
    const { head, body } = await peekHead(make(), 100);
    expect(Buffer.isBuffer(head)).toBe(true);
    expect(head.equals(bytes.subarray(0, 100))).toBe(true);
    expect((await bodyBytes(body)).equals(bytes)).toBe(true);
  });

  it.each([
    ['a Buffer', (b: Buffer) => b],
    ['a Readable', (b: Buffer) => source(split(b, 3))],
  ])('returns the whole of %s shorter than N', async (_label, make) => {
    const short = randomBytes(50);
    const { head, body } = await peekHead(make(short), 4100);
    expect(head.equals(short)).toBe(true);
    expect((await bodyBytes(body)).equals(short)).toBe(true);
  });

  it.each([
    ['an empty Buffer', () => Buffer.alloc(0)],
    ['an empty Readable', () => source([])],
    ['a Readable of empty chunks', () => source([Buffer.alloc(0), Buffer.alloc(0)])],
  ])('handles %s', async (_label, make) => {
    const { head, body } = await peekHead(make(), 4100);
    expect(head.length).toBe(0);
    expect((await bodyBytes(body)).length).toBe(0);
  });

  it('accepts a string-yielding Readable', async () => {
    const { head, body } = await peekHead(Readable.from(['héllo ', 'wörld'], { objectMode: false }), 3);
    expect(head.toString('utf8')).toBe('hé');
    expect((await bodyBytes(body)).toString('utf8')).toBe('héllo wörld');
  });

  it('makes the body error when the source errors after the peek', async () => {
    const failure = new Error('connection reset');
    const { head, body } = await peekHead(source(split(bytes, 64), failure), 100);
    expect(head.equals(bytes.subarray(0, 100))).toBe(true);
    await expect(bodyBytes(body)).rejects.toBe(failure);
  });

  it('rejects when the source errors during the peek', async () => {
    const failure = new Error('connection reset');
    await expect(peekHead(source([Buffer.from('abc')], failure), 100)).rejects.toBe(failure);
  });

  it('rejects when the source is already destroyed with an error', async () => {
    const failure = new Error('gone');
    const stream = new Readable({ read() {} });
    stream.destroy(failure);
    await expect(peekHead(stream, 10)).rejects.toBe(failure);
  });

  it('releases the source when the body is discarded before it is read', async () => {
    const stream = source(split(bytes, 64));
    const { body } = await peekHead(stream, 100);
    discard(body);
    expect(await destroyedWithin(stream)).toBe(true);
  });

  it('releases the source when the body is discarded part-way', async () => {
    const stream = source(split(bytes, 64));
    const { body } = await peekHead(stream, 100);
    expect(body).toBeInstanceOf(Readable);
    const readable = body as Readable;
    for await (const chunk of readable) {
      expect((chunk as Buffer).length).toBeGreaterThan(0);
      break; // for-await's return destroys the body
    }
    expect(await destroyedWithin(stream)).toBe(true);
  });
});

describe('readAll', () => {
  it.each([
    ['many chunks', split(randomBytes(5000), 13)],
    ['one chunk', [randomBytes(10)]],
    ['no chunks', []],
  ])('collects %s in order', async (_label, chunks) => {
    expect((await readAll(source(chunks))).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('collects string chunks as UTF-8', async () => {
    expect((await readAll(Readable.from(['a', 'é'], { objectMode: false }))).toString('utf8')).toBe('aé');
  });

  it('rejects with the source error', async () => {
    const failure = new Error('boom');
    await expect(readAll(source([Buffer.from('x')], failure))).rejects.toBe(failure);
  });
});

describe('discard', () => {
  it('destroys a Readable and ignores a Uint8Array', () => {
    const stream = source([Buffer.from('x')]);
    discard(stream);
    expect(stream.destroyed).toBe(true);
    expect(() => discard(Buffer.from('x'))).not.toThrow();
    expect(() => discard(stream)).not.toThrow();
  });
});
