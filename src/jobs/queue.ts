/** Purge a blob (row and object) unless something is attached to it again: purge_later. */
export interface PurgeJob {
  type: 'purge';
  blobId: string;
}

/** Extract a blob's metadata (width, height, duration, …) after its attach committed. */
export interface AnalyzeJob {
  type: 'analyze';
  blobId: string;
}

/** Generate and store one variant of a blob (`preprocessed: true` variants, after attach). */
export interface PreprocessJob {
  type: 'preprocess';
  blobId: string;
  /** The variation, as its signed/encoded key (see the representations module). */
  variation: string;
}

/** Copy a blob to the mirrors of its Mirror service (Rails' MirrorJob, after a direct upload). */
export interface MirrorJob {
  type: 'mirror';
  blobId: string;
}

/** Delete every object under a prefix of a service (Rails' purge of legacy variant folders). */
export interface DeletePrefixedJob {
  type: 'delete_prefixed';
  service: string;
  prefix: string;
}

/** Every unit of background work attache asks for: a closed union, dispatched by `attache.perform(job)`. */
export type AttacheJob = PurgeJob | AnalyzeJob | PreprocessJob | MirrorJob | DeletePrefixedJob;

/**
 * Where `purgeLater` and `dependent: 'purge_later'` send work. A job library (BullMQ, pg-boss, …)
 * implements `enqueue` and calls `attache.perform(job)` in its worker.
 */
export interface JobQueue {
  enqueue(job: AttacheJob): void | Promise<void>;
}

/** The default queue: runs jobs in this process, after the current tick. `drain()` waits for them. */
export class InProcessQueue implements JobQueue {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly perform: (job: AttacheJob) => Promise<void>,
    private readonly onError: (error: unknown, job: AttacheJob) => void = (error) => console.error('[attache] background job failed', error),
  ) {}

  enqueue(job: AttacheJob): void {
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
