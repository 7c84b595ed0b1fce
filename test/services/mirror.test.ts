import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { ConfigurationError, IntegrityError } from '../../src/core/errors.ts';
import { generateKey } from '../../src/core/keys.ts';
import { configFromObject } from '../../src/services/config.ts';
import { DiskService } from '../../src/services/disk/DiskService.ts';
import { MirrorService } from '../../src/services/mirror/MirrorService.ts';
import { ServiceRegistry } from '../../src/services/registry.ts';
import '../../src/services/builtins.ts';
import type { StorageService } from '../../src/services/Service.ts';
import { failingStream, readAll, serviceContract } from '../../src/testing/contract.ts';

async function mirrorOfTwoDisks(): Promise<{ service: MirrorService; roots: string[]; cleanup(): Promise<void> }> {
  const roots = await Promise.all([0, 1, 2].map((i) => mkdtemp(path.join(tmpdir(), `attache-mirror-${i}-`))));
  const config = configFromObject({
    main: { service: 'Disk', root: roots[0] },
    copy1: { service: 'Disk', root: roots[1] },
    copy2: { service: 'Disk', root: roots[2] },
    mirrored: { service: 'Mirror', primary: 'main', mirrors: ['copy1', 'copy2'] },
  });
  const service = new ServiceRegistry(config, { defaultService: 'mirrored' }).service() as MirrorService;
  return { service, roots, cleanup: async () => void (await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })))) };
}

serviceContract('MirrorService', mirrorOfTwoDisks, {
  // A temp file left on a mirror (not the primary): listed with that service's name, and discarded there.
  leavePendingWrite: async (service) => void (await ((service as MirrorService).mirrors[1] as DiskService).stageUpload(generateKey(), Buffer.from('left'))),
});

describe('MirrorService', () => {
  let subject: Awaited<ReturnType<typeof mirrorOfTwoDisks>>;
  beforeAll(async () => {
    subject = await mirrorOfTwoDisks();
  });
  afterAll(() => subject.cleanup());

  it('writes every object to the primary and each mirror, and deletes it from all', async () => {
    const key = generateKey();
    const bytes = Buffer.from('mirrored bytes');
    await subject.service.upload(key, bytes);
    for (const service of [subject.service.primary, ...subject.service.mirrors]) {
      expect(await readAll(await service.download(key))).toEqual(bytes);
    }
    await subject.service.delete(key);
    for (const service of [subject.service.primary, ...subject.service.mirrors]) expect(await service.exists(key)).toBe(false);
  });

  it('keeps no copy anywhere when the upload fails', async () => {
    const key = generateKey();
    await expect(subject.service.upload(key, Buffer.from('x'), { checksum: md5Base64('y') })).rejects.toBeInstanceOf(IntegrityError);
    await expect(subject.service.upload(key, failingStream(new Error('boom'), 1000))).rejects.toThrow('boom');
    for (const service of [subject.service.primary, ...subject.service.mirrors]) expect(await service.exists(key)).toBe(false);
  });

  it('removes the copies already made when a mirror fails', async () => {
    const broken: StorageService = Object.assign(Object.create(DiskService.prototype) as DiskService, {
      name: 'broken',
      upload: () => Promise.reject(new IntegrityError('mirror refused')),
    });
    const { primary, mirrors } = subject.service;
    const mirror = new MirrorService('m', primary, [mirrors[0]!, broken]);
    const key = generateKey();
    await expect(mirror.upload(key, Buffer.from('partial'))).rejects.toThrow('mirror refused');
    expect(await primary.exists(key)).toBe(false);
    expect(await mirrors[0]!.exists(key)).toBe(false);
  });

  it.each([
    [{ primary: 'main' }, /missing the required setting "mirrors"/],
    [{ primary: 'main', mirrors: 'copy1' }, /invalid "mirrors"/],
    [{ primary: 'main', mirrors: ['main'] }, /invalid "mirrors"/],
    [{ primary: 'nope', mirrors: ['copy1'] }, /Unknown storage service "nope"/],
  ])('rejects a bad mirror block %o', (block, message) => {
    const config = configFromObject({ main: { service: 'Disk', root: '/tmp/a' }, copy1: { service: 'Disk', root: '/tmp/b' }, m: { service: 'Mirror', ...block } });
    const registry = new ServiceRegistry(config, { defaultService: 'm' });
    expect(() => registry.service()).toThrow(ConfigurationError);
    expect(() => registry.service()).toThrow(message);
  });
});
