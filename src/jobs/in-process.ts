import type { TransactionHooks } from './transaction-hooks.ts';
import type { AttacheJob, EnqueueOptions, JobQueue } from './queue.ts';

/**
 * The default queue: runs each job in this process, after the current tick, once. A job enqueued
 * inside a transaction runs only after that transaction's outermost commit, and never when it
 * rolls back. No retries, nothing survives a restart, no other process takes its jobs: for more
 * than one machine, use a shared queue (attache/pg-boss). `drain()` waits for the jobs.
 */
export class InProcessQueue implements JobQueue {
  readonly transactional = true;
  private readonly pending = new Set<Promise<void>>();

  /** `run` performs a job and reports its failure itself (attache's job runner); a rejection is only swallowed here. */
  constructor(private readonly run: (job: AttacheJob) => Promise<void>, private readonly hooks: TransactionHooks) {}

  async enqueue(job: AttacheJob, options: EnqueueOptions = {}): Promise<void> {
    if (options.transaction) this.hooks.afterCommit(options.transaction, () => this.schedule(job));
    else this.schedule(job);
  }

  /** Resolves when every job scheduled so far (and any they enqueue) has finished. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private schedule(job: AttacheJob): void {
    const running: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.run(job))
      .catch(() => undefined)
      .finally(() => this.pending.delete(running));
    this.pending.add(running);
  }
}
