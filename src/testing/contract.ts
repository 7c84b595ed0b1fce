import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../core/checksum.ts';
import { ArgumentError, FileNotFoundError, FileTooLargeError, IntegrityError, InvalidKeyError } from '../core/errors.ts';
import { generateKey } from '../core/keys.ts';
import type { PendingWrite, StorageService } from '../services/Service.ts';

export interface ServiceUnderTest {
  service: StorageService;
  cleanup(): Promise<void>;
}

export interface ContractOptions {
  /** Byte sizes that must round-trip; pass a multipart threshold's neighbours here. */
  sizes?: number[];
  /** Starts a write and leaves it unfinished through the service's own API (an unfinished stageUpload, an open multipart upload). */
  leavePendingWrite?(service: StorageService): Promise<void>;
}

/** Every item of an async iterable. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

const KIB64 = 64 * 1024;

/** Collects a stream into one Buffer. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** A stream of `data` in chunks of `chunkSize` bytes. */
export function chunked(data: Uint8Array, chunkSize = 10_000): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length; at += chunkSize) chunks.push(Buffer.from(data.subarray(at, at + chunkSize)));
  return Readable.from(chunks, { objectMode: false });
}

/** A stream that sends some bytes, then fails with `error`. */
export function failingStream(error: Error, bytesFirst = 30_000): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent < bytesFirst) {
        sent += 10_000;
        this.push(Buffer.alloc(10_000, 7));
      } else {
        setImmediate(() => this.destroy(error));
      }
    },
  });
}

/** The behaviour every StorageService must show. Uses only the StorageService interface. */
export function serviceContract(name: string, make: () => Promise<ServiceUnderTest>, options: ContractOptions = {}): void {
  describe(`${name} fulfils the storage service contract`, () => {
    let subject: ServiceUnderTest;
    const service = (): StorageService => subject.service;
    beforeAll(async () => {
      subject = await make();
    });
    afterAll(async () => {
      await subject?.cleanup();
    });

    async function expectStored(key: string, data: Buffer): Promise<void> {
      expect(await service().exists(key)).toBe(true);
      expect((await readAll(await service().download(key))).equals(data)).toBe(true);
    }

    describe('upload and download', () => {
      it.each([
        ['a Buffer', (data: Buffer): Buffer | Readable => data],
        ['a Uint8Array', (data: Buffer): Uint8Array | Readable => new Uint8Array(data)],
        ['a Readable', (data: Buffer): Buffer | Readable => chunked(data, 777)],
      ])('stores %s and returns its MD5 and size', async (_label, body) => {
        const key = generateKey();
        const data = randomBytes(5000);
        const result = await service().upload(key, body(data));
        expect(result.checksum).toBe(md5Base64(data));
        expect(result.byteSize).toBe(5000);
        await expectStored(key, data);
      });

      it('stores a 0-byte file', async () => {
        const key = generateKey();
        const result = await service().upload(key, Buffer.alloc(0));
        expect(result).toMatchObject({ checksum: md5Base64(''), byteSize: 0 });
        await expectStored(key, Buffer.alloc(0));
      });

      it.each(options.sizes ?? [0, 1, KIB64 - 1, KIB64, KIB64 + 1])('round-trips %i bytes streamed with the right checksum and size', async (size) => {
        const key = generateKey();
        const data = randomBytes(size);
        const result = await service().upload(key, chunked(data), { checksum: md5Base64(data), byteSize: size });
        expect(result).toMatchObject({ checksum: md5Base64(data), byteSize: size });
        await expectStored(key, data);
      });

      it('accepts the correct checksum, declared size and a cap equal to the size', async () => {
        const key = generateKey();
        const data = randomBytes(1000);
        await service().upload(key, data, { checksum: md5Base64(data), byteSize: 1000, maxByteSize: 1000 });
        await expectStored(key, data);
      });

      it('replaces the object on a second upload to the same key', async () => {
        const key = generateKey();
        await service().upload(key, randomBytes(3000));
        const second = randomBytes(100);
        await service().upload(key, second);
        await expectStored(key, second);
      });
    });

    describe('rejected uploads keep nothing', () => {
      it('rejects a wrong checksum with IntegrityError (checklist 5)', async () => {
        const key = generateKey();
        await expect(service().upload(key, chunked(randomBytes(2000)), { checksum: md5Base64('other bytes') })).rejects.toBeInstanceOf(IntegrityError);
        expect(await service().exists(key)).toBe(false);
      });

      it('surfaces the body stream error unchanged when it fails mid-way (checklist 8)', async () => {
        const key = generateKey();
        const boom = new Error('the client went away');
        await expect(service().upload(key, failingStream(boom))).rejects.toBe(boom);
        expect(await service().exists(key)).toBe(false);
      });

      it('cuts off a stream longer than the declared byteSize with FileTooLargeError (checklist 22)', async () => {
        const key = generateKey();
        await expect(service().upload(key, chunked(randomBytes(20_000), 1000), { byteSize: 10_000 })).rejects.toBeInstanceOf(FileTooLargeError);
        expect(await service().exists(key)).toBe(false);
      });

      it('cuts off a stream longer than maxByteSize with FileTooLargeError (checklist 22)', async () => {
        const key = generateKey();
        await expect(service().upload(key, chunked(randomBytes(20_000), 1000), { maxByteSize: 19_999 })).rejects.toBeInstanceOf(FileTooLargeError);
        expect(await service().exists(key)).toBe(false);
      });

      it('rejects a stream shorter than the declared byteSize with IntegrityError', async () => {
        const key = generateKey();
        await expect(service().upload(key, chunked(randomBytes(999)), { byteSize: 1000 })).rejects.toBeInstanceOf(IntegrityError);
        expect(await service().exists(key)).toBe(false);
      });

      it.each([
        ['byteSize', -1], ['byteSize', Number.NaN], ['byteSize', 1.5], ['byteSize', Infinity],
        ['maxByteSize', -1], ['maxByteSize', Number.NaN], ['maxByteSize', Infinity],
      ])('rejects %s = %s with ArgumentError', async (option, value) => {
        const key = generateKey();
        await expect(service().upload(key, Buffer.from('x'), { [option]: value })).rejects.toBeInstanceOf(ArgumentError);
        expect(await service().exists(key)).toBe(false);
      });
    });

    describe('ranges', () => {
      const data = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      it.each([
        ['the first byte', 0, 0],
        ['a middle slice', 100, 163],
        ['the last byte', 255, 255],
        ['the whole file', 0, 255],
        ['a range ending past EOF (clamped)', 250, 10_000],
      ])('returns exactly %s', async (_label, start, end) => {
        const key = generateKey();
        await service().upload(key, data);
        const bytes = await readAll(await service().downloadRange(key, start, end));
        expect(bytes.equals(data.subarray(start, Math.min(end, 255) + 1))).toBe(true);
      });

      it.each([
        ['a negative start', -1, 3], ['an inverted range', 5, 4], ['a fractional start', 1.5, 3],
        ['a NaN end', 0, Number.NaN], ['an infinite end', 0, Infinity], ['a start past EOF', 256, 300],
      ])('rejects %s with ArgumentError', async (_label, start, end) => {
        const key = generateKey();
        await service().upload(key, data);
        await expect(service().downloadRange(key, start, end)).rejects.toBeInstanceOf(ArgumentError);
      });
    });

    describe('missing objects (checklist 28)', () => {
      it.each([
        ['download', (s: StorageService, key: string) => s.download(key)],
        ['downloadRange', (s: StorageService, key: string) => s.downloadRange(key, 0, 10)],
        ['compose', (s: StorageService, key: string) => s.compose([key], generateKey())],
      ])('%s of a missing key rejects with FileNotFoundError', async (_label, operation) => {
        const key = generateKey();
        await expect(operation(service(), key)).rejects.toBeInstanceOf(FileNotFoundError);
        expect(await service().exists(key)).toBe(false);
      });

      it('exists is false for a deleted key', async () => {
        const key = generateKey();
        await service().upload(key, Buffer.from('gone soon'));
        await service().delete(key);
        expect(await service().exists(key)).toBe(false);
        await expect(service().download(key)).rejects.toBeInstanceOf(FileNotFoundError);
      });
    });

    describe('delete', () => {
      it('is idempotent: deleting twice, or a key never stored, succeeds', async () => {
        const key = generateKey();
        await service().upload(key, Buffer.from('x'));
        await service().delete(key);
        await service().delete(key);
        await service().delete(generateKey());
        expect(await service().exists(key)).toBe(false);
      });

      it('deletePrefixed removes keys under the prefix and keeps the others', async () => {
        const ns = generateKey();
        const gone = [`${ns}/a`, `${ns}/b/c`, `${ns}/b/d/e`];
        const kept = [`${ns}-x/a`, `${ns}x`, `${ns.slice(0, -1)}/a`];
        for (const key of [...gone, ...kept]) await service().upload(key, Buffer.from(key));
        await service().deletePrefixed(`${ns}/`);
        for (const key of gone) expect(await service().exists(key)).toBe(false);
        for (const key of kept) await expectStored(key, Buffer.from(key));
        await service().deletePrefixed(`${ns}/`);
      });

      it('deletePrefixed matches a partial last segment', async () => {
        const ns = generateKey();
        await service().upload(`${ns}/abc`, Buffer.from('1'));
        await service().upload(`${ns}/ab/c`, Buffer.from('2'));
        await service().upload(`${ns}/b`, Buffer.from('3'));
        await service().deletePrefixed(`${ns}/ab`);
        expect(await service().exists(`${ns}/abc`)).toBe(false);
        expect(await service().exists(`${ns}/ab/c`)).toBe(false);
        expect(await service().exists(`${ns}/b`)).toBe(true);
      });

      it.each(['*', 'a?', '[ab]', '{a,b}'])('deletePrefixed takes %s literally, never as a glob (checklist 3)', async (glob) => {
        const ns = generateKey();
        const kept = ['a', 'b', 'ab', 'ax', 'aa', 'x', 'c/d'].map((rest) => `${ns}/${rest}`);
        const literal = `${ns}/${glob}file`;
        for (const key of [...kept, literal]) await service().upload(key, Buffer.from(key));
        await service().deletePrefixed(`${ns}/${glob}`);
        expect(await service().exists(literal)).toBe(false);
        for (const key of kept) expect(await service().exists(key)).toBe(true);
      });
    });

    describe('compose', () => {
      it('concatenates three sources in order', async () => {
        const parts = [randomBytes(70_000), randomBytes(0), randomBytes(12_345)];
        const keys = parts.map(() => generateKey());
        for (const [i, part] of parts.entries()) await service().upload(keys[i]!, part);
        const destination = generateKey();
        const whole = Buffer.concat(parts);
        const result = await service().compose(keys, destination);
        expect(result).toMatchObject({ checksum: md5Base64(whole), byteSize: whole.length });
        await expectStored(destination, whole);
      });

      it('rejects a missing source with FileNotFoundError and stores nothing', async () => {
        const first = generateKey();
        await service().upload(first, randomBytes(70_000));
        const destination = generateKey();
        await expect(service().compose([first, generateKey()], destination)).rejects.toBeInstanceOf(FileNotFoundError);
        expect(await service().exists(destination)).toBe(false);
      });
    });

    describe('listing objects and pending writes', () => {
      it('listObjects yields exactly the objects under a prefix, with their size and modification time', async () => {
        const ns = generateKey();
        const started = Date.now() - 5 * 60_000;
        const stored = { [`${ns}/a`]: 3, [`${ns}/b/c`]: 0, [`${ns}/b/d`]: 1000 };
        for (const [key, size] of Object.entries(stored)) await service().upload(key, randomBytes(size));
        await service().upload(`${ns}-sibling`, Buffer.from('x'));
        const listed = await collect(service().listObjects({ prefix: `${ns}/` }));
        expect(Object.fromEntries(listed.map((o) => [o.key, o.byteSize]))).toEqual(stored);
        for (const object of listed) {
          expect(object.lastModified).toBeInstanceOf(Date);
          expect(object.lastModified.getTime()).toBeGreaterThan(started);
        }
        expect((await collect(service().listObjects({ prefix: `${ns}/b` }))).map((o) => o.key).sort()).toEqual([`${ns}/b/c`, `${ns}/b/d`]);
      });

      it('listObjects without a prefix includes every object, and a deleted one is gone', async () => {
        const key = generateKey();
        await service().upload(key, Buffer.from('listed'));
        expect((await collect(service().listObjects())).some((o) => o.key === key && o.byteSize === 6)).toBe(true);
        await service().delete(key);
        expect((await collect(service().listObjects({ prefix: key }))).map((o) => o.key)).toEqual([]);
      });

      it.each(['../', '/abs', 'a//b', 'a\u0000b'])('listObjects refuses prefix %j with InvalidKeyError', async (prefix) => {
        await expect(async () => collect(service().listObjects({ prefix }))).rejects.toBeInstanceOf(InvalidKeyError);
      });

      it('listPendingWrites yields well-formed writes; an unfinished one appears and discardPendingWrite removes it, idempotently', async () => {
        const before = new Set((await collect(service().listPendingWrites())).map((w) => w.id));
        if (options.leavePendingWrite === undefined) return;
        await options.leavePendingWrite(service());
        const fresh = (await collect(service().listPendingWrites())).filter((w) => !before.has(w.id));
        expect(fresh).toHaveLength(1);
        const [write] = fresh;
        expect(['temp-file', 'multipart-upload']).toContain(write!.kind);
        expect(write!.startedAt).toBeInstanceOf(Date);
        expect(Math.abs(write!.startedAt.getTime() - Date.now())).toBeLessThan(10 * 60_000);
        await service().discardPendingWrite(write!);
        await service().discardPendingWrite(write!);
        expect((await collect(service().listPendingWrites())).map((w) => w.id)).not.toContain(write!.id);
      });

      it('discardPendingWrite refuses a write of an unknown kind with ArgumentError', async () => {
        const bogus = { kind: 'bogus', id: 'x', key: 'k', startedAt: new Date() } as unknown as PendingWrite;
        await expect(service().discardPendingWrite(bogus)).rejects.toBeInstanceOf(ArgumentError);
      });
    });

    describe('keys are validated by the service', () => {
      const badKeys = ['', '../x', 'a/../../x', '/abs', 'a//b', 'a/./b', 'a\u0000b', 'a\uD800b', 'a\\b'];
      it.each(badKeys)('rejects key %j on every operation with InvalidKeyError', async (key) => {
        const s = service();
        await expect(s.upload(key, Buffer.from('x'))).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(s.download(key)).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(s.downloadRange(key, 0, 0)).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(s.exists(key)).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(s.delete(key)).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(s.compose([generateKey()], key)).rejects.toBeInstanceOf(InvalidKeyError);
      });

      it.each(['', '../', '/abs', 'a//b', 'a\u0000b', 'a\\b'])('rejects prefix %j with InvalidKeyError', async (prefix) => {
        await expect(service().deletePrefixed(prefix)).rejects.toBeInstanceOf(InvalidKeyError);
      });
    });
  });
}
