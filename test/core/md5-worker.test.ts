import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InlineMd5, md5Hasher, OffThreadMd5 } from '../../src/core/md5-worker.ts';

const md5 = (data: Uint8Array): string => createHash('md5').update(data).digest('base64');

describe('md5Hasher', () => {
  it('hashes on a worker thread what node:crypto hashes inline, from views of a larger buffer', async () => {
    const data = randomBytes(9 * 1024 * 1024 + 3);
    const hasher = new OffThreadMd5();
    for (let i = 0; i < data.length; i += 65_521) hasher.update(data.subarray(i, i + 65_521));
    data[0] = data[0]! ^ 1; // copied on update: a later change does not reach the hash
    const digest = await hasher.digest();
    data[0] = data[0]! ^ 1;
    expect(digest).toBe(md5(data));
  });

  it('reads a SharedArrayBuffer chunk in place until settled() resolves', async () => {
    const shared = new Uint8Array(new SharedArrayBuffer(1 << 20)).fill(7);
    const hasher = new OffThreadMd5();
    hasher.update(shared);
    await hasher.settled();
    shared.fill(8);
    expect(await hasher.digest()).toBe(md5(new Uint8Array(1 << 20).fill(7)));
  });

  it('keeps concurrent sessions apart', async () => {
    const bodies = [randomBytes(300_000), randomBytes(500_000), randomBytes(1)];
    const hashers = bodies.map(() => new OffThreadMd5());
    for (let i = 0; i < 500_000; i += 1000) bodies.forEach((body, n) => hashers[n]!.update(body.subarray(i, i + 1000)));
    expect(await Promise.all(hashers.map((h) => h.digest()))).toEqual(bodies.map(md5));
  });

  it('hashes inline below 4 MiB and on a worker above it or when the size is unknown', async () => {
    expect(md5Hasher(1024)).toBeInstanceOf(InlineMd5);
    expect(md5Hasher(4 * 1024 * 1024)).toBeInstanceOf(OffThreadMd5);
    const unknown = md5Hasher();
    expect(unknown).toBeInstanceOf(OffThreadMd5);
    expect(await unknown.digest()).toBe(md5(new Uint8Array()));
  });

  it('refuses a spent hasher', async () => {
    for (const hasher of [new OffThreadMd5(), new InlineMd5()]) {
      await hasher.digest();
      expect(() => hasher.update(new Uint8Array(1))).toThrow(/already digested/);
      await expect(hasher.digest()).rejects.toThrow(/already digested/);
      hasher.destroy();
    }
  });
});
