import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Blob, StorageAccessError, type JobFailed } from '../../src/index.ts';
import { filesUnder } from '../support/storage.ts';
import { bossJobs, openJobsFixture, type JobsFixture } from './support/fixture.ts';
import { eventually, spawnWorker, type WorkerProcess } from './support/processes.ts';

let f: JobsFixture;
const blobs = () => f.db.dataSource.getRepository(Blob);
const started: WorkerProcess[] = [];

beforeAll(async () => {
  f = await openJobsFixture({ queue: 'pg-boss' });
});
afterAll(async () => {
  for (const worker of started) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
  await f.close();
});

function worker(options: Parameters<typeof spawnWorker>[1] = {}): WorkerProcess {
  const spawned = spawnWorker(f, options);
  started.push(spawned);
  return spawned;
}
async function stopped(w: WorkerProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  w.child.kill('SIGTERM');
  return w.exited;
}
const diskPath = (root: string, key: string) => path.join(root, key.slice(0, 2), key.slice(2, 4), key);
const states = async () => (await bossJobs(f.bossSchema)).map((j) => j.state);
async function createBlobs(count: number, service = 'local'): Promise<Blob[]> {
  const made: Blob[] = [];
  for (let i = 0; i < count; i += 25) {
    made.push(...(await Promise.all(Array.from({ length: Math.min(25, count - i) }, (_, k) => f.attache.createAndUpload(Buffer.from(`blob ${i + k}`), { service })))));
  }
  return made;
}
async function clearQueue(): Promise<void> {
  await f.db.dataSource.query(`DELETE FROM ${f.bossSchema}.job WHERE name = 'attache'`);
  await f.db.dataSource.query(`DELETE FROM ${f.bossSchema}.archive`);
}

describe('worker processes on one pg-boss queue', () => {
  it('three workers drain 500 jobs (purges and mirrors): every effect happens once, none is lost', { timeout: 120_000 }, async () => {
    await clearQueue();
    const purged = await createBlobs(400);
    const mirrored = await createBlobs(100, 'mirrored');
    for (const blob of mirrored) await f.attache.service('archive').delete(blob.key); // on the primary only, as a direct upload leaves it
    const jobs = [...purged.map((b) => ({ type: 'purge' as const, blobId: b.id })), ...mirrored.map((b) => ({ type: 'mirror' as const, blobId: b.id }))];
    for (let i = 0; i < jobs.length; i += 50) await Promise.all(jobs.slice(i, i + 50).map((job) => f.attache.enqueue(job)));
    expect(await states()).toHaveLength(500);

    const workers = [worker({ concurrency: 4 }), worker({ concurrency: 4 }), worker({ concurrency: 4 })];
    await eventually(async () => (await states()).filter((s) => s === 'completed').length === 500, 90_000, '500 completed jobs');
    expect(await Promise.all(workers.map(stopped))).toEqual(workers.map(() => ({ code: 0, signal: null })));

    const completed = workers.flatMap((w) => w.events.filter((e) => e.event === 'job:completed'));
    expect(completed).toHaveLength(500);
    expect(new Set(completed.map((e) => e.id)).size).toBe(500);
    expect(workers.flatMap((w) => w.events.filter((e) => e.event === 'job:failed'))).toEqual([]);
    expect(workers.filter((w) => w.events.some((e) => e.event === 'job:completed')).length).toBeGreaterThanOrEqual(2);
    expect((await bossJobs(f.bossSchema)).every((j) => j.retry_count === 0)).toBe(true);

    expect(await blobs().countBy({ serviceName: 'local' })).toBe(0);
    expect(await blobs().countBy({ serviceName: 'mirrored' })).toBe(100);
    const expected = mirrored.map((b) => path.relative(f.local, diskPath(f.local, b.key))).sort();
    expect(await filesUnder(f.local)).toEqual(expected);
    expect(await filesUnder(f.archive)).toEqual(expected);
  });

  it('a worker killed (SIGKILL) in the middle of a purge: another worker retries it after its expiration and completes it; nothing is left half done', { timeout: 60_000 }, async () => {
    await clearQueue();
    const [blob] = await createBlobs(1);
    const stall = path.join(f.roots.broken, 'stall');
    await writeFile(stall, '');
    await f.attache.enqueue({ type: 'purge', blobId: blob!.id });

    const victim = worker({ local: { stall_file: stall } });
    const attempt = await victim.waitFor((e) => e.event === 'job:started');
    await eventually(async () => existsSync(`${stall}.entered`), 10_000, 'the delete to stall');
    victim.child.kill('SIGKILL');
    expect(await victim.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // The purge's transaction died with its connection: row and file are both still there.
    expect(await blobs().countBy({ id: blob!.id })).toBe(1);
    expect(existsSync(diskPath(f.local, blob!.key))).toBe(true);
    expect(await states()).toEqual(['active']);

    await rm(stall);
    const rescuer = worker();
    const retried = await rescuer.waitFor((e) => e.event === 'job:completed', 30_000);
    expect({ id: retried.id, attempt: retried.attempt }).toEqual({ id: attempt.id, attempt: 2 });
    expect(await stopped(rescuer)).toEqual({ code: 0, signal: null });
    expect(await blobs().countBy({ id: blob!.id })).toBe(0);
    expect(existsSync(diskPath(f.local, blob!.key))).toBe(false);
    expect(await bossJobs(f.bossSchema)).toEqual([expect.objectContaining({ state: 'completed', retry_count: 1 })]);
  });

  it('SIGTERM: the running jobs finish, no new one starts, the process exits 0', { timeout: 60_000 }, async () => {
    await clearQueue();
    const made = await createBlobs(6);
    for (const blob of made) await f.attache.enqueue({ type: 'purge', blobId: blob.id });
    const w = worker({ concurrency: 2, local: { slow_ms: 1500 } });
    await w.waitFor(() => w.events.filter((e) => e.event === 'job:started').length === 2);
    expect(await stopped(w)).toEqual({ code: 0, signal: null });

    const names = w.events.map((e) => e.event);
    const stopAt = names.indexOf('stopping');
    expect(stopAt).toBeGreaterThan(0);
    expect(names.slice(stopAt + 1).filter((n) => n === 'job:started')).toEqual([]);
    expect(names.filter((n) => n === 'job:started')).toHaveLength(2);
    expect(names.filter((n) => n === 'job:completed')).toHaveLength(2);
    expect(names.at(-1)).toBe('exited');
    expect((await states()).sort()).toEqual(['completed', 'completed', 'created', 'created', 'created', 'created']);
    expect(await blobs().countBy({ serviceName: 'local' })).toBe(4);
  });
});

describe('failures', () => {
  it('a job that always fails is retried, then lands in the dead-letter queue with its error; nothing is half done', { timeout: 60_000 }, async () => {
    await clearQueue();
    const blob = await f.attache.createAndUpload(Buffer.from('undeletable'), { service: 'broken' });
    const failures: JobFailed[] = [];
    f.attache.on('job:failed', (e) => failures.push(e));
    const w = await f.attache.work({ concurrency: 1 });
    try {
      await f.attache.enqueue({ type: 'purge', blobId: blob.id });
      await eventually(async () => (await f.queue!.deadLetters()).length === 1, 30_000, 'a dead letter');
    } finally {
      await w.stop();
    }
    expect(failures.map((e) => [e.attempt, e.willRetry, e.error instanceof StorageAccessError])).toEqual([[1, true, true], [2, true, true], [3, false, true]]);
    const [letter] = await f.queue!.deadLetters();
    expect(letter).toEqual({
      id: expect.any(String),
      job: { type: 'purge', blobId: blob.id },
      error: { name: 'StorageAccessError', code: 'E_STORAGE_ACCESS', message: 'The test disk refuses every delete.' },
      failedAt: expect.any(Date),
    });
    expect(await bossJobs(f.bossSchema, { type: 'purge', blobId: blob.id })).toEqual([expect.objectContaining({ state: 'failed', retry_count: 2 })]);
    expect(await blobs().countBy({ id: blob.id })).toBe(1);
    expect(await f.attache.service('broken').exists(blob.key)).toBe(true);
  });

  it('an attempt that runs past its expiration is failed by its own worker and retried', { timeout: 30_000 }, async () => {
    await clearQueue();
    const reports: string[] = [];
    let release: () => void = () => undefined;
    const [blob] = await createBlobs(1);
    await f.queue!.start({ report: (action) => reports.push(action) });
    const w = await f.queue!.work(async (job, attempt) => {
      if (attempt.attempt === 1) await new Promise<void>((resolve) => (release = resolve)); // stuck until released
      else await f.attache.perform(job as never, attempt);
    }, { concurrency: 1 });
    try {
      await f.attache.enqueue({ type: 'purge', blobId: blob!.id });
      await eventually(async () => (await states()).includes('completed'), 20_000, 'the retry to complete');
    } finally {
      release();
      await w.stop();
    }
    expect(reports).toContain('finish a job before its expiration');
    expect(await bossJobs(f.bossSchema)).toEqual([expect.objectContaining({ state: 'completed', retry_count: 1 })]);
    expect(await blobs().countBy({ id: blob!.id })).toBe(0);
  });
});

describe('examples/worker.ts', () => {
  it('runs jobs from the queue and exits 0 on SIGTERM', { timeout: 60_000 }, async () => {
    await clearQueue();
    await f.attache.service('archive').upload('reports/old.txt', Buffer.from('old'));
    const w = worker({
      script: path.resolve(import.meta.dirname, '../../examples/worker.ts'),
      env: { PGOPTIONS: `-c search_path=${f.db.schema}`, ATTACHE_JOBS_SCHEMA: f.bossSchema, ATTACHE_ARCHIVE_ROOT: f.archive, ATTACHE_SECRET: 'x'.repeat(32), WORKER_CONCURRENCY: '2' },
    });
    await w.waitFor((e) => e.event === 'output' && /taking jobs, 2 at a time/.test(e.error ?? ''));
    await f.attache.enqueue({ type: 'delete_prefixed', service: 'archive', prefix: 'reports/' });
    await w.waitFor((e) => e.event === 'output' && /^delete_prefixed done \(attempt 1/.test(e.error ?? ''), 20_000);
    expect(await f.attache.service('archive').exists('reports/old.txt')).toBe(false);
    expect(await stopped(w)).toEqual({ code: 0, signal: null });
    expect(w.events.at(-1)?.error).toMatch(/stopped$/);
  });
});
