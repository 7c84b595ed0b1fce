import type { QueryRunner } from 'typeorm';
import type { AttacheRuntime } from '../records/runtime.ts';

/**
 * Inside the detaching transaction (`runner`'s): one purge job per detached blob (purge_later).
 * The job exists if and only if the detach commits; the purge itself keeps a blob attached
 * elsewhere. Throws the queue's error, which rolls the detach back.
 */
export async function enqueuePurges(rt: AttacheRuntime, runner: QueryRunner | undefined, blobIds: readonly string[]): Promise<void> {
  for (const blobId of blobIds) await rt.enqueue({ type: 'purge', blobId }, { transaction: runner });
}

/**
 * After the detach committed: purges the detached blobs now (`dependent: 'purge'`), keeping a
 * blob attached elsewhere. Never throws: the detach stands, so a failure is reported as a
 * `background:failed` event and the blob, now unattached, is left for a retry or the sweeper.
 */
export async function purgeDetached(rt: AttacheRuntime, blobIds: readonly string[]): Promise<void> {
  for (const blobId of blobIds) {
    try {
      await rt.purger.purgeById(blobId);
    } catch (error) {
      rt.background.report('purge a detached blob', error);
    }
  }
}
