import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { ConfigurationError, FileNotFoundError, FileTooLargeError, IntegrityError, InvalidKeyError, StorageAccessError } from '../../src/core/errors.ts';
import { generateKey } from '../../src/core/keys.ts';
import type { ServiceContext } from '../../src/services/adapters.ts';
import { diskAdapter } from '../../src/services/disk/adapter.ts';
import { DiskService } from '../../src/services/disk/DiskService.ts';
import { DiskLayout } from '../../src/services/disk/paths.ts';
import { chunked, failingStream, readAll, serviceContract } from '../../src/testing/contract.ts';

let base: string;
beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'attache-disk-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

serviceContract(
  'DiskService',
  async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'attache-disk-contract-'));
    return { service: new DiskService({ name: 'local', root }), cleanup: () => rm(root, { recursive: true, force: true }) };
  },
  { leavePendingWrite: async (service) => void (await (service as DiskService).stageUpload(generateKey(), Buffer.from('staged, never committed'))) },
);

/** Every non-directory entry below `dir` (files and symlinks), as '/'-joined relative paths. */
async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => !e.isDirectory()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/')).sort();
}

/** Every entry below `dir` except `exclude` and its contents, with file contents. */
async function snapshot(dir: string, exclude: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  const described = entries.map(async (e) => {
    const full = path.join(e.parentPath, e.name);
    const content = e.isFile() ? await readFile(full, 'utf8') : e.isDirectory() ? '<dir>' : '<other>';
    return `${path.relative(dir, full)}=${content}`;
  });
  const all = await Promise.all(described);
  return all.filter((line) => !line.startsWith(`${exclude}=`) && !line.startsWith(`${exclude}${path.sep}`)).sort();
}

describe('DiskService on its own', () => {
  let x: string;
  let root: string;
  let service: DiskService;
  beforeEach(async () => {
    x = await mkdtemp(path.join(base, 'x-'));
    root = path.join(x, 'store');
    await mkdir(path.join(x, 'store-evil'), { recursive: true });
    await mkdir(path.join(x, 'etc'), { recursive: true });
    await writeFile(path.join(x, 'store-evil', 'victim'), 'victim');
    await writeFile(path.join(x, 'etc', 'passwd'), 'canary');
    await writeFile(path.join(x, 'x'), 'canary');
    service = new DiskService({ name: 'local', root });
  });
  afterEach(async () => {
    await rm(x, { recursive: true, force: true });
  });

  describe('layout', () => {
    it('stores key abcd… at root/ab/cd/abcd…', async () => {
      const key = generateKey();
      await service.upload(key, Buffer.from('hello'));
      expect(await filesBelow(root)).toEqual([`${key.slice(0, 2)}/${key.slice(2, 4)}/${key}`]);
      expect(await readFile(path.join(root, key.slice(0, 2), key.slice(2, 4), key), 'utf8')).toBe('hello');
    });

    it('stores a variant key below root/va/ri/', async () => {
      const key = `variants/${generateKey()}/${md5Base64('t').replace(/[+/=]/g, '')}`;
      await service.upload(key, Buffer.from('v'));
      expect(await filesBelow(root)).toEqual([`va/ri/${key}`]);
    });

    it.each(['a', 'ab', 'abc', 'a/b', '..a', 'a..', '.a/b', 'a./b', 'ab/.x', 'ab..'])('keeps odd but valid key %j inside root', async (key) => {
      const before = await snapshot(x, 'store');
      await service.upload(key, Buffer.from(key));
      expect((await readAll(await service.download(key))).toString()).toBe(key);
      const files = await filesBelow(root);
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(new RegExp(`^[^/]{1,2}/[^/]{1,2}/${key.replace(/[.]/g, '\\.')}$`));
      expect(await snapshot(x, 'store')).toEqual(before);
    });
  });

  describe('traversal keys never leave the root (checklist 1 and 2)', () => {
    const keys = [
      '../../etc/passwd', 'a/../../x', '/etc/passwd', '.', 'a/./b', '', 'a\u0000b', 'a\uD800b', '..\\..\\x',
      '../store-evil/victim', '../store-evil', 'ab/../../store-evil/victim',
    ];
    const operations: Array<[string, (s: DiskService, key: string) => Promise<unknown>]> = [
      ['upload', (s, k) => s.upload(k, Buffer.from('pwned'))],
      ['download', (s, k) => s.download(k)],
      ['downloadRange', (s, k) => s.downloadRange(k, 0, 1)],
      ['exists', (s, k) => s.exists(k)],
      ['delete', (s, k) => s.delete(k)],
      ['deletePrefixed', (s, k) => s.deletePrefixed(k)],
      ['compose (destination)', (s, k) => s.compose([generateKey()], k)],
      ['compose (source)', (s, k) => s.compose([k], generateKey())],
      ['url', (s, k) => s.url(k, { expiresIn: 60, disposition: 'inline', filename: 'f', contentType: 'text/plain' })],
      ['headersForDirectUpload', async (s, k) => s.headersForDirectUpload(k, { contentType: 'text/plain', checksum: 'x' })],
    ];
    const cases = keys.flatMap((key) => operations.map(([name, op]) => [name, key, op] as const));

    it.each(cases)('%s(%j) throws InvalidKeyError and touches nothing', async (_name, key, operation) => {
      const before = await snapshot(x, 'store');
      await expect(operation(service, key)).rejects.toBeInstanceOf(InvalidKeyError);
      expect(await snapshot(x, 'store')).toEqual(before);
      expect(await readFile(path.join(x, 'store-evil', 'victim'), 'utf8')).toBe('victim');
      await expect(filesBelow(root)).rejects.toThrow(); // nothing created the root either
    });

    it.each([
      ['a sibling that shares the root as a string prefix', '../store-evil/victim'],
      ['the sibling directory itself', '../store-evil'],
      ['an absolute path to the sibling', '<sibling>'],
      ['a path that climbs out and back in sideways', 'ab/../../store-evil'],
      ['the root itself', '.'],
      ['an empty path (the root)', ''],
      ['the parent', '..'],
    ])('the containment check rejects %s', (_label, relative) => {
      const layout = new DiskLayout(root);
      const target = relative === '<sibling>' ? path.join(x, 'store-evil', 'victim') : relative;
      expect(() => layout.contain(target)).toThrow(InvalidKeyError);
      expect(() => new DiskLayout(`${root}${path.sep}`).contain(target)).toThrow(InvalidKeyError);
    });

    it('the containment check accepts a path strictly below the root', () => {
      expect(new DiskLayout(root).contain('ab', 'cd', 'abcd')).toBe(path.join(root, 'ab', 'cd', 'abcd'));
      expect(new DiskLayout(root).pathFor('abcdef')).toBe(path.join(root, 'ab', 'cd', 'abcdef'));
    });
  });

  describe('deletePrefixed on disk (checklist 3)', () => {
    const keys = [
      'a', 'aa', 'ab', 'abc', 'abcd', 'abcdx', 'abcde/f', 'ax', 'a/b', 'a/bc/d', 'a.b', 'a_b', 'b', 'ba', 'x', 'c/d',
      '*x', 'a?x', '[ab]x', '{a,b}x',
    ];
    beforeEach(async () => {
      for (const key of keys) await service.upload(key, Buffer.from(key));
    });

    it.each([
      '*', 'a?', '[ab]', '{a,b}', 'a', 'ab', 'abc', 'abcd', 'abcde/', 'a/', 'a/b', 'a/bc/', 'a/b/', 'a_', 'a.', 'b', 'zzzz',
    ])('deletePrefixed(%j) deletes exactly the keys that literally start with it', async (prefix) => {
      await service.deletePrefixed(prefix);
      for (const key of keys) expect([key, await service.exists(key)]).toEqual([key, !key.startsWith(prefix)]);
      const kept = keys.filter((k) => !k.startsWith(prefix));
      expect((await filesBelow(root)).map((f) => f.split('/').slice(2).join('/')).sort()).toEqual(kept.sort());
      expect(await readFile(path.join(x, 'store-evil', 'victim'), 'utf8')).toBe('victim');
    });

    it('never follows symlinks out of the root', async () => {
      const outside = path.join(x, 'outside');
      await mkdir(path.join(outside, 'zz'), { recursive: true });
      await writeFile(path.join(outside, 'zz', 'zzzz'), 'keep');
      await writeFile(path.join(outside, 'abcdlinked'), 'keep');
      await symlink(outside, path.join(root, 'zz'));
      await symlink(outside, path.join(root, 'ab', 'cd', 'abcdlink'));
      await symlink(path.join(outside, 'abcdlinked'), path.join(root, 'ab', 'cd', 'abcdfile'));
      for (const prefix of ['z', 'zz', 'zzzz', 'abcdlink/', 'abcd', 'a']) await service.deletePrefixed(prefix);
      expect(await filesBelow(outside)).toEqual(['abcdlinked', 'zz/zzzz']);
    });
  });

  describe('failed writes leave no file behind', () => {
    it.each([
      ['a wrong checksum', () => service.upload(generateKey(), randomBytes(9000), { checksum: md5Base64('x') }), IntegrityError],
      ['a short stream', () => service.upload(generateKey(), chunked(randomBytes(9000)), { byteSize: 9001 }), IntegrityError],
      ['a stream over byteSize', () => service.upload(generateKey(), chunked(randomBytes(90_000)), { byteSize: 50_000 }), FileTooLargeError],
      ['a stream over maxByteSize', () => service.upload(generateKey(), chunked(randomBytes(90_000)), { maxByteSize: 50_000 }), FileTooLargeError],
      ['an erroring stream', () => service.upload(generateKey(), failingStream(new Error('boom'))), Error],
      ['a compose whose second source is missing', async () => {
        const first = generateKey();
        await service.upload(first, randomBytes(90_000));
        try {
          return await service.compose([first, generateKey()], generateKey());
        } finally {
          await service.delete(first);
        }
      }, FileNotFoundError],
    ])('after %s', async (_label, operation, errorClass) => {
      await expect(operation()).rejects.toBeInstanceOf(errorClass);
      expect(await filesBelow(root)).toEqual([]);
    });

    it('a failed overwrite keeps the previous object', async () => {
      const key = generateKey();
      await service.upload(key, Buffer.from('original'));
      await expect(service.upload(key, Buffer.from('evil'), { checksum: md5Base64('nope') })).rejects.toBeInstanceOf(IntegrityError);
      await expect(service.upload(key, failingStream(new Error('cut')))).rejects.toThrow('cut');
      expect((await readAll(await service.download(key))).toString()).toBe('original');
      expect(await filesBelow(root)).toHaveLength(1);
    });
  });

  describe('missing objects and fs failures (checklist 28)', () => {
    it('a key that is only a folder of other keys is missing', async () => {
      await service.upload('abcd/x', Buffer.from('x'));
      expect(await service.exists('abcd')).toBe(false);
      await expect(service.download('abcd')).rejects.toBeInstanceOf(FileNotFoundError);
      await expect(service.downloadRange('abcd', 0, 0)).rejects.toBeInstanceOf(FileNotFoundError);
      await service.delete('abcd');
      expect(await service.exists('abcd/x')).toBe(true);
    });

    it('an fs failure is a StorageAccessError with the fs error as cause, and no temp file is left', async () => {
      await service.upload('abcd/x', Buffer.from('x'));
      const error = await service.upload('abcd', Buffer.from('y')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageAccessError);
      expect((error as StorageAccessError).cause).toHaveProperty('code');
      expect(await filesBelow(root)).toEqual(['ab/cd/abcd/x']);
    });

    it('a root that is a file gives StorageAccessError on upload and missing on read', async () => {
      const file = path.join(x, 'plain-file');
      await writeFile(file, 'not a directory');
      const broken = new DiskService({ name: 'broken', root: file });
      await expect(broken.upload(generateKey(), Buffer.from('x'))).rejects.toBeInstanceOf(StorageAccessError);
      await expect(broken.download(generateKey())).rejects.toBeInstanceOf(FileNotFoundError);
      expect(await broken.exists(generateKey())).toBe(false);
      expect(await readFile(file, 'utf8')).toBe('not a directory');
    });
  });

  describe('URLs, headers and printing', () => {
    const secret = 'super-secret-signing-key';
    const urls = { secret, download: (key: string) => `/d/${key}`, upload: (key: string) => `/u/${key}` };
    const urlOptions = { expiresIn: 60, disposition: 'inline' as const, filename: 'f.txt', contentType: 'text/plain' };
    const uploadOptions = { expiresIn: 60, contentType: 'text/plain', contentLength: 1, checksum: md5Base64('x') };

    it('without a URL builder, url and urlForDirectUpload throw ConfigurationError naming the service', async () => {
      await expect(service.url('abcd', urlOptions)).rejects.toThrow(/Service "local" cannot build URLs/);
      await expect(service.urlForDirectUpload('abcd', uploadOptions)).rejects.toBeInstanceOf(ConfigurationError);
    });

    it('with a URL builder, URLs are delegated to it', async () => {
      const signed = new DiskService({ name: 'local', root, urls });
      expect(await signed.url('abcd', urlOptions)).toBe('/d/abcd');
      expect(await signed.urlForDirectUpload('abcd', uploadOptions)).toBe('/u/abcd');
    });

    it.each([
      [undefined, undefined, undefined],
      ['report.pdf', 'attachment', `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`],
      ['a".html', undefined, `inline; filename="a-.html"; filename*=UTF-8''a-.html`],
      ['x\r\nSet-Cookie: a=b', 'inline', `inline; filename="x--Set-Cookie- a=b"; filename*=UTF-8''x--Set-Cookie-%20a%3Db`],
      ['r\u00e9sum\u00e9\u202e.pdf', 'inline', `inline; filename="r_sum_-.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9-.pdf`],
    ] as const)('headersForDirectUpload(filename %j, %s)', (filename, disposition, expected) => {
      const headers = service.headersForDirectUpload('abcd', { contentType: 'image/png', checksum: 'c', filename, disposition });
      expect(headers).toEqual({ 'Content-Type': 'image/png', 'Content-MD5': 'c', ...(expected ? { 'Content-Disposition': expected } : {}) });
    });

    it('toJSON and inspect show only name, adapter and root', () => {
      const signed = new DiskService({ name: 'local', root, urls });
      expect(JSON.parse(JSON.stringify(signed))).toEqual({ name: 'local', adapter: 'Disk', root });
      for (const printed of [inspect(signed), inspect(signed, { showHidden: true, depth: 9 }), JSON.stringify({ signed })]) {
        expect(printed).toContain(root);
        expect(printed).not.toContain(secret);
      }
    });
  });

  describe('diskAdapter', () => {
    const context = { name: 'local', appRoot: '/srv/app' } as ServiceContext;
    it('resolves a relative root against the app root and keeps an absolute one', () => {
      const printed = (settings: Record<string, unknown>): unknown => JSON.parse(JSON.stringify(diskAdapter.create(settings, context)));
      expect(printed({ root: 'storage' })).toEqual({ name: 'local', adapter: 'Disk', root: path.resolve('/srv/app/storage') });
      expect(printed({ root, public: true })).toEqual({ name: 'local', adapter: 'Disk', root });
      expect(diskAdapter.settings).toEqual(['root', 'public']);
      expect(diskAdapter.required).toEqual(['root']);
    });

    it.each([
      ['a missing root', {}, /"root"/], ['an empty root', { root: '  ' }, /"root"/], ['a numeric root', { root: 5 }, /"root"/],
      ['a string public', { root: 'x', public: 'yes' }, /"public"/],
    ])('rejects %s with ConfigurationError naming the setting', (_label, settings, message) => {
      expect(() => diskAdapter.create(settings, context)).toThrow(ConfigurationError);
      expect(() => diskAdapter.create(settings, context)).toThrow(message);
    });
  });
});
