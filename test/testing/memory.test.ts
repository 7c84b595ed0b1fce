import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Attache, ConfigurationError } from '../../src/index.ts';
import { MemoryService, memoryServices, serviceContract } from '../../src/testing/index.ts';
import { Blob } from '../../src/records/index.ts';
import { openTestDataSource, type TestDataSource } from '../support/db.ts';
import { User, usersTable } from '../support/entities.ts';
import { serve } from '../http/harness.ts';
import { TEST_SECRET } from '../support/attache.ts';

serviceContract('MemoryService', async () => ({ service: new MemoryService('memory'), cleanup: async () => {} }));

describe('Memory as an app test service', () => {
  let db: TestDataSource;
  let attache: Attache;
  const memory = (name: string) => attache.service(name) as MemoryService;

  beforeAll(async () => {
    db = await openTestDataSource({ entities: [User], sql: [usersTable] });
    attache = await Attache.init({ dataSource: db.dataSource, services: memoryServices('local', 'archive'), service: 'local', secret: TEST_SECRET });
  });
  afterAll(async () => {
    await attache?.close();
    await db?.close();
  });

  it('memoryServices names one Memory service per name, `memory` by default', () => {
    expect(memoryServices()).toEqual({ memory: { service: 'Memory' } });
    expect(memoryServices('local', 'archive')).toEqual({ local: { service: 'Memory' }, archive: { service: 'Memory' } });
    expect(memory('local')).toBeInstanceOf(MemoryService);
    expect(memory('local')).not.toBe(memory('archive'));
  });

  it('attaches, downloads and serves through the proxy route, then purges without leftovers', async () => {
    const users = db.dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'Ada' }));
    const bytes = Buffer.from('%PDF-1.4 memory test\n');
    await user.avatar.attach({ io: bytes, filename: 'a.pdf' });
    await user.documents.attach([Buffer.from('one'), Buffer.from('two')]);

    const blob = (await user.avatar.blob())!;
    expect(memory('local').keys()).toEqual([blob.key]);
    expect(memory('archive').keys()).toHaveLength(2);
    expect((await user.avatar.download()).equals(bytes)).toBe(true);
    expect(await user.avatar.url()).toBe(`memory://local/${blob.key}?disposition=inline`);

    const served = await serve(attache.handler());
    try {
      const response = await fetch(`${served.base}${blob.proxyUrl()}`);
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
    } finally {
      await served.close();
    }

    await users.remove(user);
    await attache.drain();
    expect(memory('local').keys()).toEqual([]);
    expect(memory('archive').keys()).toEqual([]);
    expect(await db.dataSource.getRepository(Blob).count()).toBe(0);
  });

  it('works as `service: Memory` in a storage.yml once attache/testing is imported', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'attache-memory-yml-'));
    try {
      const file = path.join(dir, 'storage.yml');
      await writeFile(file, 'test:\n  service: Memory\n');
      const fromFile = await Attache.init({ dataSource: db.dataSource, configFile: file, secret: TEST_SECRET });
      try {
        expect(fromFile.service()).toBeInstanceOf(MemoryService);
        expect(fromFile.service().name).toBe('test');
      } finally {
        await fromFile.close();
      }
      await writeFile(file, 'test:\n  service: Memory\n  root: /tmp\n');
      // An unknown setting of the default service fails at init, before anything is stored.
      await expect(Attache.init({ dataSource: db.dataSource, configFile: file, secret: TEST_SECRET })).rejects.toThrow(ConfigurationError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
