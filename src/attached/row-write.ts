import type { EntityManager, EntityMetadata } from 'typeorm';
import { Attachment } from '../records/Attachment.ts';
import { Blob } from '../records/Blob.ts';
import type { RecordRef } from '../records/record-ref.ts';

/** What one attach writes after its lock: new blob rows, the has-one swap and the attachment rows. */
export interface AttachRows {
  /** New blobs (no row yet): inserted; their ids are set on them. */
  inserted: readonly Blob[];
  /** Blobs with a row already (existing, reserved or verified): attached by id. */
  existing: readonly Blob[];
  /** The record and attachment name; absent for createAndUpload (then only blob rows are written). */
  ref?: RecordRef;
  name: string;
  /** has-one: remove the record's other attachments of this name (those not in `existing`). */
  detachOthers: boolean;
}

/**
 * Writes an attach's rows in ONE statement (data-modifying CTEs share one snapshot, taken after the
 * caller's record lock): delete the swapped-out attachments, insert the new blobs, insert the
 * attachment rows. Returns the blob ids it detached. Sets each inserted blob's id.
 */
export async function writeAttachRows(manager: EntityManager, rows: AttachRows): Promise<string[]> {
  const { ref } = rows;
  const params: unknown[] = [];
  const p = (value: unknown): string => `$${params.push(value)}`;
  const ctes: string[] = [];
  const results: string[] = [];
  const blobTable = table(manager, manager.connection.getMetadata(Blob));
  const attachmentTable = table(manager, manager.connection.getMetadata(Attachment));
  if (rows.inserted.length > 0) {
    const { columns, values } = insertValues(manager, rows.inserted, p);
    ctes.push(`b AS (INSERT INTO ${blobTable} (${columns}) VALUES ${values} RETURNING "id", "key")`);
    results.push(`SELECT 'blob' AS kind, "id"::text AS id, "key" FROM b`);
  }
  if (ref) {
    const [type, id, name] = [p(ref.type), p(ref.id), p(rows.name)];
    if (rows.detachOthers) {
      const keep = rows.existing.map((blob) => blob.id);
      const except = keep.length > 0 ? ` AND NOT ("blob_id" = ANY(${p(keep)}))` : '';
      ctes.push(`d AS (DELETE FROM ${attachmentTable} WHERE "record_type" = ${type} AND "record_id" = ${id} AND "name" = ${name}${except} RETURNING "blob_id")`);
      results.push(`SELECT 'detached' AS kind, "blob_id"::text AS id, NULL AS "key" FROM d`);
    }
    const createdAt = p(persisted(manager, Attachment, 'createdAt', new Date()));
    const blobIds = [...rows.inserted.map((blob) => `(SELECT "id" FROM b WHERE "key" = ${p(blob.key)})`), ...rows.existing.map((blob) => p(blob.id))];
    if (blobIds.length > 0) {
      const values = blobIds.map((blobId) => `(${name}, ${type}, ${id}, ${blobId}, ${createdAt})`).join(', ');
      ctes.push(`a AS (INSERT INTO ${attachmentTable} ("name", "record_type", "record_id", "blob_id", "created_at") VALUES ${values} ON CONFLICT DO NOTHING)`);
    }
  }
  if (ctes.length === 0) return [];
  const sql = `WITH ${ctes.join(', ')} ${results.length > 0 ? results.join(' UNION ALL ') : 'SELECT NULL AS kind, NULL AS id, NULL AS "key" WHERE false'}`;
  const answer = (await manager.query(sql, params)) as Array<{ kind: string; id: string; key: string | null }>;
  const ids = new Map(answer.filter((row) => row.kind === 'blob').map((row) => [row.key, row.id]));
  for (const blob of rows.inserted) blob.id = ids.get(blob.key)!;
  return answer.filter((row) => row.kind === 'detached').map((row) => row.id);
}

/** The columns and VALUES tuples of new blob rows, each value as TypeORM would persist it (transformers applied). */
function insertValues(manager: EntityManager, blobs: readonly Blob[], p: (value: unknown) => string): { columns: string; values: string } {
  const metadata = manager.connection.getMetadata(Blob);
  const columns = metadata.columns.filter((column) => !column.isGenerated);
  const driver = manager.connection.driver;
  const values = blobs.map((blob) => {
    blob.createdAt ??= new Date();
    return `(${columns.map((column) => p(driver.preparePersistentValue(column.getEntityValue(blob), column))).join(', ')})`;
  });
  return { columns: columns.map((column) => driver.escape(column.databaseName)).join(', '), values: values.join(', ') };
}

function persisted(manager: EntityManager, entity: typeof Attachment, property: string, value: unknown): unknown {
  const column = manager.connection.getMetadata(entity).findColumnWithPropertyName(property)!;
  return manager.connection.driver.preparePersistentValue(value, column);
}

function table(manager: EntityManager, metadata: EntityMetadata): string {
  return metadata.tablePath.split('.').map((part) => manager.connection.driver.escape(part)).join('.');
}
