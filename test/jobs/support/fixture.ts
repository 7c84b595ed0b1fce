import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { inject } from 'vitest';
import { Attache, hasOneAttached, type AttachedOne, type JobQueue } from '../../../src/index.ts';
import { pgBossQueue, type PgBossQueue, type PgBossQueueOptions } from '../../../src/jobs/pg-boss/index.ts';
import { TEST_SECRET } from '../../support/attache.ts';
import { openTestDataSource, type TestDataSource } from '../../support/db.ts';
import { User, usersTable } from '../../support/entities.ts';
import { removeDir, tempRoot } from '../../support/storage.ts';
import { registerTestDisk } from './test-disk.ts';
import { FAST_BOSS, testServices, type TestRoots } from './settings.ts';

export { FAST_BOSS, testServices, type TestRoots } from './settings.ts';

/** A scan's file lives on `mirrored`: a Mirror of `local` (primary) onto `archive`. */
@Entity({ name: 'scans' })
export class Scan {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar' }) title!: string;
  @hasOneAttached({ service: 'mirrored' }) file!: AttachedOne;
}

/** Any COMMIT that deleted an attachment of a record listed in fail_commit fails (a deferred trigger): a real rolled-back transaction at any call site. */
const failCommitSql = [
  'CREATE TABLE scans (id serial PRIMARY KEY, title varchar NOT NULL)',
  'CREATE TABLE fail_commit (record_id bigint PRIMARY KEY)',
  `CREATE FUNCTION fail_commit_check() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN IF EXISTS (SELECT 1 FROM fail_commit WHERE record_id = OLD.record_id) THEN RAISE EXCEPTION 'commit refused by the test'; END IF; RETURN NULL; END $$`,
  `CREATE CONSTRAINT TRIGGER fail_commit AFTER DELETE ON active_storage_attachments DEFERRABLE INITIALLY DEFERRED
   FOR EACH ROW EXECUTE FUNCTION fail_commit_check()`,
];

export interface JobsFixture {
  attache: Attache;
  db: TestDataSource;
  local: string;
  archive: string;
  roots: TestRoots;
  /** The pg-boss queue, when the fixture uses one. */
  queue?: PgBossQueue;
  /** pg-boss's schema (also set without a queue, for worker processes). */
  bossSchema: string;
  close(): Promise<void>;
}

export interface JobsFixtureOptions {
  /** 'pg-boss' (default options below, overridable) or 'in-process'. */
  queue: 'pg-boss' | 'in-process';
  pgBoss?: PgBossQueueOptions;
  /** Settings of the `local` TestDisk (stall_file, slow_ms, fail_deletes). */
  local?: Record<string, unknown>;
}

export async function openJobsFixture(options: JobsFixtureOptions): Promise<JobsFixture> {
  registerTestDisk();
  const db = await openTestDataSource({ entities: [User, Scan], sql: [usersTable, ...failCommitSql] });
  const local = await tempRoot('jobs-local');
  const archive = await tempRoot('jobs-archive');
  const roots: TestRoots = { local, archive, broken: await tempRoot('jobs-broken') };
  const bossSchema = `pgb_${randomBytes(5).toString('hex')}`;
  const queue = options.queue === 'pg-boss' ? pgBossQueue(db.dataSource, { schema: bossSchema, ...FAST_BOSS, ...options.pgBoss }) : undefined;
  const attache = await Attache.init({
    dataSource: db.dataSource,
    services: testServices(roots, options.local),
    service: 'local',
    secret: TEST_SECRET,
    ...(queue && { queue: queue as JobQueue }),
  });
  return {
    attache,
    db,
    local,
    archive,
    roots,
    ...(queue && { queue }),
    bossSchema,
    async close() {
      await attache.close();
      await dropSchema(bossSchema);
      await db.close();
      for (const root of Object.values(roots)) await removeDir(root);
    },
  };
}

/** Runs one query on a connection of its own (outside the test schema). */
export async function query<T = Record<string, unknown>>(sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: inject('databaseUrl') });
  await client.connect();
  try {
    return (await client.query(sql, values)).rows as T[];
  } finally {
    await client.end();
  }
}

/** pg-boss jobs of the attache queue (live and archived), optionally only those whose data matches. */
export async function bossJobs(schema: string, data?: Record<string, string>): Promise<Array<{ id: string; state: string; retry_count: number; data: Record<string, string>; output: unknown }>> {
  const filter = data ? 'AND data @> $2::jsonb' : '';
  const values = data ? ['attache', JSON.stringify(data)] : ['attache'];
  return query(
    `SELECT id, state, retry_count, data, output FROM ${schema}.job WHERE name = $1 ${filter}
     UNION ALL SELECT id, state, retry_count, data, output FROM ${schema}.archive WHERE name = $1 ${filter}`,
    values,
  );
}

async function dropSchema(schema: string): Promise<void> {
  await query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}
