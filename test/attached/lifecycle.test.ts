import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttachmentError, Attachment, Blob, PersistenceError } from '../../src/index.ts';
import { openAttache, type AttacheFixture } from '../support/attache.ts';
import { User } from '../support/entities.ts';
import { filesUnder } from '../support/storage.ts';

let f: AttacheFixture;
const repo = () => f.db.dataSource.getRepository(User);
const blobs = () => f.db.dataSource.getRepository(Blob);
const attachments = () => f.db.dataSource.getRepository(Attachment);

beforeAll(async () => {
  f = await openAttache();
  // Any blob named boom.txt makes its INSERT fail: a database failure in the middle of attach.
  await f.db.dataSource.query(`
    CREATE FUNCTION fail_boom() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.filename = 'boom.txt' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$;
    CREATE TRIGGER fail_boom BEFORE INSERT ON active_storage_blobs FOR EACH ROW EXECUTE FUNCTION fail_boom();`);
});
afterAll(() => f.close());

async function newUser(name = 'Ada'): Promise<User> {
  return repo().save(repo().create({ name }));
}
const exists = (key: string, service = 'local') => f.attache.service(service).exists(key);

describe('has-one replace', () => {
  it('swaps the attachment and purges the old blob after commit', async () => {
    const user = await newUser();
    await user.avatar.attach({ io: Buffer.from('old'), filename: 'old.txt' });
    const old = (await user.avatar.blob())!;
    await user.avatar.attach({ io: Buffer.from('new'), filename: 'new.txt' });
    await f.attache.drain();
    expect((await user.avatar.blob())!.filename).toBe('new.txt');
    expect(await attachments().countBy({ recordId: String(user.id), name: 'avatar' })).toBe(1);
    expect(await blobs().findOneBy({ id: old.id })).toBeNull();
    expect(await exists(old.key)).toBe(false);
  });

  it('rolls back cleanly: the old file stays attached and downloadable, the new object is removed (checklist 25)', async () => {
    const user = await newUser();
    await user.avatar.attach({ io: Buffer.from('keep me'), filename: 'keep.txt' });
    const before = await filesUnder(f.local);
    await expect(user.avatar.attach({ io: Buffer.from('never'), filename: 'boom.txt' })).rejects.toBeInstanceOf(PersistenceError);
    await f.attache.drain();
    expect(await filesUnder(f.local)).toEqual(before);
    const fresh = (await repo().findOneBy({ id: user.id }))!;
    expect((await fresh.avatar.blob())!.filename).toBe('keep.txt');
    expect((await fresh.avatar.download()).toString()).toBe('keep me');
  });

  it('two concurrent attaches leave exactly one attachment and one stored file (checklist 26)', async () => {
    const user = await newUser();
    const twin = (await repo().findOneBy({ id: user.id }))!;
    await Promise.all([user.avatar.attach({ io: Buffer.from('first'), filename: 'a.txt' }), twin.avatar.attach({ io: Buffer.from('second'), filename: 'b.txt' })]);
    await f.attache.drain();
    const rows = await attachments().find({ where: { recordId: String(user.id), name: 'avatar' }, relations: { blob: true } });
    expect(rows).toHaveLength(1);
    const winner = rows[0]!.blob!;
    expect(await exists(winner.key)).toBe(true);
    expect(await blobs().countBy({ filename: winner.filename === 'a.txt' ? 'b.txt' : 'a.txt' })).toBe(0);
  });
});

describe('unsaved records', () => {
  it('stages attach until save, then uploads and writes the rows', async () => {
    const user = repo().create({ name: 'Staged' });
    await user.avatar.attach({ io: Buffer.from('staged bytes'), filename: 'staged.txt' });
    await user.documents.attach([Buffer.from('d1'), Buffer.from('d2')]);
    expect(await user.avatar.attached()).toBe(true);
    expect(await blobs().countBy({ filename: 'staged.txt' })).toBe(0);
    await repo().save(user);
    expect((await user.avatar.download()).toString()).toBe('staged bytes');
    expect(await user.documents.count()).toBe(2);
  });

  it('removes the uploaded objects when the save rolls back', async () => {
    const before = await filesUnder(f.local);
    const user = repo().create({ name: 'Rolled back' });
    await user.avatar.attach({ io: Buffer.from('doomed'), filename: 'doomed.txt' });
    await expect(
      f.db.dataSource.transaction(async (manager) => {
        await manager.save(user);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await filesUnder(f.local)).toEqual(before);
    expect(await blobs().countBy({ filename: 'doomed.txt' })).toBe(0);
  });

  it('a failing row write during save rolls the save back and keeps no object', async () => {
    const before = await filesUnder(f.local);
    const user = repo().create({ name: 'Boom' });
    await user.avatar.attach({ io: Buffer.from('x'), filename: 'boom.txt' });
    await expect(repo().save(user)).rejects.toThrow();
    expect(await repo().countBy({ name: 'Boom' })).toBe(0);
    expect(await filesUnder(f.local)).toEqual(before);
  });
});

describe('dependent and shared blobs', () => {
  it('repository.remove purges per dependent: purge now, purge_later via the queue', async () => {
    const user = await newUser();
    await user.avatar.attach(Buffer.from('avatar'));
    await user.documents.attach([Buffer.from('doc')]);
    const keys = [(await user.avatar.blob())!, ...(await user.documents.blobs())].map((b) => [b.key, b.serviceName] as const);
    const id = user.id;
    await repo().remove(user);
    await f.attache.drain();
    expect(await attachments().countBy({ recordType: 'User', recordId: String(id) })).toBe(0);
    for (const [key, service] of keys) {
      expect(await blobs().countBy({ key })).toBe(0);
      expect(await exists(key, service)).toBe(false);
    }
  });

  it('keeps a blob attached elsewhere, and refuses to purge it directly (checklist 27)', async () => {
    const ada = await newUser('Ada');
    const bob = await newUser('Bob');
    await ada.avatar.attach(Buffer.from('shared'));
    const shared = (await ada.avatar.blob())!;
    await bob.avatar.attach(shared);
    await ada.avatar.purge();
    await f.attache.drain();
    expect((await bob.avatar.download()).toString()).toBe('shared');
    await expect(shared.purge()).rejects.toBeInstanceOf(AttachmentError);
    expect(await exists(shared.key)).toBe(true);
    await bob.avatar.purge();
    expect(await exists(shared.key)).toBe(false);
    await shared.purge();
  });
});

describe('withAttached', () => {
  it('loads attachments of N records in at most 2 queries, then accessors do not query', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      const user = await newUser(`batch-${i}`);
      if (i % 2 === 0) await user.avatar.attach(Buffer.from(`avatar ${i}`));
      ids.push(user.id);
    }
    const users = await repo().findBy(ids.map((id) => ({ id })));
    const queries: string[] = [];
    const original = f.db.dataSource.driver.createQueryRunner.bind(f.db.dataSource.driver);
    f.db.dataSource.driver.createQueryRunner = (mode) => {
      const runner = original(mode);
      const query = runner.query.bind(runner);
      runner.query = ((sql: string, ...rest: unknown[]) => {
        queries.push(sql);
        return (query as (...args: unknown[]) => unknown)(sql, ...rest);
      }) as typeof runner.query;
      return runner;
    };
    try {
      await f.attache.withAttached(users, 'avatar');
      expect(queries.length).toBeLessThanOrEqual(2);
      const loaded = queries.length;
      const attached = await Promise.all(users.map((u) => u.avatar.attached()));
      const sizes = await Promise.all(users.map(async (u) => (await u.avatar.blob())?.byteSize ?? null));
      expect(queries.length).toBe(loaded);
      expect(attached.filter(Boolean)).toHaveLength(3);
      expect(sizes.filter((s) => s !== null)).toHaveLength(3);
    } finally {
      f.db.dataSource.driver.createQueryRunner = original;
    }
  });
});

describe('records with uuid keys', () => {
  it('is covered by the uuid migration option, with a per-record service choice', async () => {
    const uuid = await openAttacheWithUuid();
    try {
      const { Project } = await import('../support/entities.ts');
      const projects = uuid.db.dataSource.getRepository(Project);
      const project = await projects.save(projects.create({ id: randomUUID(), title: 'P' }));
      await project.logo.attach(Buffer.from('logo'));
      expect((await project.logo.download()).toString()).toBe('logo');
      await project.report.attach(Buffer.from('current'));
      const old = await projects.save(projects.create({ id: randomUUID(), title: 'old plans' }));
      await old.report.attach(Buffer.from('archived'));
      expect((await project.report.blob())!.serviceName).toBe('local');
      expect((await old.report.blob())!.serviceName).toBe('archive');
      await projects.remove([project, old]);
      expect(await uuid.db.dataSource.getRepository(Attachment).count()).toBe(0);
    } finally {
      await uuid.close();
    }
  });
});

async function openAttacheWithUuid() {
  return (await import('../support/attache.ts')).openAttache({ recordIdType: 'uuid' });
}
