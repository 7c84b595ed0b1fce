import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { afterAll, describe, expect, it } from 'vitest';
import { Attache, ConfigurationError, hasManyAttached, hasOneAttached, type AttachedMany, type AttachedOne } from '../../src/index.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { openTestDataSource, type TestDataSource } from '../support/db.ts';
import { removeDir, tempRoot } from '../support/storage.ts';

/** What `avatar!: AttachedOne` compiles to with define semantics (ES2022 targets, esbuild, swc): an own property on every instance. */
@Entity({ name: 'shadowed' })
class Shadowed {
  @PrimaryGeneratedColumn() id!: number;
  @hasOneAttached() avatar!: AttachedOne;
  constructor() {
    Object.defineProperty(this, 'avatar', { value: undefined, writable: true, enumerable: true, configurable: true });
  }
}

/** The documented form: `declare` fields emit nothing, under any class-field semantics. */
@Entity({ name: 'declared' })
class Declared {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar' }) name!: string;
  @hasOneAttached() declare avatar: AttachedOne;
  @hasManyAttached() declare documents: AttachedMany;
}

const opened: TestDataSource[] = [];
afterAll(async () => {
  for (const db of opened) await db.close();
});

async function init(entity: Function, sql: string): Promise<{ attache: Attache; db: TestDataSource; root: string }> {
  const db = await openTestDataSource({ entities: [entity], sql: [sql] });
  opened.push(db);
  const root = await tempRoot('declare');
  const attache = await Attache.init({ dataSource: db.dataSource, services: { local: { service: 'Disk', root } }, secret: TEST_SECRET });
  return { attache, db, root };
}

describe('attachment fields and class-field semantics', () => {
  it('a class field that hides the accessor fails at init with a ConfigurationError that says to write declare', async () => {
    const attempt = init(Shadowed, 'CREATE TABLE shadowed (id serial PRIMARY KEY)');
    await expect(attempt).rejects.toBeInstanceOf(ConfigurationError);
    await expect(attempt).rejects.toThrow('@hasOneAttached() declare avatar: AttachedOne;');
  });

  it('declare fields work: attach, read back, and the has-many', async () => {
    const { attache, db, root } = await init(Declared, 'CREATE TABLE declared (id serial PRIMARY KEY, name varchar NOT NULL)');
    try {
      const repo = db.dataSource.getRepository(Declared);
      const record = await repo.save(repo.create({ name: 'Ada' }));
      await record.avatar.attach(Buffer.from('declared'));
      await record.documents.attach([Buffer.from('a'), Buffer.from('b')]);
      const loaded = (await repo.findOneBy({ id: record.id }))!;
      expect((await loaded.avatar.download()).toString()).toBe('declared');
      expect(await loaded.documents.count()).toBe(2);
    } finally {
      await attache.close();
      await removeDir(root);
    }
  });
});
