/**
 * Jobs bench: `npm run bench:jobs` (not part of `npm test`; bounded to about a minute).
 * Jobs per second through attache's pg-boss adapter (attache.enqueue, attache.work) with 1 and 3
 * workers, against pg-boss's own raw send/work loop with empty handlers, in the same run and
 * database, alternating rounds. Also a raw fetch/complete loop with empty handlers: the ceiling of
 * pg-boss round trips without work()'s polling pause. Attache's jobs are purges of blobs that do
 * not exist: each still runs attache's whole path (validation, events, one transaction).
 * Every "worker" is its own pg-boss instance with its own pool (and, for attache, its own
 * DataSource and Attache), all in this process. Uses DATABASE_URL, else a throw-away PostgreSQL.
 * Knobs: BENCH_JOBS (sent per round, default 300), BENCH_ROUNDS (3), BENCH_WORK_MS (2500), BENCH_CONCURRENCY (4).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import PgBoss from 'pg-boss';
import { DataSource } from 'typeorm';
import { Attache, attacheEntities, type JobWorker } from '../src/index.ts';
import { pgBossQueue } from '../src/jobs/pg-boss/index.ts';
import { startDatabase } from '../scripts/database.ts';
import { CreateActiveStorageTables1700000000000 } from '../migrations/1700000000000-CreateActiveStorageTables.ts';

const JOBS = Number(process.env.BENCH_JOBS ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WORK_MS = Number(process.env.BENCH_WORK_MS ?? 2500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const DEADLINE_MS = 150_000;
const QUEUE = 'bench';
const tag = randomBytes(4).toString('hex');
const schemas = { app: `bench_app_${tag}`, attache: `bench_attache_${tag}`, raw: `bench_raw_${tag}` };

type Kind = 'raw work()' | 'raw fetch' | 'attache';
/** One way of running jobs: `send` adds `count` jobs, `work` starts one worker that counts completions. */
interface Subject {
  send(count: number): Promise<void>;
  work(done: () => void): Promise<{ stop(): Promise<void> }>;
  clear(): Promise<void>;
}

async function main(): Promise<void> {
  setTimeout(() => (console.error(`bench: over ${DEADLINE_MS / 1000} s, giving up`), process.exit(2)), DEADLINE_MS).unref();
  const database = await startDatabase();
  const dataSources = [0, 1, 2].map(() => new DataSource({ type: 'postgres', url: database.url, extra: { options: `-c search_path=${schemas.app}` }, entities: [...attacheEntities], migrations: [CreateActiveStorageTables1700000000000] }));
  const bosses: PgBoss[] = [];
  const attaches: Attache[] = [];
  try {
    for (const [i, dataSource] of dataSources.entries()) {
      await dataSource.initialize();
      if (i === 0) await dataSource.query(`CREATE SCHEMA ${schemas.app}`).then(() => dataSource.runMigrations());
      attaches.push(await Attache.init({ dataSource, services: { local: { service: 'Disk', root: '/nonexistent-bench-root' } }, secret: randomBytes(32).toString('hex'), queue: pgBossQueue(dataSource, { schema: schemas.attache, pollingIntervalSeconds: 0.5 }) }));
      const boss = new PgBoss({ connectionString: database.url, schema: schemas.raw, schedule: false, max: 4 });
      boss.on('error', (error) => console.error(`pg-boss: ${error.message}`));
      await boss.start();
      if (i === 0) await boss.createQueue(QUEUE);
      bosses.push(boss);
    }
    console.log(`PostgreSQL: ${database.source}; ${JOBS} jobs sent per round, work measured over ${WORK_MS} ms, ${CONCURRENCY} jobs at a time per worker, ${ROUNDS} rounds\n`);
    const subjects: Record<Kind, Subject[]> = { 'raw work()': bosses.map((b) => rawWork(b, bosses[0]!)), 'raw fetch': bosses.map((b) => rawFetch(b, bosses[0]!)), attache: attaches.map((a) => viaAttache(a, attaches[0]!)) };
    const results = new Map<string, { send: number[]; work: number[] }>();
    for (let round = 0; round < ROUNDS; round++) {
      const kinds: Kind[] = round % 2 === 0 ? ['raw work()', 'raw fetch', 'attache'] : ['attache', 'raw fetch', 'raw work()'];
      for (const workers of [1, 3]) {
        for (const kind of kinds) {
          const measured = await measure(subjects[kind].slice(0, workers));
          const entry = results.get(`${kind}/${workers}`) ?? { send: [], work: [] };
          entry.send.push(measured.send);
          entry.work.push(measured.work);
          results.set(`${kind}/${workers}`, entry);
        }
      }
    }
    report(results);
  } finally {
    for (const attache of attaches) await attache.close().catch(() => undefined);
    for (const boss of bosses) await boss.stop({ graceful: false, close: true, wait: true }).catch(() => undefined);
    if (dataSources[0]!.isInitialized) for (const schema of Object.values(schemas)) await dataSources[0]!.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    for (const dataSource of dataSources) if (dataSource.isInitialized) await dataSource.destroy();
    await database.stop();
  }
}

/** Sends JOBS jobs (10 at a time), then runs the workers for WORK_MS; returns jobs per second for both. */
async function measure(subjects: Subject[]): Promise<{ send: number; work: number }> {
  const sender = subjects[0]!;
  await sender.clear();
  let started = performance.now();
  for (let sent = 0; sent < JOBS; sent += 10) await sender.send(Math.min(10, JOBS - sent));
  const send = JOBS / ((performance.now() - started) / 1000);
  let done = 0;
  started = performance.now();
  const workers = await Promise.all(subjects.map((s) => s.work(() => done++)));
  while (done < JOBS && performance.now() - started < WORK_MS) await sleep(5);
  const work = done / ((performance.now() - started) / 1000);
  await Promise.all(workers.map((w) => w.stop()));
  return { send, work };
}

let sequence = 0;
function viaAttache(attache: Attache, sender: Attache): Subject {
  return {
    send: (count) => Promise.all(Array.from({ length: count }, () => sender.enqueue({ type: 'purge', blobId: String(1e12 + ++sequence) }))).then(() => undefined),
    async work(done) {
      attache.on('job:completed', done);
      const worker: JobWorker = await attache.work({ concurrency: CONCURRENCY });
      return { stop: async () => void (await worker.stop(), attache.off('job:completed', done)) };
    },
    clear: () => attache.dataSource.query(`DELETE FROM ${schemas.attache}.job WHERE name = 'attache'`).then(() => undefined),
  };
}

function rawWork(boss: PgBoss, sender: PgBoss): Subject {
  return {
    send: (count) => Promise.all(Array.from({ length: count }, () => sender.send(QUEUE, {}))).then(() => undefined),
    async work(done) {
      const id = await boss.work(QUEUE, { batchSize: CONCURRENCY, pollingIntervalSeconds: 0.5 }, async (jobs) => void jobs.forEach(() => done()));
      return { stop: () => boss.offWork({ id }) };
    },
    clear: () => sender.purgeQueue(QUEUE),
  };
}

/** A bare fetch/complete loop with `CONCURRENCY` jobs per fetch and an empty handler. */
function rawFetch(boss: PgBoss, sender: PgBoss): Subject {
  const raw = rawWork(boss, sender);
  return {
    ...raw,
    async work(done) {
      let stopping = false;
      const loop = (async () => {
        while (!stopping) {
          const jobs = await boss.fetch(QUEUE, { batchSize: CONCURRENCY });
          if (jobs.length === 0) await sleep(50);
          else await boss.complete(QUEUE, jobs.map((j) => j.id)).then(() => jobs.forEach(() => done()));
        }
      })();
      return { stop: async () => void ((stopping = true), await loop) };
    },
  };
}

function report(results: Map<string, { send: number[]; work: number[] }>): void {
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const row = (label: string, key: string) => {
    const r = results.get(key)!;
    return `  ${label.padEnd(24)} send ${median(r.send).toFixed(0).padStart(6)} jobs/s   work ${median(r.work).toFixed(0).padStart(6)} jobs/s`;
  };
  for (const workers of [1, 3]) {
    console.log(`${workers} worker${workers > 1 ? 's' : ''} (medians of ${ROUNDS} rounds)`);
    for (const kind of ['raw work()', 'raw fetch', 'attache'] as const) console.log(row(kind, `${kind}/${workers}`));
    const get = (kind: Kind) => results.get(`${kind}/${workers}`)!;
    const ratio = (kind: Kind, field: 'send' | 'work') => (median(get('attache')[field]) / median(get(kind)[field])).toFixed(2);
    console.log(`  ratio attache ÷ raw work(): send ${ratio('raw work()', 'send')}, work ${ratio('raw work()', 'work')}`);
    console.log(`  ratio attache ÷ raw fetch:  send ${ratio('raw fetch', 'send')}, work ${ratio('raw fetch', 'work')}\n`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
