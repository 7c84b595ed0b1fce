import { LessThan } from 'typeorm';
import { Attachment } from './Attachment.ts';
import { Blob } from './Blob.ts';
import { ArgumentError } from '../core/errors.ts';
import type { AttacheRuntime } from './runtime.ts';
import { database } from './database.ts';

/**
 * Purges blobs that nothing is attached to and that are older than `olderThan` seconds: direct
 * uploads that were never attached, and detached files (Rails: `Blob.unattached.where(...)`).
 * Runs in batches; returns how many blobs were purged. A blob attached meanwhile is skipped.
 */
export async function purgeUnattached(rt: AttacheRuntime, options: { olderThan: number; batchSize?: number }): Promise<number> {
  const { olderThan, batchSize = 500 } = options;
  if (!Number.isFinite(olderThan) || olderThan < 0) throw new ArgumentError('olderThan must be a number of seconds (≥ 0).');
  const cutoff = new Date(Date.now() - olderThan * 1000);
  let purged = 0;
  let lastId = '0';
  for (;;) {
    const batch = await database('find unattached blobs', () => rt.dataSource
      .getRepository(Blob)
      .createQueryBuilder('blob')
      .where('blob.created_at < :cutoff', { cutoff: cutoff.toISOString() })
      .andWhere('blob.id > :lastId', { lastId })
      .andWhere((qb) => `NOT EXISTS ${qb.subQuery().select('1').from(Attachment, 'a').where('a.blob_id = blob.id').getQuery()}`)
      .orderBy('blob.id', 'ASC')
      .limit(batchSize)
      .getMany());
    for (const blob of batch) if (await rt.purger.purge(blob, 'skip')) purged++;
    if (batch.length < batchSize) return purged;
    lastId = batch.at(-1)!.id;
  }
}
