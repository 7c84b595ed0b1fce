import type { DataSource } from 'typeorm';
import { Blob } from '../records/Blob.ts';
import { database } from '../records/database.ts';

/** Which blob rows an operation walks: one service's or all. */
export interface BlobScope {
  service?: string;
}

/** The next `limit` blobs after `afterId` in id order (keyset pagination: no OFFSET, stable while rows come and go). */
export function nextBatch(dataSource: DataSource, scope: BlobScope, afterId: string, limit: number): Promise<Blob[]> {
  return database('read a batch of blobs', () => {
    const query = dataSource.getRepository(Blob).createQueryBuilder('blob').where('blob.id > :afterId', { afterId });
    if (scope.service !== undefined) query.andWhere('blob.service_name = :service', { service: scope.service });
    return query.orderBy('blob.id', 'ASC').limit(limit).getMany();
  });
}

/** `count` random blobs of the scope (verify's sample). */
export function randomBlobs(dataSource: DataSource, scope: BlobScope, count: number): Promise<Blob[]> {
  return database('pick blobs at random', () => {
    const query = dataSource.getRepository(Blob).createQueryBuilder('blob');
    if (scope.service !== undefined) query.where('blob.service_name = :service', { service: scope.service });
    return query.orderBy('random()').limit(count).getMany();
  });
}

/** How many blobs (and recorded bytes) follow `afterId` in the scope. */
export async function remaining(dataSource: DataSource, scope: BlobScope, afterId: string): Promise<{ count: number; bytes: number }> {
  const rows = await database('count blobs', () => {
    const query = dataSource
      .getRepository(Blob)
      .createQueryBuilder('blob')
      .select('count(*)', 'count')
      .addSelect('coalesce(sum(greatest(blob.byte_size, 0)), 0)', 'bytes')
      .where('blob.id > :afterId', { afterId });
    if (scope.service !== undefined) query.andWhere('blob.service_name = :service', { service: scope.service });
    return query.getRawOne<{ count: string; bytes: string }>();
  });
  return { count: Number(rows?.count ?? 0), bytes: Number(rows?.bytes ?? 0) };
}

// metadata is Rails' JSON text: its `encryption` fact is replaced inside the UPDATE, so a concurrent
// writer of other metadata (analysis) keeps its facts, and nothing is read-modified-written.
const withEncryption = (param: string): string => `((coalesce(nullif(metadata, ''), '{}')::jsonb - 'encryption') || ${param}::jsonb)::text`;

/**
 * The one statement that moves a blob: its service_name becomes `to` (and its encryption fact the
 * target's), only if it is still on `from`. Returns whether it switched (false: purged or moved meanwhile).
 */
export async function switchService(dataSource: DataSource, blobId: string, from: string, to: string, encryption: unknown): Promise<boolean> {
  const sql = `UPDATE active_storage_blobs SET service_name = $3, metadata = ${withEncryption('$4')} WHERE id = $1 AND service_name = $2 RETURNING id`;
  return updated(await database(`switch blob ${blobId} to service ${to}`, () => dataSource.query(sql, [blobId, from, to, facts(encryption)])));
}

/** Records the encryption the server confirmed in the blob's metadata, if it is still on `service`. Returns whether the row was there. */
export async function recordEncryption(dataSource: DataSource, blobId: string, service: string, encryption: unknown): Promise<boolean> {
  const sql = `UPDATE active_storage_blobs SET metadata = ${withEncryption('$3')} WHERE id = $1 AND service_name = $2 RETURNING id`;
  return updated(await database(`record the encryption of blob ${blobId}`, () => dataSource.query(sql, [blobId, service, facts(encryption)])));
}

/** The service of the blob row holding `key`, or undefined when none does. */
export async function serviceOfKey(dataSource: DataSource, key: string): Promise<string | undefined> {
  const row = await database('look up a blob key', () => dataSource.getRepository(Blob).findOne({ where: { key }, select: { serviceName: true } }));
  return row?.serviceName;
}

/** Of these keys, those whose row is on `service`, with the row's id. */
export async function keysOn(dataSource: DataSource, service: string, keys: readonly string[]): Promise<Map<string, string>> {
  if (keys.length === 0) return new Map();
  const rows: Array<{ key: string; id: string }> = await database('look up blob keys', () =>
    dataSource.query('SELECT key, id::text AS id FROM active_storage_blobs WHERE service_name = $1 AND key = ANY($2)', [service, keys]),
  );
  return new Map(rows.map((r) => [r.key, r.id]));
}

function facts(encryption: unknown): string {
  return JSON.stringify(encryption === undefined ? {} : { encryption });
}

/** TypeORM's postgres driver answers an UPDATE with [rows, rowCount]. */
function updated(result: unknown): boolean {
  const rows = Array.isArray(result) && Array.isArray(result[0]) ? result[0] : result;
  return Array.isArray(rows) && rows.length > 0;
}
