/**
 * A real worker process for the tests: `node --import tsx test/jobs/support/worker-process.ts`.
 * It boots an Attache on the test's schema and pg-boss schema (env below), runs runWorker(), and
 * prints one JSON line per event on stdout: ready, job:started, job:completed, job:failed,
 * background:failed, stopping (on SIGTERM) and exited.
 *   DATABASE_URL, TEST_SCHEMA, BOSS_SCHEMA, ROOTS (JSON TestRoots), CONCURRENCY,
 *   LOCAL_SETTINGS (JSON, for the local TestDisk), BOSS_OPTIONS (JSON PgBossQueueOptions)
 */
import { DataSource } from 'typeorm';
import { Attache, attacheEntities, runWorker } from '../../../src/index.ts';
import { pgBossQueue } from '../../../src/jobs/pg-boss/index.ts';
import { FAST_BOSS, testServices } from './settings.ts';
import { registerTestDisk } from './test-disk.ts';

const env = process.env;
const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ pid: process.pid, ...line })}\n`);

process.on('SIGTERM', () => print({ event: 'stopping' }));
registerTestDisk();
const dataSource = new DataSource({ type: 'postgres', url: env.DATABASE_URL, extra: { options: `-c search_path=${env.TEST_SCHEMA}` }, entities: [...attacheEntities] });
await dataSource.initialize();
const attache = await Attache.init({
  dataSource,
  services: testServices(JSON.parse(env.ROOTS!), JSON.parse(env.LOCAL_SETTINGS ?? '{}')),
  service: 'local',
  secret: 'attache-test-secret-0123456789abcdef',
  queue: pgBossQueue(dataSource, { schema: env.BOSS_SCHEMA, ...FAST_BOSS, ...JSON.parse(env.BOSS_OPTIONS ?? '{}') }),
});
attache
  .on('job:started', ({ id, job, attempt }) => print({ event: 'job:started', id, job, attempt }))
  .on('job:completed', ({ id, job, attempt }) => print({ event: 'job:completed', id, job, attempt }))
  .on('job:failed', ({ id, job, attempt, error, willRetry }) => print({ event: 'job:failed', id, job, attempt, willRetry, error: error.message }))
  .on('background:failed', ({ action, error }) => print({ event: 'background:failed', action, error: error.message }));
print({ event: 'ready' });
await runWorker(attache, { concurrency: Number(env.CONCURRENCY ?? 1) });
await attache.close();
await dataSource.destroy();
print({ event: 'exited' });
