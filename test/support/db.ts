import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { inject } from 'vitest';
import { attacheEntities } from '../../src/records/index.ts';
import { createActiveStorageTablesMigration, type RecordIdType } from '../../src/migrations/active-storage-schema.ts';

export interface TestDataSourceOptions {
  /** The test's own entities, added to attache's. */
  entities?: Function[];
  /** record_id's column type; defaults to bigint. */
  recordIdType?: RecordIdType;
  /** Statements run after the migrations, to create the test's own tables (`users`, …). */
  sql?: string[];
  /** Set false to get an empty schema and run `dataSource.runMigrations()` yourself. */
  runMigrations?: boolean;
  /** Connect through this URL instead (a fault proxy in front of the run's database). */
  connectUrl?: string;
  /** Connection pool size (TypeORM's default is 10). */
  poolSize?: number;
}

export interface TestDataSource {
  dataSource: DataSource;
  /** The schema every connection of `dataSource` uses (search_path), unique to this call. */
  schema: string;
  /** Drops the schema with everything in it and destroys the DataSource. Idempotent. */
  close(): Promise<void>;
}

/**
 * Returns an initialized DataSource on the run's database (see global-setup) whose connections
 * live in a fresh schema `t_<random>`, with attache's tables made by the migration, never by
 * synchronize. Call close() in afterAll.
 */
export async function openTestDataSource(options: TestDataSourceOptions = {}): Promise<TestDataSource> {
  const url = inject('databaseUrl');
  const schema = `t_${randomBytes(6).toString('hex')}`;
  await execute(url, `CREATE SCHEMA "${schema}"`);
  const dataSource = new DataSource({
    type: 'postgres',
    url: options.connectUrl ?? url,
    extra: { options: `-c search_path=${schema}`, application_name: schema, ...(options.poolSize !== undefined && { max: options.poolSize }) },
    entities: [...attacheEntities, ...(options.entities ?? [])],
    migrations: [createActiveStorageTablesMigration({ recordIdType: options.recordIdType ?? 'bigint' })],
    migrationsRun: false,
    synchronize: false,
    logging: false,
  });
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      if (dataSource.isInitialized) await dataSource.destroy();
      await execute(url, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    })());
  try {
    await dataSource.initialize();
    if (options.runMigrations !== false) await dataSource.runMigrations({ transaction: 'all' });
    for (const statement of options.sql ?? []) await dataSource.query(statement);
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
  return { dataSource, schema, close };
}

/** Runs one statement on a connection of its own, outside any test schema. */
async function execute(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
