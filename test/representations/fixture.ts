import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { Attache, hasManyAttached, hasOneAttached, type AttachedMany, type AttachedOne, type AttacheOptions } from '../../src/index.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { openTestDataSource, type TestDataSource } from '../support/db.ts';
import { removeDir, tempRoot } from '../support/storage.ts';

/** The README's example, as a user writes it: declare fields, named variants, one preprocessed. */
@Entity({ name: 'members' })
export class Member {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar' }) name!: string;

  @hasOneAttached({
    contentTypes: ['image/png', 'image/jpeg', 'image/webp'],
    variants: { thumb: { resizeToLimit: [100, 100] }, card: { resizeToFill: [400, 300], format: 'webp', preprocessed: true } },
  })
  declare avatar: AttachedOne;

  @hasOneAttached({ variants: { cover: { resizeToLimit: [300, 300] } } }) declare report: AttachedOne;

  @hasManyAttached({ variants: { square: { resizeToFill: [64, 64] } } }) declare photos: AttachedMany;
}

export const membersTable = 'CREATE TABLE members (id serial PRIMARY KEY, name varchar NOT NULL)';

export interface Gallery {
  attache: Attache;
  db: TestDataSource;
  root: string;
  newMember(name?: string): Promise<Member>;
  close(): Promise<void>;
}

/** A schema with `members`, one Disk service and an Attache (representation options as given). */
export async function openGallery(options: Partial<AttacheOptions> = {}): Promise<Gallery> {
  const db = await openTestDataSource({ entities: [Member], sql: [membersTable] });
  const root = await tempRoot('gallery');
  const attache = await Attache.init({ dataSource: db.dataSource, services: { local: { service: 'Disk', root } }, service: 'local', secret: TEST_SECRET, ...options });
  const members = db.dataSource.getRepository(Member);
  return {
    attache,
    db,
    root,
    newMember: (name = 'Ada') => members.save(members.create({ name })),
    async close() {
      await attache.close();
      await db.close();
      await removeDir(root);
    },
  };
}

/** Counts the SQL statements sent while `fn` runs (every query runner of the DataSource). */
export async function countQueries<T>(db: TestDataSource, fn: () => Promise<T>): Promise<{ result: T; queries: string[] }> {
  const queries: string[] = [];
  const driver = db.dataSource.driver;
  const original = driver.createQueryRunner.bind(driver);
  driver.createQueryRunner = (mode) => {
    const runner = original(mode);
    const query = runner.query.bind(runner);
    runner.query = ((sql: string, ...rest: unknown[]) => {
      queries.push(sql);
      return (query as (...args: unknown[]) => unknown)(sql, ...rest);
    }) as typeof runner.query;
    return runner;
  };
  try {
    return { result: await fn(), queries };
  } finally {
    driver.createQueryRunner = original;
  }
}
