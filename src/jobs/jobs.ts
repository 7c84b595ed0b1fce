import type { BackgroundTasks } from '../core/background.ts';
import { ArgumentError, ConfigurationError } from '../core/errors.ts';
import type { AttacheEvents } from '../core/events.ts';
import { parseJob, type JobContext } from './dispatch.ts';
import { FIRST_ATTEMPT } from './events.ts';
import { InProcessQueue } from './in-process.ts';
import type { AttacheJob, EnqueueOptions, JobAttempt, JobQueue, JobWorker } from './queue.ts';
import { runJob } from './run.ts';
import { TransactionHooks } from './transaction-hooks.ts';

export interface JobsOptions {
  /** The app's queue; default: the in-process queue. */
  queue?: JobQueue;
  events: AttacheEvents;
  context: JobContext;
  background: BackgroundTasks;
  env: NodeJS.ProcessEnv;
}

let warnedInProcess = false;

/** Attache's job port: the queue, the one way in (enqueue) and the one way out (perform). */
export class Jobs {
  /** Add to the DataSource's subscribers: it runs deferred jobs after the outermost commit. */
  readonly hooks = new TransactionHooks();
  readonly queue: JobQueue;
  private readonly workers = new Set<JobWorker>();

  constructor(private readonly options: JobsOptions) {
    this.queue = options.queue ?? new InProcessQueue((job) => this.perform(job), this.hooks);
  }

  /** Starts the queue. With the in-process default under NODE_ENV=production, warns once per process. */
  async start(): Promise<void> {
    if (!this.options.queue && this.options.env.NODE_ENV === 'production' && !warnedInProcess) {
      warnedInProcess = true;
      process.emitWarning(
        'attache runs background jobs in-process: they are lost when the process stops and never shared between machines. Configure a shared queue (attache/pg-boss).',
        { code: 'ATTACHE_IN_PROCESS_QUEUE' },
      );
    }
    await this.queue.start?.({ report: (action, error) => this.options.background.report(action, error) });
  }

  /**
   * Invariant: every job attache asks for is enqueued here. A job that follows a database change
   * names that change's transaction, and exists if and only if it commits: a transactional queue
   * writes it in the transaction; any other queue is handed it after the outermost commit.
   * Throws ArgumentError (not a job) or the queue's error.
   */
  async enqueue(job: AttacheJob, options: EnqueueOptions = {}): Promise<void> {
    const checked = parseJob(job);
    const runner = options.transaction?.isTransactionActive ? options.transaction : undefined;
    if (runner && !this.queue.transactional) {
      this.hooks.afterCommit(runner, () => this.options.background.run('enqueue a job after its commit', async () => this.queue.enqueue(checked)));
      return;
    }
    await this.queue.enqueue(checked, runner ? { transaction: runner } : {});
  }

  /** Runs one job with events (see runJob). Idempotent. */
  perform(job: unknown, attempt: JobAttempt = FIRST_ATTEMPT): Promise<void> {
    return runJob(this.options.events, this.options.context, job, attempt);
  }

  /** Takes jobs from a shared queue. Throws ArgumentError (concurrency) or ConfigurationError (a queue that cannot be worked). */
  async work(options: { concurrency?: number } = {}): Promise<JobWorker> {
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000) throw new ArgumentError('`concurrency` must be an integer from 1 to 1000.');
    if (!this.queue.work) {
      throw new ConfigurationError(
        this.options.queue
          ? 'attache.work() needs a queue with work(); with this queue, run its own worker and call attache.perform(job) there.'
          : 'attache.work() needs a shared job queue: the in-process default runs each job in the process that enqueued it. ' +
              'Configure one, e.g. Attache.init({ queue: pgBossQueue(dataSource) }) from attache/pg-boss.',
      );
    }
    const worker = await this.queue.work((job, attempt) => this.perform(job, attempt), { concurrency });
    this.workers.add(worker);
    return {
      get running() {
        return worker.running;
      },
      stop: async () => {
        await worker.stop();
        this.workers.delete(worker);
      },
    };
  }

  /** Waits for the jobs this process runs itself (the in-process queue). */
  async drain(): Promise<void> {
    await this.queue.drain?.();
  }

  /** Stops the workers started here; their running jobs finish first. */
  async stopWorkers(): Promise<void> {
    await Promise.all([...this.workers].map((worker) => worker.stop()));
    this.workers.clear();
  }

  /** Closes the queue (its connections). */
  async close(): Promise<void> {
    await this.queue.close?.();
  }
}
