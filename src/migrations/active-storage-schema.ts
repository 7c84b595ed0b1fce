import { createHash } from 'node:crypto';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { ArgumentError } from '../core/errors.ts';

/** The column type of `active_storage_attachments.record_id`: match your records' primary keys. */
export type RecordIdType = 'bigint' | 'uuid' | 'string';

export interface ActiveStorageMigrationOptions {
  /** Defaults to `bigint`, as Rails does. `string` makes a `character varying` column. */
  recordIdType?: RecordIdType;
}

/** A TypeORM migration class; subclass it to give it your own name and timestamp. */
export type ActiveStorageMigrationClass = new () => MigrationInterface;

const RECORD_ID_SQL: Record<RecordIdType, string> = {
  bigint: 'bigint',
  uuid: 'uuid',
  string: 'character varying',
};

const BLOBS = 'active_storage_blobs';
const ATTACHMENTS = 'active_storage_attachments';
const VARIANT_RECORDS = 'active_storage_variant_records';

/**
 * Returns Rails' name for a foreign key: `fk_rails_` + the first 10 hex chars of
 * SHA256("<table>_<column>_fk") (ActiveRecord's `foreign_key_name`). Pure.
 */
export function railsForeignKeyName(table: string, column: string): string {
  return `fk_rails_${createHash('sha256').update(`${table}_${column}_fk`).digest('hex').slice(0, 10)}`;
}

/**
 * Returns the statements that create Rails 7.1's ActiveStorage tables and indexes, each a no-op
 * when the object already exists in the current schema. Foreign keys are added separately.
 */
export function activeStorageTableStatements(recordIdType: RecordIdType = 'bigint'): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS "${BLOBS}" (
      "id" bigserial PRIMARY KEY,
      "key" character varying NOT NULL,
      "filename" character varying NOT NULL,
      "content_type" character varying,
      "metadata" text,
      "service_name" character varying NOT NULL,
      "byte_size" bigint NOT NULL,
      "checksum" character varying,
      "created_at" timestamp(6) without time zone NOT NULL
    )`,
    `CREATE UNIQUE INDEX IF NOT EXISTS "index_active_storage_blobs_on_key" ON "${BLOBS}" ("key")`,
    `CREATE TABLE IF NOT EXISTS "${ATTACHMENTS}" (
      "id" bigserial PRIMARY KEY,
      "name" character varying NOT NULL,
      "record_type" character varying NOT NULL,
      "record_id" ${RECORD_ID_SQL[recordIdType]} NOT NULL,
      "blob_id" bigint NOT NULL,
      "created_at" timestamp(6) without time zone NOT NULL
    )`,
    `CREATE INDEX IF NOT EXISTS "index_active_storage_attachments_on_blob_id" ON "${ATTACHMENTS}" ("blob_id")`,
    `CREATE UNIQUE INDEX IF NOT EXISTS "index_active_storage_attachments_uniqueness"
      ON "${ATTACHMENTS}" ("record_type", "record_id", "name", "blob_id")`,
    `CREATE TABLE IF NOT EXISTS "${VARIANT_RECORDS}" (
      "id" bigserial PRIMARY KEY,
      "blob_id" bigint NOT NULL,
      "variation_digest" character varying NOT NULL
    )`,
    `CREATE UNIQUE INDEX IF NOT EXISTS "index_active_storage_variant_records_uniqueness"
      ON "${VARIANT_RECORDS}" ("blob_id", "variation_digest")`,
  ];
}

/** The blob foreign keys, as [table, column] pairs referencing `active_storage_blobs(id)`. */
const BLOB_FOREIGN_KEYS: ReadonlyArray<readonly [string, string]> = [
  [ATTACHMENTS, 'blob_id'],
  [VARIANT_RECORDS, 'blob_id'],
];

/**
 * Adds `table(column) → active_storage_blobs(id)` under Rails' name unless some foreign key already
 * covers that column (a Rails app may have made it), so running after Rails changes nothing.
 */
async function addBlobForeignKeyUnlessPresent(queryRunner: QueryRunner, table: string, column: string): Promise<void> {
  const existing: unknown[] = await queryRunner.query(
    `SELECT 1 FROM pg_constraint c
       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
      WHERE c.contype = 'f'
        AND c.conrelid = to_regclass(quote_ident(current_schema()) || '.' || quote_ident($1))
        AND a.attname = $2`,
    [table, column],
  );
  if (existing.length > 0) return;
  await queryRunner.query(
    `ALTER TABLE "${table}" ADD CONSTRAINT "${railsForeignKeyName(table, column)}"
       FOREIGN KEY ("${column}") REFERENCES "${BLOBS}" ("id")`,
  );
}

/**
 * Returns a migration class that creates the three ActiveStorage tables exactly as Rails 7.1 does,
 * in the connection's current schema. `up` is idempotent (safe where Rails already made them);
 * `down` drops the three tables. Throws ArgumentError for an unknown `recordIdType`.
 *
 * The migration's `name` is its class name, so a subclass such as
 * `class CreateActiveStorageTables1712345678901 extends createActiveStorageTablesMigration({ recordIdType: 'uuid' }) {}`
 * is recorded under its own name; TypeORM wants a 13-digit timestamp at the end of it.
 */
export function createActiveStorageTablesMigration(options: ActiveStorageMigrationOptions = {}): ActiveStorageMigrationClass {
  const recordIdType = options.recordIdType ?? 'bigint';
  if (!Object.hasOwn(RECORD_ID_SQL, recordIdType)) {
    throw new ArgumentError(`Unknown recordIdType "${String(recordIdType)}": expected one of ${Object.keys(RECORD_ID_SQL).join(', ')}.`);
  }
  return class CreateActiveStorageTables1700000000000 implements MigrationInterface {
    readonly name: string = this.constructor.name;

    async up(queryRunner: QueryRunner): Promise<void> {
      for (const statement of activeStorageTableStatements(recordIdType)) await queryRunner.query(statement);
      for (const [table, column] of BLOB_FOREIGN_KEYS) await addBlobForeignKeyUnlessPresent(queryRunner, table, column);
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      for (const table of [VARIANT_RECORDS, ATTACHMENTS, BLOBS]) await queryRunner.query(`DROP TABLE IF EXISTS "${table}"`);
    }
  };
}
