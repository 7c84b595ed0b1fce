import { createMD5 } from 'hash-wasm';

export interface FileChecksums {
  /** base64 MD5 of the whole file (Rails' format). */
  checksum: string;
  /** base64 MD5 of each part, when the file is split into `partSize` parts. */
  parts: Array<{ byteSize: number; checksum: string }>;
}

/**
 * Reads the file once, in slices, computing the whole file's MD5 incrementally and, when
 * `partSize` is given, each part's MD5 too. Never holds more than one slice in memory.
 */
export async function computeChecksums(file: Blob, partSize: number | null, signal?: AbortSignal): Promise<FileChecksums> {
  const whole = await createMD5();
  const parts: FileChecksums['parts'] = [];
  const step = partSize ?? 8 * 1024 * 1024;
  for (let start = 0; start < file.size || (start === 0 && file.size === 0); start += step) {
    signal?.throwIfAborted();
    const bytes = new Uint8Array(await file.slice(start, start + step).arrayBuffer());
    whole.update(bytes);
    if (partSize) {
      const part = await createMD5();
      part.update(bytes);
      parts.push({ byteSize: bytes.length, checksum: toBase64(part.digest('binary')) });
    }
    if (file.size === 0) break;
  }
  return { checksum: toBase64(whole.digest('binary')), parts };
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}
