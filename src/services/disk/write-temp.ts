import { mkdir, open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Measure } from '../../core/checksum.ts';
import { AttacheError, type StorageAccessError } from '../../core/errors.ts';
import type { DiskLayout } from './paths.ts';

type Fail = (action: string, cause: unknown) => StorageAccessError;

/**
 * Streams source → measure → a new temp file (`wx`: never an existing one). The body stream's own
 * error and Measure's (FileTooLargeError) surface unchanged; a file error becomes StorageAccessError.
 * The caller removes the temp file on failure.
 */
export async function writeTemp(layout: DiskLayout, temp: string, source: Readable, measure: Measure, fail: Fail): Promise<void> {
  const sink = (await openTemp(layout, temp, fail)).createWriteStream();
  const closed = new Promise<void>((resolve) => sink.once('close', () => resolve()));
  let origin: 'source' | 'sink' | undefined;
  // Whichever stream errors first is where the failure began; pipeline then destroys the others with it.
  const fromSource = (): void => void (origin ??= 'source');
  source.once('error', fromSource);
  sink.once('error', () => void (origin ??= 'sink'));
  try {
    await pipeline(source, measure, sink);
  } catch (error) {
    throw origin === 'sink' && !(error instanceof AttacheError) ? fail('write a file', error) : error;
  } finally {
    source.off('error', fromSource);
    await closed;
  }
}

async function openTemp(layout: DiskLayout, temp: string, fail: Fail): Promise<FileHandle> {
  try {
    await mkdir(layout.tempDir(), { recursive: true });
    return await open(temp, 'wx');
  } catch (error) {
    throw fail('create a temporary file', error);
  }
}
