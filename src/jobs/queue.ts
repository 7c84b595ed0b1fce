/** A unit of background work attache asks for. */
export interface PurgeJob {
  type: 'purge';
  blobId: string;
}

/**
 * Where `purgeLater` and `dependent: 'purge_later'` send work. A job library (BullMQ, pg-boss, …)
 * implements `enqueue` and calls `attache.perform(job)` in its worker.
 */
export interface JobQueue {
  enqueue(job: PurgeJob): void | Promise<void>;
}

/** The default queue: runs jobs in this process, after the current tick. `drain()` waits for them. */
export class InProcessQueue implements JobQueue {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly perform: (job: PurgeJob) => Promise<void>,
    private readonly onError: (error: unknown, job: PurgeJob) => void = (error) => console.error('[attache] background job failed', error),
  ) {}

  enqueue(job: PurgeJob): void {
    const run = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.perform(job))
      .catch((error: unknown) => this.onError(error, job))
      .finally(() => this.pending.delete(run));
    this.pending.add(run);
  }

  /** Resolves when every job enqueued so far (and any they enqueue) has finished. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
