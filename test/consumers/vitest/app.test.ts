// An app test on Memory storage: the README's "An in-memory service for your app's tests".
import { DataSource, EntitySchema } from 'typeorm';
import { afterAll, expect, it } from 'vitest';
import { Attache, attacheEntities, hasOneAttached, type AttachedOne } from 'attache';
import { memoryServices, type MemoryService } from 'attache/testing';
import { CreateActiveStorageTables1700000000000 } from 'attache/migrations/1700000000000-CreateActiveStorageTables';

class User {
  declare id: number;
  declare name: string;
  declare avatar: AttachedOne;
}
hasOneAttached()(User.prototype, 'avatar');
const UserSchema = new EntitySchema<User>({ name: 'User', target: User, tableName: 'users', columns: { id: { type: 'int', primary: true, generated: true }, name: { type: 'varchar' } } });

const dataSource = new DataSource({ type: 'postgres', url: process.env.DATABASE_URL, entities: [...attacheEntities, UserSchema], migrations: [CreateActiveStorageTables1700000000000] });
await dataSource.initialize();
await dataSource.runMigrations();
await dataSource.query('CREATE TABLE IF NOT EXISTS users (id serial PRIMARY KEY, name varchar NOT NULL)');

const attache = await Attache.init({ dataSource, services: memoryServices('local', 'archive'), service: 'local', secret: 'a-test-secret-of-32-characters-or-more' });
afterAll(async () => {
  await attache.close();
  await dataSource.destroy();
});

it('attaches to Memory and leaves nothing behind after a purge', async () => {
  const users = dataSource.getRepository(User);
  const user = await users.save(users.create({ name: 'Ada' }));
  await user.avatar.attach(Buffer.from('…'));
  expect((attache.service('local') as MemoryService).keys()).toHaveLength(1); // the stored keys: check that nothing is left behind
  expect((await user.avatar.download()).toString()).toBe('…');
  await user.avatar.purge();
  expect((attache.service('local') as MemoryService).keys()).toEqual([]);
});
