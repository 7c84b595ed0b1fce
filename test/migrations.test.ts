import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryFailedError, type DataSource } from 'typeorm';
import { Attachment, Blob, VariantRecord } from '../src/records/index.ts';
import { ArgumentError } from '../src/core/errors.ts';
import {
  createActiveStorageTablesMigration,
  railsForeignKeyName,
  type RecordIdType,
} from '../src/migrations/active-storage-schema.ts';
import { CreateActiveStorageTables1700000000000 } from '../migrations/1700000000000-CreateActiveStorageTables.ts';
import { openTestDataSource, type TestDataSource } from './support/db.ts';

/** What `bin/rails db:schema:dump` (structure.sql) holds for Rails 7.1's ActiveStorage tables. */
const RAILS_STRUCTURE_SQL = [
  `CREATE TABLE active_storage_attachments (
    id bigint NOT NULL, name character varying NOT NULL, record_type character varying NOT NULL,
    record_id bigint NOT NULL, blob_id bigint NOT NULL, created_at timestamp(6) without time zone NOT NULL)`,
  `CREATE SEQUENCE active_storage_attachments_id_seq START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1`,
  `ALTER SEQUENCE active_storage_attachments_id_seq OWNED BY active_storage_attachments.id`,
  `CREATE TABLE active_storage_blobs (
    id bigint NOT NULL, key character varying NOT NULL, filename character varying NOT NULL,
    content_type character varying, metadata text, service_name character varying NOT NULL,
    byte_size bigint NOT NULL, checksum character varying, created_at timestamp(6) without time zone NOT NULL)`,
  `CREATE SEQUENCE active_storage_blobs_id_seq START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1`,
  `ALTER SEQUENCE active_storage_blobs_id_seq OWNED BY active_storage_blobs.id`,
  `CREATE TABLE active_storage_variant_records (
    id bigint NOT NULL, blob_id bigint NOT NULL, variation_digest character varying NOT NULL)`,
  `CREATE SEQUENCE active_storage_variant_records_id_seq START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1`,
  `ALTER SEQUENCE active_storage_variant_records_id_seq OWNED BY active_storage_variant_records.id`,
  `ALTER TABLE ONLY active_storage_attachments ALTER COLUMN id SET DEFAULT nextval('active_storage_attachments_id_seq'::regclass)`,
  `ALTER TABLE ONLY active_storage_blobs ALTER COLUMN id SET DEFAULT nextval('active_storage_blobs_id_seq'::regclass)`,
  `ALTER TABLE ONLY active_storage_variant_records ALTER COLUMN id SET DEFAULT nextval('active_storage_variant_records_id_seq'::regclass)`,
  `ALTER TABLE ONLY active_storage_attachments ADD CONSTRAINT active_storage_attachments_pkey PRIMARY KEY (id)`,
  `ALTER TABLE ONLY active_storage_blobs ADD CONSTRAINT active_storage_blobs_pkey PRIMARY KEY (id)`,
  `ALTER TABLE ONLY active_storage_variant_records ADD CONSTRAINT active_storage_variant_records_pkey PRIMARY KEY (id)`,
  `CREATE INDEX index_active_storage_attachments_on_blob_id ON active_storage_attachments USING btree (blob_id)`,
  `CREATE UNIQUE INDEX index_active_storage_attachments_uniqueness ON active_storage_attachments USING btree (record_type, record_id, name, blob_id)`,
  `CREATE UNIQUE INDEX index_active_storage_blobs_on_key ON active_storage_blobs USING btree (key)`,
  `CREATE UNIQUE INDEX index_active_storage_variant_records_uniqueness ON active_storage_variant_records USING btree (blob_id, variation_digest)`,
  `ALTER TABLE ONLY active_storage_variant_records ADD CONSTRAINT fk_rails_993965df05 FOREIGN KEY (blob_id) REFERENCES active_storage_blobs(id)`,
  `ALTER TABLE ONLY active_storage_attachments ADD CONSTRAINT fk_rails_c3b3935057 FOREIGN KEY (blob_id) REFERENCES active_storage_blobs(id)`,
];

const IN_SCHEMA = `relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())`;

/** The ActiveStorage part of the current schema, as rows that compare with toEqual. */
async function introspect(dataSource: DataSource) {
  const columns = await dataSource.query(`
    SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
           a.attnotnull AS "notNull", pg_get_expr(d.adbin, d.adrelid) AS default
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE c.${IN_SCHEMA} AND c.relkind = 'r' AND c.relname LIKE 'active\\_storage\\_%'
       AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY c.relname, a.attnum`);
  const indexes = await dataSource.query(`
    SELECT t.relname AS table, i.relname AS index, x.indisunique AS unique, x.indisprimary AS primary,
           array(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, n)
                   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n) AS columns
      FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
     WHERE t.${IN_SCHEMA} AND t.relname LIKE 'active\\_storage\\_%'
     ORDER BY t.relname, i.relname`);
  const constraints = await dataSource.query(`
    SELECT t.relname AS table, c.conname AS name, c.contype AS kind, pg_get_constraintdef(c.oid) AS definition
      FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
     WHERE t.${IN_SCHEMA} AND t.relname LIKE 'active\\_storage\\_%'
       AND c.contype <> 'n' -- PostgreSQL 18 lists NOT NULL here too; the columns cover nullability
     ORDER BY t.relname, c.conname`);
  const relations = await dataSource.query(`
    SELECT relname AS name, relkind AS kind FROM pg_class
     WHERE ${IN_SCHEMA} AND (relname LIKE 'active\\_storage\\_%' OR relname LIKE 'index\\_%')
     ORDER BY relname`);
  return { columns, indexes, constraints, relations };
}

function col(table: string, column: string, type: string, notNull: boolean, dflt: string | null = null) {
  return { table, column, type, notNull, default: dflt };
}
const serial = (table: string) => col(table, 'id', 'bigint', true, `nextval('${table}_id_seq'::regclass)`);
const TS6 = 'timestamp(6) without time zone';
const VARCHAR = 'character varying';

function expectedColumns(recordIdType: string) {
  return [
    serial('active_storage_attachments'),
    col('active_storage_attachments', 'name', VARCHAR, true),
    col('active_storage_attachments', 'record_type', VARCHAR, true),
    col('active_storage_attachments', 'record_id', recordIdType, true),
    col('active_storage_attachments', 'blob_id', 'bigint', true),
    col('active_storage_attachments', 'created_at', TS6, true),
    serial('active_storage_blobs'),
    col('active_storage_blobs', 'key', VARCHAR, true),
    col('active_storage_blobs', 'filename', VARCHAR, true),
    col('active_storage_blobs', 'content_type', VARCHAR, false),
    col('active_storage_blobs', 'metadata', 'text', false),
    col('active_storage_blobs', 'service_name', VARCHAR, true),
    col('active_storage_blobs', 'byte_size', 'bigint', true),
    col('active_storage_blobs', 'checksum', VARCHAR, false),
    col('active_storage_blobs', 'created_at', TS6, true),
    serial('active_storage_variant_records'),
    col('active_storage_variant_records', 'blob_id', 'bigint', true),
    col('active_storage_variant_records', 'variation_digest', VARCHAR, true),
  ];
}

const EXPECTED_INDEXES = [
  { table: 'active_storage_attachments', index: 'active_storage_attachments_pkey', unique: true, primary: true, columns: ['id'] },
  { table: 'active_storage_attachments', index: 'index_active_storage_attachments_on_blob_id', unique: false, primary: false, columns: ['blob_id'] },
  {
    table: 'active_storage_attachments', index: 'index_active_storage_attachments_uniqueness', unique: true, primary: false,
    columns: ['record_type', 'record_id', 'name', 'blob_id'],
  },
  { table: 'active_storage_blobs', index: 'active_storage_blobs_pkey', unique: true, primary: true, columns: ['id'] },
  { table: 'active_storage_blobs', index: 'index_active_storage_blobs_on_key', unique: true, primary: false, columns: ['key'] },
  { table: 'active_storage_variant_records', index: 'active_storage_variant_records_pkey', unique: true, primary: true, columns: ['id'] },
  {
    table: 'active_storage_variant_records', index: 'index_active_storage_variant_records_uniqueness', unique: true, primary: false,
    columns: ['blob_id', 'variation_digest'],
  },
];

const EXPECTED_CONSTRAINTS = [
  { table: 'active_storage_attachments', name: 'active_storage_attachments_pkey', kind: 'p', definition: 'PRIMARY KEY (id)' },
  { table: 'active_storage_attachments', name: 'fk_rails_c3b3935057', kind: 'f', definition: 'FOREIGN KEY (blob_id) REFERENCES active_storage_blobs(id)' },
  { table: 'active_storage_blobs', name: 'active_storage_blobs_pkey', kind: 'p', definition: 'PRIMARY KEY (id)' },
  { table: 'active_storage_variant_records', name: 'active_storage_variant_records_pkey', kind: 'p', definition: 'PRIMARY KEY (id)' },
  { table: 'active_storage_variant_records', name: 'fk_rails_993965df05', kind: 'f', definition: 'FOREIGN KEY (blob_id) REFERENCES active_storage_blobs(id)' },
];

describe('railsForeignKeyName', () => {
  it.each([
    ['active_storage_attachments', 'blob_id', 'fk_rails_c3b3935057'],
    ['active_storage_variant_records', 'blob_id', 'fk_rails_993965df05'],
  ])('names %s.%s as Rails does', (table, column, expected) => {
    expect(railsForeignKeyName(table, column)).toBe(expected);
  });
});

describe('createActiveStorageTablesMigration', () => {
  it.each([['uuidv7'], ['integer'], ['']])('rejects recordIdType %j when the class is made', (recordIdType) => {
    expect(() => createActiveStorageTablesMigration({ recordIdType: recordIdType as RecordIdType })).toThrow(ArgumentError);
  });

  it('names the migration after its class, with the timestamp TypeORM wants', () => {
    expect(new CreateActiveStorageTables1700000000000().name).toBe('CreateActiveStorageTables1700000000000');
    class CreateActiveStorageTables1712345678901 extends createActiveStorageTablesMigration({ recordIdType: 'uuid' }) {}
    expect(new CreateActiveStorageTables1712345678901().name).toBe('CreateActiveStorageTables1712345678901');
  });

  it('keeps the bundled migration\'s recorded name when a minifier renames the class', async () => {
    const entry = fileURLToPath(new URL('../migrations/1700000000000-CreateActiveStorageTables.ts', import.meta.url));
    const built = await build({ entryPoints: [entry], bundle: true, minify: true, format: 'esm', platform: 'node', write: false, external: ['typeorm'] });
    const dir = await mkdtemp(path.join(tmpdir(), 'attache-minified-'));
    try {
      const file = path.join(dir, 'migration.mjs');
      await writeFile(file, built.outputFiles[0]!.contents);
      const minified = (await import(pathToFileURL(file).href)) as Record<string, new () => { name?: string }>;
      const Migration = minified['CreateActiveStorageTables1700000000000']!;
      expect(Migration.name).not.toBe('CreateActiveStorageTables1700000000000');
      expect(new Migration().name).toBe('CreateActiveStorageTables1700000000000');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('CreateActiveStorageTables migration', () => {
  let db: TestDataSource;
  beforeAll(async () => {
    db = await openTestDataSource();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('creates the columns, indexes and foreign keys Rails 7.1 creates', async () => {
    const schema = await introspect(db.dataSource);
    expect(schema.columns).toEqual(expectedColumns('bigint'));
    expect(schema.indexes).toEqual(EXPECTED_INDEXES);
    expect(schema.constraints).toEqual(EXPECTED_CONSTRAINTS);
  });

  it('is a no-op when run again with a fresh migrations table', async () => {
    const before = await introspect(db.dataSource);
    await db.dataSource.query('DROP TABLE "migrations"');
    const ran = await db.dataSource.runMigrations();
    expect(ran.map((m) => m.name)).toEqual(['CreateActiveStorageTables1700000000000']);
    expect(await introspect(db.dataSource)).toEqual(before);
  });

  it('stores a blob and an attachment through the entities and reads them back', async () => {
    const blobs = db.dataSource.getRepository(Blob);
    const metadata = { identified: true, analyzed: true, width: 640, encryption: { algorithm: 'aws:kms', keyId: 'k' } };
    const createdAt = new Date('2024-05-06T07:08:09.123Z');
    const saved = await blobs.save(blobs.create({
      key: 'abc123', filename: 'avatar.png', contentType: 'image/png', metadata,
      serviceName: 'local', byteSize: 3_000_000_000, checksum: 'CY9rzUYh03PK3k6DJie09g==', createdAt,
    }));
    const [raw] = await db.dataSource.query(
      `SELECT metadata, to_char(created_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS created_at FROM active_storage_blobs WHERE id = $1`,
      [saved.id],
    );
    expect(JSON.parse(raw.metadata)).toEqual(metadata);
    expect(raw.created_at).toBe('2024-05-06T07:08:09.123'); // UTC wall time, as Rails stores it

    const attachments = db.dataSource.getRepository(Attachment);
    await attachments.save(attachments.create({ name: 'avatar', recordType: 'User', recordId: '42', blobId: saved.id, createdAt }));
    const found = await attachments.findOneOrFail({ where: { recordType: 'User', recordId: '42', name: 'avatar' }, relations: { blob: true } });
    expect(found.createdAt).toEqual(createdAt);
    expect(found.blob).toMatchObject({ id: saved.id, key: 'abc123', metadata, byteSize: 3_000_000_000, contentType: 'image/png', createdAt });

    const variants = db.dataSource.getRepository(VariantRecord);
    await variants.save(variants.create({ blobId: saved.id, variationDigest: 'digest' }));
    expect(await variants.countBy({ blobId: saved.id })).toBe(1);
  });

  // Rails' schema has no DEFAULT on created_at (ActiveRecord stamps it), so the entities must:
  // TypeORM's CreateDateColumn would insert DEFAULT, i.e. NULL here.
  it('fills created_at when an entity is inserted without one', async () => {
    const blobs = db.dataSource.getRepository(Blob);
    const blob = await blobs.save(blobs.create({
      key: 'stamped', filename: 'a.txt', contentType: 'text/plain', metadata: {}, serviceName: 'local', byteSize: 1, checksum: null,
    }));
    const attachments = db.dataSource.getRepository(Attachment);
    await attachments.save(attachments.create({ name: 'doc', recordType: 'User', recordId: '43', blobId: blob.id }));
    const [row] = await db.dataSource.query(
      'SELECT b.created_at AS blob, a.created_at AS attachment FROM active_storage_attachments a JOIN active_storage_blobs b ON b.id = a.blob_id WHERE b.id = $1',
      [blob.id],
    );
    expect(row.blob).toBeInstanceOf(Date);
    expect(row.attachment).toBeInstanceOf(Date);
  });

  it('rejects an attachment whose blob does not exist', async () => {
    const attachments = db.dataSource.getRepository(Attachment);
    const error = await attachments
      .save(attachments.create({ name: 'avatar', recordType: 'User', recordId: '7', blobId: '999999', createdAt: new Date() }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryFailedError);
    expect(error).toMatchObject({ driverError: { code: '23503', constraint: 'fk_rails_c3b3935057' } });
  });

  it('drops the three tables on revert', async () => {
    const other = await openTestDataSource();
    try {
      await other.dataSource.undoLastMigration();
      expect((await introspect(other.dataSource)).relations).toEqual([]);
    } finally {
      await other.close();
    }
  });
});

describe('CreateActiveStorageTables where a Rails app already made the tables', () => {
  it('succeeds and changes nothing, and Rails and attache make the same schema', async () => {
    const rails = await openTestDataSource({ runMigrations: false });
    const ours = await openTestDataSource();
    try {
      for (const statement of RAILS_STRUCTURE_SQL) await rails.dataSource.query(statement);
      const before = await introspect(rails.dataSource);
      expect(before.columns).toEqual(expectedColumns('bigint'));

      const ran = await rails.dataSource.runMigrations();
      expect(ran).toHaveLength(1);
      expect(await introspect(rails.dataSource)).toEqual(before);
      expect(await introspect(ours.dataSource)).toEqual(before);
    } finally {
      await Promise.all([rails.close(), ours.close()]);
    }
  });
});

describe.each([
  ['uuid', 'uuid', '0b7e5c1e-8d4a-4b8e-9a43-3f2f1f6d2c11'],
  ['string', VARCHAR, 'user-42'],
] as const)('recordIdType %s', (recordIdType, sqlType, recordId) => {
  let db: TestDataSource;
  beforeAll(async () => {
    db = await openTestDataSource({ recordIdType, sql: ['CREATE TABLE users (id serial PRIMARY KEY, name text)'] });
  });
  afterAll(async () => {
    await db?.close();
  });

  it(`makes record_id ${sqlType} and leaves the rest as Rails has it`, async () => {
    const schema = await introspect(db.dataSource);
    expect(schema.columns).toEqual(expectedColumns(sqlType));
    expect(schema.indexes).toEqual(EXPECTED_INDEXES);
    expect(schema.constraints).toEqual(EXPECTED_CONSTRAINTS);
  });

  it('stores an attachment with such a record id', async () => {
    const blobs = db.dataSource.getRepository(Blob);
    const createdAt = new Date();
    const blob = await blobs.save(blobs.create({
      key: `k-${recordIdType}`, filename: 'a.txt', contentType: 'text/plain', metadata: {}, serviceName: 'local', byteSize: 1, checksum: null, createdAt,
    }));
    const attachments = db.dataSource.getRepository(Attachment);
    await attachments.save(attachments.create({ name: 'doc', recordType: 'User', recordId, blobId: blob.id, createdAt }));
    expect(await attachments.findOneByOrFail({ recordId })).toMatchObject({ recordId, blobId: blob.id });
    expect(await db.dataSource.query('SELECT count(*)::int AS n FROM users')).toEqual([{ n: 0 }]);
  });
});
