import type { DataSource, EntityManager, EntityMetadata } from 'typeorm';
import { ArgumentError, AttachmentError } from '../core/errors.ts';

/** How an attachment row points at a record: Rails' polymorphic (record_type, record_id). */
export interface RecordRef {
  type: string;
  id: string;
  /** The record's entity, to check that the record still exists. */
  entity?: EntityMetadata;
}

/** The record's reference, or null while it has no primary key (unsaved). Composite keys are refused. */
export function recordRef(dataSource: DataSource, record: object): RecordRef | null {
  const metadata = dataSource.getMetadata(record.constructor);
  const [primary, ...others] = metadata.primaryColumns;
  if (!primary || others.length > 0) {
    throw new ArgumentError(`${metadata.name} needs exactly one primary key column to have attachments.`);
  }
  const id: unknown = primary.getEntityValue(record);
  if (id === undefined || id === null || id === '') return null;
  return { type: metadata.name, id: String(id), entity: metadata };
}

/** The advisory lock of a record's attachments, and of a blob key for writes without a record. */
export function recordLockKey(ref: RecordRef): string {
  return `attache:record:${ref.type}:${ref.id}`;
}

/**
 * Invariant: every write of a record's attachment rows (attach, detach, purge, remove) holds this
 * lock first, so they happen one after another. Inside a transaction; released at its end.
 */
export async function lockRecord(manager: EntityManager, ref: RecordRef): Promise<void> {
  await lockKey(manager, recordLockKey(ref));
}

/** Takes a transaction-scoped advisory lock named `key`. */
export async function lockKey(manager: EntityManager, key: string): Promise<void> {
  await manager.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key]);
}

/**
 * lockKey and then assertRecordExists in one statement: the lock is taken (a materialized CTE runs
 * first) before the record's row is locked FOR KEY SHARE, and a row lock reads the newest row
 * version, so a record removed while this waited for the lock is seen as gone. Throws AttachmentError.
 */
export async function lockKeyAndAssertRecord(manager: EntityManager, key: string, ref: RecordRef): Promise<void> {
  const entity = ref.entity;
  const primary = entity?.primaryColumns[0];
  if (!entity || !primary) return lockKey(manager, key);
  const driver = manager.connection.driver;
  const table = entity.tablePath.split('.').map((part) => driver.escape(part)).join('.');
  const rows = (await manager.query(
    'WITH l AS MATERIALIZED (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) ' +
      `SELECT EXISTS (SELECT 1 FROM ${table} r WHERE r.${driver.escape(primary.databaseName)} = $2 FOR KEY SHARE) AS found FROM l`,
    [key, ref.id],
  )) as Array<{ found: boolean }>;
  if (rows[0]?.found !== true) throw new AttachmentError(`${ref.type} ${ref.id} no longer exists: nothing was attached.`);
}

/**
 * Refuses to attach to a record that is gone (removed while the attach ran). Takes a KEY SHARE
 * lock, so a concurrent DELETE of the record waits for this transaction. Throws AttachmentError.
 */
export async function assertRecordExists(manager: EntityManager, ref: RecordRef): Promise<void> {
  const entity = ref.entity;
  const primary = entity?.primaryColumns[0];
  if (!entity || !primary) return;
  const found: unknown = await manager
    .createQueryBuilder()
    .select('1', 'found')
    .from(entity.target, 'record')
    .where(`record.${primary.propertyPath} = :id`, { id: ref.id })
    .setLock('for_key_share')
    .getRawOne();
  if (!found) throw new AttachmentError(`${ref.type} ${ref.id} no longer exists: nothing was attached.`);
}
