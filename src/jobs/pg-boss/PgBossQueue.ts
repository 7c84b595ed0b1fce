import { inspect } from 'node:util';
import PgBoss from 'pg-boss';
import type { DataSource, QueryRunner } from 'typeorm';
import { ArgumentError, PersistenceError } from '../../core/errors.ts';
import { jobKey } from '../dispatch.ts';
import type { AttacheJob, EnqueueOptions, JobHandler, JobQueue, JobWorker, QueueContext, WorkOptions } from '../queue.ts';
import { connectionSettings, resolveOptions, type PgBossQueueOptions, type ResolvedOptions } from './options.ts';
import { PgBossWorker } from './worker.ts';

/** A job that failed every attempt, as its dead letter records it. */
export interface DeadLetter {
  /** The dead letter's own id (not the failed job's). */
  id: string;
  /** The job as it was enqueued (an AttacheJob, unless something else wrote to the queue). */
  job: unknown;
  /** The last attempt's error: its name, code and message. */
  error: { name?: string; code?: string; message: string } | null;
  failedAt: Date;
}

/**
 * attache's queue on pg-boss 10, in the app's own database (its own schema): transactional
 * enqueue, retries with backoff, an expiration for stuck attempts, one waiting copy per job
 * (singleton key, `short` policy) and a dead-letter queue. Build it with pgBossQueue().
 */
export class PgBossQueue implements JobQueue {
  readonly transactional = true;
  readonly options: ResolvedOptions;
  private boss: PgBoss | undefined;
  private starting: Promise<PgBoss> | undefined;
  private context: QueueContext = { report: () => undefined };

  constructor(private readonly dataSource: DataSource, options: PgBossQueueOptions = {}) {
    this.options = resolveOptions(options);
    connectionSettings(dataSource, this.options.poolSize); // a DataSource that is not PostgreSQL fails here, at setup
  }

  /** Installs or migrates pg-boss's schema and creates the queues. Idempotent. Throws PersistenceError. */
  async start(context?: QueueContext): Promise<void> {
    if (context) this.context = context;
    await this.started();
  }

  /**
   * Adds the job unless the same job is already waiting. With `transaction`, the insert runs on
   * that query runner, inside its transaction: the job exists if and only if it commits.
   * Throws PersistenceError.
   */
  async enqueue(job: AttacheJob, options: EnqueueOptions = {}): Promise<void> {
    const boss = await this.started();
    const runner = options.transaction?.isTransactionActive ? options.transaction : undefined;
    try {
      await boss.send(this.options.queue, { ...job }, { singletonKey: jobKey(job), ...(runner && { db: onRunner(runner) }) });
    } catch (error) {
      throw databaseFailure(`enqueue the ${job.type} job`, error);
    }
  }

  /** Starts a worker in this process (see PgBossWorker). */
  async work(handler: JobHandler, options: WorkOptions): Promise<JobWorker> {
    const boss = await this.started();
    const { queue, pollingIntervalSeconds } = this.options;
    return new PgBossWorker(boss, { queue, concurrency: options.concurrency, pollingIntervalSeconds }, handler, this.context);
  }

  /** The oldest dead letters (at most `limit`, default 100). Re-run one with `attache.enqueue(letter.job)`. Throws PersistenceError. */
  async deadLetters(options: { limit?: number } = {}): Promise<DeadLetter[]> {
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new ArgumentError('`limit` must be an integer from 1 to 10000.');
    const boss = await this.started();
    const sql = `SELECT id, data, output, created_on FROM ${this.options.schema}.job WHERE name = $1 ORDER BY created_on, id LIMIT $2`;
    try {
      const { rows } = await boss.getDb().executeSql(sql, [this.options.deadLetter, limit]);
      return rows.map((row: { id: string; data: unknown; output: unknown; created_on: Date }) => ({ id: row.id, job: row.data, error: errorOf(row.output), failedAt: row.created_on }));
    } catch (error) {
      throw databaseFailure('read the dead letters', error);
    }
  }

  /** Stops pg-boss's maintenance and closes its pool. Idempotent. */
  async close(): Promise<void> {
    const boss = this.boss ?? (await this.starting?.catch(() => undefined));
    this.boss = undefined;
    this.starting = undefined;
    await boss?.stop({ graceful: false, close: true, wait: true }).catch((error: unknown) => this.context.report('stop pg-boss', error));
  }

  /** What `JSON.stringify` and `inspect` show: the schema and queue names, never the connection settings. */
  toJSON(): { adapter: 'pg-boss'; schema: string; queue: string; deadLetter: string } {
    return { adapter: 'pg-boss', schema: this.options.schema, queue: this.options.queue, deadLetter: this.options.deadLetter };
  }

  [inspect.custom](): string {
    return `PgBossQueue ${JSON.stringify(this.toJSON())}`;
  }

  private started(): Promise<PgBoss> {
    this.starting ??= this.open().catch((error: unknown) => {
      this.starting = undefined;
      throw error;
    });
    return this.starting;
  }

  private async open(): Promise<PgBoss> {
    const { schema, maintenanceIntervalSeconds, poolSize } = this.options;
    const boss = new PgBoss({ ...connectionSettings(this.dataSource, poolSize), schema, migrate: true, supervise: true, schedule: false, maintenanceIntervalSeconds });
    // pg-boss emits its maintenance and pool errors; an 'error' event without a listener would crash the process.
    boss.on('error', (error) => this.context.report('run pg-boss maintenance', error));
    try {
      await boss.start();
      await this.createQueues(boss);
    } catch (error) {
      await boss.stop({ graceful: false, close: true, wait: true }).catch(() => undefined);
      throw databaseFailure('start the pg-boss queue', error);
    }
    this.boss = boss;
    return boss;
  }

  /** The dead-letter queue, then the queue itself, updated so that changed options apply (pg-boss 10 needs both created). */
  private async createQueues(boss: PgBoss): Promise<void> {
    const { queue, deadLetter, retryLimit, retryDelay, retryBackoff, expireInSeconds, retentionDays } = this.options;
    const settings: PgBoss.Queue = { name: queue, policy: 'short', retryLimit, retryDelay, retryBackoff, expireInSeconds, retentionMinutes: retentionDays * 24 * 60, deadLetter };
    await boss.createQueue(deadLetter, { name: deadLetter, retentionMinutes: settings.retentionMinutes });
    await boss.createQueue(queue, settings);
    await boss.updateQueue(queue, settings);
  }
}

/** pg-boss's `db` option on a TypeORM query runner: its statements join the runner's transaction. */
function onRunner(runner: QueryRunner): PgBoss.Db {
  return {
    async executeSql(text: string, values: unknown[]) {
      const result = await runner.query(text, values, true);
      return { rows: (result as { records?: unknown[] }).records ?? [] };
    },
  };
}

/** A database failure as a PersistenceError naming the action and the SQLSTATE or socket code, never a query or value. */
function databaseFailure(action: string, error: unknown): PersistenceError {
  if (error instanceof PersistenceError) return error;
  const source = error as { code?: unknown; driverError?: { code?: unknown } } | undefined;
  const code = source?.driverError?.code ?? source?.code;
  return new PersistenceError(`Could not ${action}: the database failed (${typeof code === 'string' ? code : 'no code'}).`, { cause: error });
}

function errorOf(output: unknown): DeadLetter['error'] {
  const value = (output as { value?: unknown } | null)?.value ?? output; // pg-boss wraps its own expiry message in { value }
  if (!value || typeof value !== 'object' || typeof (value as { message?: unknown }).message !== 'string') return null;
  const { name, code, message } = value as { name?: unknown; code?: unknown; message: string };
  return { message, ...(typeof name === 'string' && { name }), ...(typeof code === 'string' && { code }) };
}
