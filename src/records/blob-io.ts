import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { Verify } from '../core/checksum.ts';
import type { Blob } from './Blob.ts';
import { FileNotFoundError } from '../core/errors.ts';
import { readAll } from '../core/streams.ts';
import type { AttacheRuntime } from './runtime.ts';

/** A stream of the blob's bytes that errors with IntegrityError if they are not the ones recorded. */
export async function openVerified(rt: AttacheRuntime, blob: Blob): Promise<Readable> {
  const source = await rt.service(blob.serviceName).download(blob.key);
  const verify = new Verify(blob.key, { checksum: blob.checksum, byteSize: blob.byteSize });
  return pipeline(source, verify, () => undefined);
}

/** The blob's bytes in memory, verified against its checksum. */
export async function downloadVerified(rt: AttacheRuntime, blob: Blob): Promise<Buffer> {
  return readAll(await openVerified(rt, blob));
}

/** A Readable returned at once; it fills from the blob once `load` resolves (FileNotFoundError when none). */
export function streamLater(rt: AttacheRuntime, load: () => Promise<Blob | null>): Readable {
  const out = new PassThrough();
  load()
    .then(async (blob) => {
      if (!blob) throw new FileNotFoundError('Nothing is attached.');
      pipeline(await openVerified(rt, blob), out, () => undefined);
    })
    .catch((error: unknown) => out.destroy(error instanceof Error ? error : new Error(String(error))));
  return out;
}

/**
 * Downloads the blob (verified) to a temporary file, calls `fn` with its path, and removes the
 * file afterwards, whatever `fn` does (Rails' Blob#open). Returns what `fn` returns.
 */
export async function openAsFile<T>(rt: AttacheRuntime, blob: Blob, fn: (file: string) => T | Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'attache-open-'));
  try {
    const file = path.join(dir, `blob${path.extname(blob.filename)}`);
    await pipelineAsync(await openVerified(rt, blob), createWriteStream(file, { mode: 0o600 }));
    return await fn(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
