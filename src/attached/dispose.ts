import type { AttacheRuntime } from '../records/runtime.ts';
import type { Dependent } from './definitions.ts';

/**
 * Purges detached blobs per `dependent`: now (`purge`), or through the job queue (`purge_later`).
 * A blob attached elsewhere is kept. Runs after the detach committed and never throws: the
 * detach stands, so a failure is reported as a `background:failed` event and the blob, now
 * unattached, is left for a retry or the sweeper.
 */
export async function disposeDetached(rt: AttacheRuntime, dependent: Dependent, blobIds: readonly string[]): Promise<void> {
  for (const blobId of blobIds) {
    try {
      if (dependent === 'purge') await rt.purger.purgeById(blobId);
      else if (dependent === 'purge_later') await rt.queue.enqueue({ type: 'purge', blobId });
    } catch (error) {
      rt.background.report(dependent === 'purge' ? 'purge a detached blob' : 'enqueue the purge of a detached blob', error);
    }
  }
}
