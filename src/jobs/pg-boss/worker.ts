import type PgBoss from 'pg-boss';
import { AttacheError } from '../../core/errors.ts';
import type { JobAttempt, JobHandler, JobWorker, QueueContext } from '../queue.ts';

export interface WorkerSettings {
  queue: string;
  concurrency: number;
  pollingIntervalSeconds: number;
}

type Outcome = { ok: true } | { ok: false; error: unknown } | 'expired';

/**
 * Takes jobs from one pg-boss queue and runs up to `concurrency` at once, fetching again as soon
 * as a slot frees (pg-boss 10's own work() waits out its polling interval between batches). Each
 * job is completed or failed on its own; pg-boss retries a failed one with backoff and turns it
 * into a dead letter after its retries. An attempt that runs past its expiration is failed here
 * (so another worker retries it); one whose worker died is failed by pg-boss's maintenance.
 */
export class PgBossWorker implements JobWorker {
  private readonly slots = new Set<Promise<void>>();
  private stopping = false;
  private wake: () => void = () => undefined;
  private readonly loop: Promise<void>;

  constructor(private readonly boss: PgBoss, private readonly settings: WorkerSettings, private readonly handler: JobHandler, private readonly context: QueueContext) {
    this.loop = this.run();
  }

  get running(): number {
    return this.slots.size;
  }

  /** Takes no new job, then waits for the running ones (at most until each one's expiration) and their outcome's write. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
    await Promise.all([...this.slots]);
  }

  private async run(): Promise<void> {
    const { queue, concurrency, pollingIntervalSeconds } = this.settings;
    while (!this.stopping) {
      const free = concurrency - this.slots.size;
      if (free === 0) {
        await this.pause(Promise.race(this.slots));
        continue;
      }
      let jobs: PgBoss.JobWithMetadata[] = [];
      try {
        jobs = await this.boss.fetch(queue, { batchSize: free, includeMetadata: true });
      } catch (error) {
        this.context.report('fetch jobs from pg-boss', error);
      }
      // Jobs fetched are active in the database: they run even when a stop came during the fetch.
      for (const job of jobs) this.start(job);
      if (jobs.length < free) {
        const poll = timer(pollingIntervalSeconds * 1000);
        await this.pause(poll.promise);
        poll.cancel();
      }
    }
  }

  /** Waits for `event`, or until stop() is called. */
  private async pause(event: Promise<unknown>): Promise<void> {
    await Promise.race([event, new Promise<void>((resolve) => (this.wake = resolve))]);
  }

  private start(job: PgBoss.JobWithMetadata): void {
    const attempt: JobAttempt = { id: job.id, attempt: job.retryCount + 1, willRetry: job.retryCount < job.retryLimit };
    const slot: Promise<void> = this.settle(job, attempt).finally(() => this.slots.delete(slot));
    this.slots.add(slot);
  }

  /** Runs one job and records its outcome. Never throws. */
  private async settle(job: PgBoss.JobWithMetadata, attempt: JobAttempt): Promise<void> {
    const { queue } = this.settings;
    const expiry = timer(job.expireInSeconds * 1000);
    const outcome: Outcome = await Promise.race([
      this.handler(job.data, attempt).then(
        (): Outcome => ({ ok: true }),
        (error: unknown): Outcome => ({ ok: false, error }),
      ),
      expiry.promise.then((): Outcome => 'expired'),
    ]);
    expiry.cancel();
    try {
      if (outcome === 'expired') {
        const message = `The job ran past its expiration (${job.expireInSeconds} s): it was failed so that it is retried.`;
        this.context.report('finish a job before its expiration', new AttacheError(message));
        await this.boss.fail(queue, job.id, { name: 'JobExpiredError', code: 'E_JOB_EXPIRED', message });
      } else if (outcome.ok) {
        await this.boss.complete(queue, job.id);
      } else {
        await this.boss.fail(queue, job.id, failureRecord(outcome.error));
      }
    } catch (error) {
      // The attempt's outcome is not recorded: the job stays active and is retried after its expiration (jobs are idempotent).
      this.context.report('record a job outcome in pg-boss', error);
    }
  }
}

/** What pg-boss stores as a failed attempt's output (and a dead letter's): the error's name, code and message, no cause or stack. */
export function failureRecord(error: unknown): { name: string; code: string; message: string } {
  if (error instanceof AttacheError) return { name: error.name, code: error.code, message: error.message };
  return { name: 'Error', code: 'ATTACHE_ERROR', message: 'The job failed.' };
}

function timer(ms: number): { promise: Promise<void>; cancel(): void } {
  let handle: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => (handle = setTimeout(resolve, ms)));
  return { promise, cancel: () => clearTimeout(handle) };
}
