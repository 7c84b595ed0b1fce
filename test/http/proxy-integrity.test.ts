import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Blob } from '../../src/index.ts';
import { IntegrityError } from '../../src/core/errors.ts';
import { openAttache, type AttacheFixture } from '../support/attache.ts';
import { User } from '../support/entities.ts';
import { serveBoth, type Both } from './harness.ts';

// Past the inline MD5 limit (4 MiB): the proxy route hashes on the worker thread while it streams.
const SIZE = 12 * 1024 * 1024 + 5;

let f: AttacheFixture;
let both: Both;
beforeAll(async () => {
  f = await openAttache();
  both = await serveBoth(f.attache, { authorize: () => true });
});
afterAll(async () => {
  await both.node.close();
  await f.close();
});

async function attached(io: Buffer): Promise<Blob> {
  const users = f.db.dataSource.getRepository(User);
  const user = await users.save(users.create({ name: 'Grace' }));
  await user.avatar.attach({ io, filename: 'big.bin', contentType: 'application/octet-stream' });
  return (await user.avatar.blob())!;
}

async function alterStored(blob: Blob, at: number): Promise<void> {
  const file = path.join(f.local, blob.key.slice(0, 2), blob.key.slice(2, 4), blob.key);
  const bytes = await readFile(file);
  bytes[at] = bytes[at]! ^ 0xff;
  await writeFile(file, bytes);
}

/** GETs a URL over a raw socket; resolves with the bytes received and whether the response ended cleanly. */
function fetchRaw(url: string): Promise<{ status: number; bytes: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    httpGet(url, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, complete: res.complete }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, bytes, complete: false }));
      res.on('aborted', () => undefined);
    }).on('error', reject);
  });
}

describe('verified reads of a large altered Disk blob (MD5 on the worker thread)', () => {
  it.each([0, SIZE - 1])('the proxy route aborts (byte %i altered): the client never gets the whole file', async (at) => {
    const data = randomBytes(SIZE);
    const blob = await attached(data);
    const intact = await fetchRaw(`${both.node.base}${blob.proxyUrl()}`);
    expect(intact).toEqual({ status: 200, bytes: SIZE, complete: true });
    await alterStored(blob, at);
    const answer = await fetchRaw(`${both.node.base}${blob.proxyUrl()}`);
    expect(answer.status).toBe(200);
    expect(answer.complete).toBe(false);
    expect(answer.bytes).toBeLessThan(SIZE);
  });

  it('blob.stream() errors with IntegrityError before the last chunk', async () => {
    const data = randomBytes(SIZE);
    const blob = await attached(data);
    await alterStored(blob, SIZE - 1);
    let bytes = 0;
    const reading = (async () => {
      for await (const chunk of blob.stream()) bytes += (chunk as Buffer).length;
    })();
    await expect(reading).rejects.toBeInstanceOf(IntegrityError);
    expect(bytes).toBeLessThan(SIZE);
    await expect(blob.download()).rejects.toBeInstanceOf(IntegrityError);
  });
});
