/**
 * attache/pg-boss: background jobs on pg-boss 10 in the app's own PostgreSQL. Install `pg-boss`
 * (10.x; an optional peer dependency), then
 * `Attache.init({ dataSource, queue: pgBossQueue(dataSource), … })` and run workers with
 * `runWorker(attache)` (examples/worker.ts).
 */
import type { DataSource } from 'typeorm';
import { PgBossQueue } from './PgBossQueue.ts';
import type { PgBossQueueOptions } from './options.ts';

/** A pg-boss queue on `dataSource`'s database (same credentials; its own schema). Throws ConfigurationError for bad options. */
export function pgBossQueue(dataSource: DataSource, options?: PgBossQueueOptions): PgBossQueue {
  return new PgBossQueue(dataSource, options);
}

export { PgBossQueue, type DeadLetter } from './PgBossQueue.ts';
export type { PgBossQueueOptions } from './options.ts';
