import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileTooLargeError, IntegrityError } from '../../src/core/errors.ts';
import { generateKey } from '../../src/core/keys.ts';
import { INLINE_MD5_LIMIT } from '../../src/core/md5-worker.ts';
import { DiskService } from '../../src/services/disk/DiskService.ts';
import { WRITE_BLOCK } from '../../src/services/disk/write-temp.ts';

const md5 = (data: Uint8Array): string => createHash('md5').update(data).digest('base64');

/** The bytes as a stream of `chunk`-sized pieces (64 KiB like a socket, or odd sizes that straddle blocks). */
function stream(data: Buffer, chunk: number): Readable {
  const pieces: Buffer[] = [];
  for (let at = 0; at < data.length; at += chunk) pieces.push(Buffer.from(data.subarray(at, at + chunk)));
  return Readable.from(pieces, { objectMode: false });
}

/** Every file below `root`: stored objects and temp files alike. */
async function filesBelow(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((entry) => !entry.isDirectory()).map((entry) => path.join(entry.parentPath, entry.name));
}

let root: string;
let service: DiskService;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'attache-disk-blocks-'));
  service = new DiskService({ name: 'local', root });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

// Sizes at the edges of a write block, of the block rotation (4 blocks), and of the inline/worker MD5 choice.
const SIZES = [WRITE_BLOCK - 1, WRITE_BLOCK, WRITE_BLOCK + 1, 4 * WRITE_BLOCK - 1, 4 * WRITE_BLOCK + 1, INLINE_MD5_LIMIT + WRITE_BLOCK + 1];

describe('Disk uploads in write blocks', () => {
  it.each(SIZES)('stores %i bytes intact, from 64 KiB and from odd-sized chunks, with and without a declared size', async (size) => {
    const data = randomBytes(size);
    for (const [chunk, declared] of [[64 * 1024, false], [65_537, true], [size, true]] as const) {
      const key = generateKey();
      const result = await service.upload(key, stream(data, chunk), declared ? { checksum: md5(data), byteSize: size } : {});
      expect(result).toEqual({ checksum: md5(data), byteSize: size });
      expect((await readFile(path.join(root, key.slice(0, 2), key.slice(2, 4), key))).equals(data)).toBe(true);
      await service.delete(key);
    }
    expect(await filesBelow(root)).toEqual([]);
  });

  it.each(SIZES)('refuses altered bytes of %i bytes (IntegrityError) and leaves no file and no temp file', async (size) => {
    const data = randomBytes(size);
    const altered = Buffer.from(data);
    altered[size - 1] = altered[size - 1]! ^ 0x01; // the very last byte, in the last block
    for (const body of [stream(altered, 64 * 1024), altered]) {
      const key = generateKey();
      await expect(service.upload(key, body, { checksum: md5(data), byteSize: size })).rejects.toBeInstanceOf(IntegrityError);
      expect(await service.exists(key)).toBe(false);
    }
    expect(await filesBelow(root)).toEqual([]);
  });

  it.each(SIZES)('refuses a body of %i bytes one byte short of or past its declared size, leaving nothing', async (size) => {
    const data = randomBytes(size);
    const short = generateKey();
    await expect(service.upload(short, stream(data, 64 * 1024), { byteSize: size + 1 })).rejects.toBeInstanceOf(IntegrityError);
    const long = generateKey();
    await expect(service.upload(long, stream(data, 64 * 1024), { byteSize: size - 1 })).rejects.toBeInstanceOf(FileTooLargeError);
    expect([await service.exists(short), await service.exists(long)]).toEqual([false, false]);
    expect(await filesBelow(root)).toEqual([]);
  });

  it('rethrows a body stream that fails after several blocks unchanged, leaving nothing', async () => {
    const failure = new Error('client went away');
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent >= 5 * WRITE_BLOCK + 123) return void setImmediate(() => this.destroy(failure));
        sent += 65_536;
        this.push(randomBytes(65_536));
      },
    });
    await expect(service.upload(generateKey(), body)).rejects.toBe(failure);
    expect(await filesBelow(root)).toEqual([]);
  });

  it('many uploads at once each store their own bytes (blocks are pooled, never shared)', async () => {
    const bodies = Array.from({ length: 6 }, (_, i) => randomBytes(3 * WRITE_BLOCK + i * 1000));
    const keys = bodies.map(() => generateKey());
    const results = await Promise.all(bodies.map((data, i) => service.upload(keys[i]!, stream(data, 65_536))));
    for (const [i, data] of bodies.entries()) {
      expect(results[i]).toEqual({ checksum: md5(data), byteSize: data.length });
      expect((await readFile(path.join(root, keys[i]!.slice(0, 2), keys[i]!.slice(2, 4), keys[i]!))).equals(data)).toBe(true);
      await service.delete(keys[i]!);
    }
  });
});
