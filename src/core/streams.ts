import { Readable } from 'node:stream';
import { ArgumentError } from './errors.ts';

/**
 * Reads up to `size` leading bytes of a body without losing any: returns them and a body
 * that yields every byte from the start. A source error while peeking rejects.
 */
export async function peekHead(body: Readable | Uint8Array, size: number): Promise<{ head: Buffer; body: Readable | Uint8Array }> {
  if (body instanceof Uint8Array) return { head: Buffer.from(body.buffer, body.byteOffset, Math.min(size, body.byteLength)), body };
  const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const chunks: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < size) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    chunks.push(chunk);
    length += chunk.length;
  }
  const start = Buffer.concat(chunks);
  async function* replay(): AsyncGenerator<Buffer> {
    let finished = ended;
    try {
      if (start.length > 0) yield start;
      while (!finished) {
        const next = await iterator.next();
        if (next.done) finished = true;
        else yield typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      }
    } finally {
      if (!finished) await iterator.return?.();
    }
  }
  const replayed = Readable.from(replay(), { objectMode: false });
  // A body destroyed before its first read never enters replay(), so its finally cannot release the source.
  replayed.once('close', () => body.destroy());
  return { head: start.subarray(0, size), body: replayed };
}

/** Collects a stream into one Buffer (only where the caller asked for a Buffer). */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

/** Releases a body that will not be read (closes a file descriptor, stops a socket). */
export function discard(body: Readable | Uint8Array): void {
  if (body instanceof Readable && !body.destroyed) body.destroy();
}

/** An upload body as a byte stream (a Uint8Array becomes one chunk). Throws ArgumentError for anything else. */
export function toReadable(body: Readable | Uint8Array): Readable {
  if (body instanceof Uint8Array) {
    return Readable.from(body.byteLength > 0 ? [Buffer.from(body.buffer, body.byteOffset, body.byteLength)] : [], { objectMode: false });
  }
  if (typeof (body as Partial<Readable> | null)?.pipe === 'function') return body;
  throw new ArgumentError('The upload body must be a Readable stream or a Uint8Array.');
}
