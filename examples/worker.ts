/**
 * A worker for attache's background jobs (purges, mirrors, …): `npx tsx examples/worker.ts`.
 * Run one or more on any machine that reaches the app's database: they share one pg-boss queue.
 * On SIGTERM or Ctrl-C a worker takes no new job, lets the running ones finish, and exits 0.
 *
 * Env: DATABASE_URL (the app's database), ATTACHE_SECRET, WORKER_CONCURRENCY (default 4),
 * ATTACHE_JOBS_SCHEMA (pg-boss's schema, default attache_jobs). In your app, import your own
 * DataSource and Attache options instead of building them here: a worker needs the same storage
 * config as the app, since it deletes and copies the same files.
 */
import { fileURLToPath } from 'node:url';
import { DataSource } from 'typeorm';
import { Attache, attacheEntities, runWorker } from '../src/index.ts';
import { pgBossQueue } from '../src/jobs/pg-boss/index.ts';

const concurrency = Number(process.env.WORKER_CONCURRENCY ?? 4);
const dataSource = new DataSource({ type: 'postgres', url: process.env.DATABASE_URL, entities: [...attacheEntities] });
await dataSource.initialize();

const attache = await Attache.init({
  dataSource,
  configFile: fileURLToPath(new URL('./config/storage.yml', import.meta.url)),
  service: 'local',
  secret: process.env.ATTACHE_SECRET,
  queue: pgBossQueue(dataSource, { schema: process.env.ATTACHE_JOBS_SCHEMA ?? 'attache_jobs' }),
});
attache.on('job:completed', ({ job, attempt, durationMs }) => console.log(`${job.type} done (attempt ${attempt}, ${Math.round(durationMs)} ms)`));
attache.on('job:failed', ({ job, attempt, error, willRetry }) => console.error(`${job.type} failed (attempt ${attempt}${willRetry === false ? ', now a dead letter' : ''}): ${error.message}`));
attache.on('background:failed', ({ action, error }) => console.error(`could not ${action}: ${error.message}`));

console.log(`attache worker ${process.pid}: taking jobs, ${concurrency} at a time`);
await runWorker(attache, { concurrency });
await attache.close();
await dataSource.destroy();
console.log(`attache worker ${process.pid}: stopped`);
