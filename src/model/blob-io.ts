import { PassThrough, pipeline, type Readable } from 'node:stream';
import { Verify } from '../checksum.ts';
import type { Blob } from '../entities/Blob.ts';
import { FileNotFoundError } from '../errors.ts';
import { readAll } from '../streams.ts';
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
