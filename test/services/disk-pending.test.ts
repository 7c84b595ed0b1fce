import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { ArgumentError, IntegrityError, InvalidKeyError, StorageAccessError } from '../../src/core/errors.ts';
import { generateKey } from '../../src/core/keys.ts';
import { DiskService } from '../../src/services/disk/DiskService.ts';
import { folderFor, TEMP_DIR } from '../../src/services/disk/paths.ts';
import type { PendingWrite } from '../../src/services/Service.ts';
import { collect, readAll } from '../../src/testing/contract.ts';

let base: string;
let root: string;
let service: DiskService;
beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'attache-disk-pending-'));
  root = path.join(base, 'store');
  service = new DiskService({ name: 'local', root });
});
afterEach(() => rm(base, { recursive: true, force: true }));

const tempNames = async (): Promise<string[]> => (await readdir(path.join(root, TEMP_DIR)).catch(() => [])).sort();

describe('stageUpload: verified bytes out of sight until commit()', () => {
  it('is invisible until commit, then stored; commit is idempotent and discard after it changes nothing', async () => {
    const key = generateKey();
    const data = randomBytes(5000);
    const staged = await service.stageUpload(key, data, { checksum: md5Base64(data) });
    expect(staged).toMatchObject({ checksum: md5Base64(data), byteSize: 5000 });
    expect(await service.exists(key)).toBe(false);
    expect(await tempNames()).toHaveLength(1);
    await Promise.all([staged.commit(), staged.commit()]);
    await staged.commit();
    await staged.discard();
    expect((await readAll(await service.download(key))).equals(data)).toBe(true);
    expect(await tempNames()).toEqual([]);
  });

  it('discard() drops the bytes, is idempotent, and commit() afterwards is an ArgumentError that stores nothing', async () => {
    const key = generateKey();
    const staged = await service.stageUpload(key, Buffer.from('not wanted'));
    await staged.discard();
    await staged.discard();
    await expect(staged.commit()).rejects.toBeInstanceOf(ArgumentError);
    expect(await service.exists(key)).toBe(false);
    expect(await tempNames()).toEqual([]);
  });

  it('a staged file swept by discardPendingWrite makes commit() a StorageAccessError, and nothing is left', async () => {
    const key = generateKey();
    const staged = await service.stageUpload(key, Buffer.from('swept'));
    const [write] = await collect(service.listPendingWrites());
    await service.discardPendingWrite(write!);
    await expect(staged.commit()).rejects.toBeInstanceOf(StorageAccessError);
    expect(await service.exists(key)).toBe(false);
    expect(await tempNames()).toEqual([]);
  });

  it.each([
    ['a wrong checksum', () => service.stageUpload(generateKey(), Buffer.from('x'), { checksum: md5Base64('y') }), IntegrityError],
    ['a traversal key, before any byte is read', () => service.stageUpload('../../etc/passwd', Buffer.from('x')), InvalidKeyError],
  ])('%s is refused and leaves no temp file', async (_label, stage, type) => {
    await expect(stage()).rejects.toBeInstanceOf(type);
    expect(await tempNames()).toEqual([]);
  });
});

describe('listPendingWrites and discardPendingWrite (Disk temp files)', () => {
  it('a process killed with SIGKILL mid-write leaves a *.part file, which is listed and then discarded', async () => {
    const source = path.resolve(import.meta.dirname, '../../src/services/disk/DiskService.ts');
    // The child streams an endless body into upload() and says when the first bytes are on disk.
    const code = `
      import { Readable } from 'node:stream';
      import { DiskService } from ${JSON.stringify(source)};
      const service = new DiskService({ name: 'local', root: ${JSON.stringify(root)} });
      let sent = 0;
      const endless = new Readable({ read() { sent += 65536; this.push(Buffer.alloc(65536, 1)); if (sent === 1048576) console.log('written'); } });
      await service.upload('killed-mid-write', endless);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('written') && resolve()));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));

    const pending = await collect(service.listPendingWrites());
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ kind: 'temp-file', service: 'local' });
    expect(pending[0]!.id).toMatch(/^[0-9a-f-]{36}\.part$/);
    expect(pending[0]!.key).toBeUndefined();
    expect(pending[0]!.startedAt.getTime()).toBeLessThanOrEqual(Date.now());
    expect(await service.exists('killed-mid-write')).toBe(false);
    expect(await collect(service.listObjects())).toEqual([]); // the temp folder is never listed as objects
    await service.discardPendingWrite(pending[0]!);
    expect(await collect(service.listPendingWrites())).toEqual([]);
    expect(await tempNames()).toEqual([]);
  });

  it.each(['../store/x', '../../etc/passwd', 'a/b', '', '.', '..', 'x\u0000y'])('refuses the temp-file id %j with ArgumentError and touches nothing', async (id) => {
    await writeFile(path.join(base, 'x'), 'canary');
    const write: PendingWrite = { kind: 'temp-file', id, startedAt: new Date() };
    await expect(service.discardPendingWrite(write)).rejects.toBeInstanceOf(ArgumentError);
    expect((await readdir(base)).sort()).toEqual(['x']);
  });

  it('refuses a multipart-upload write with ArgumentError', async () => {
    await expect(service.discardPendingWrite({ kind: 'multipart-upload', id: 'u', key: 'k', startedAt: new Date() })).rejects.toBeInstanceOf(ArgumentError);
  });

  it('lists nothing when no write ever started (no temp folder)', async () => {
    expect(await collect(service.listPendingWrites())).toEqual([]);
  });
});

describe('listObjects (Disk)', () => {
  it('never follows a symlink (file or folder) and skips files that are not where their key belongs', async () => {
    const kept = generateKey();
    await service.upload(kept, Buffer.from('real'));
    const outside = path.join(base, 'outside');
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret'), 'outside the root');
    const [first, second] = folderFor(kept);
    const folder = path.join(root, first, second);
    await symlink(path.join(outside, 'secret'), path.join(folder, `${kept}-link`));
    await symlink(outside, path.join(folder, `${kept}-dir`));
    await writeFile(path.join(folder, 'zzzz-stray'), 'not at its key\'s place');
    await writeFile(path.join(root, 'loose'), 'not in the layout');
    expect(await collect(service.listObjects())).toEqual([{ key: kept, byteSize: 4, lastModified: expect.any(Date) }]);
  });
});
