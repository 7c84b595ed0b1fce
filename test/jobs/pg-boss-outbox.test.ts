import { inspect } from 'node:util';
import { DataSource, type QueryRunner } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attacheEntities, Blob, ConfigurationError, PersistenceError, runWorker } from '../../src/index.ts';
import { pgBossQueue } from '../../src/jobs/pg-boss/index.ts';
import { User } from '../support/entities.ts';
import { bossJobs, openJobsFixture, query, type JobsFixture } from './support/fixture.ts';

let f: JobsFixture;
const users = () => f.db.dataSource.getRepository(User);

beforeAll(async () => {
  f = await openJobsFixture({ queue: 'pg-boss' });
});
afterAll(() => f.close());

const jobsFor = (blob: Blob) => bossJobs(f.bossSchema, { type: 'purge', blobId: blob.id });
async function newUserWithAvatar(name: string): Promise<{ user: User; old: Blob }> {
  const user = await users().save(users().create({ name }));
  await user.avatar.attach(Buffer.from(`avatar of ${name}`));
  return { user, old: (await user.avatar.blob())! };
}
const refuseCommitsOf = (user: User) => f.db.dataSource.query('INSERT INTO fail_commit (record_id) VALUES ($1)', [user.id]);

describe('pg-boss queue: a job enqueued in a transaction exists if and only if it commits', () => {
  const enqueuePurge = (blob: Blob, runner: QueryRunner) => f.attache.enqueue({ type: 'purge', blobId: blob.id }, { transaction: runner });

  it('rolled back: no job; committed: exactly one', async () => {
    const [kept, purged] = [await f.attache.createAndUpload(Buffer.from('a')), await f.attache.createAndUpload(Buffer.from('b'))];
    await expect(f.db.dataSource.transaction(async (m) => {
      await enqueuePurge(kept, m.queryRunner!);
      expect(await jobsFor(kept)).toHaveLength(0); // not visible outside the transaction before it commits
      throw new Error('abort');
    })).rejects.toThrow('abort');
    await f.db.dataSource.transaction((m) => enqueuePurge(purged, m.queryRunner!));
    expect(await jobsFor(kept)).toHaveLength(0);
    expect(await jobsFor(purged)).toEqual([expect.objectContaining({ state: 'created' })]);
  });

  it('savepoints: a rolled-back savepoint takes its job with it; the outer rollback takes all', async () => {
    const [inner, outer, both] = [await f.attache.createAndUpload(Buffer.from('i')), await f.attache.createAndUpload(Buffer.from('o')), await f.attache.createAndUpload(Buffer.from('b'))];
    await f.db.dataSource.transaction(async (m) => {
      await m.transaction(async (s) => {
        await enqueuePurge(inner, s.queryRunner!);
        throw new Error('inner abort');
      }).catch(() => undefined);
      await m.transaction((s) => enqueuePurge(both, s.queryRunner!));
    });
    await expect(f.db.dataSource.transaction(async (m) => {
      await m.transaction((s) => enqueuePurge(outer, s.queryRunner!));
      throw new Error('outer abort');
    })).rejects.toThrow('outer abort');
    expect([(await jobsFor(inner)).length, (await jobsFor(outer)).length, (await jobsFor(both)).length]).toEqual([0, 0, 1]);
  });

  it('the same purge is never queued twice (singleton key)', async () => {
    const blob = await f.attache.createAndUpload(Buffer.from('twice'));
    await f.attache.enqueue({ type: 'purge', blobId: blob.id });
    await f.db.dataSource.transaction((m) => enqueuePurge(blob, m.queryRunner!));
    await blob.purgeLater();
    expect(await jobsFor(blob)).toHaveLength(1);
  });

  it('has-one swap: a committed swap writes one purge job for the old blob; a failed COMMIT writes none', async () => {
    const refused = await newUserWithAvatar('swap refused');
    await refuseCommitsOf(refused.user);
    await expect(refused.user.avatar.attach(Buffer.from('never'))).rejects.toBeInstanceOf(PersistenceError);
    const swapped = await newUserWithAvatar('swap committed');
    await swapped.user.avatar.attach(Buffer.from('new'));
    expect(await jobsFor(refused.old)).toHaveLength(0);
    expect(await jobsFor(swapped.old)).toHaveLength(1);
    expect(await f.db.dataSource.getRepository(Blob).countBy({ id: swapped.old.id })).toBe(1); // purged by a worker, not here
  });

  it('purgeLater: one job when the detach commits, none when its COMMIT fails', async () => {
    const refused = await newUserWithAvatar('purge later refused');
    await refuseCommitsOf(refused.user);
    await expect(refused.user.avatar.purgeLater()).rejects.toBeInstanceOf(PersistenceError);
    const committed = await newUserWithAvatar('purge later committed');
    await committed.user.avatar.purgeLater();
    expect(await refused.user.avatar.reset().attached()).toBe(true);
    expect(await jobsFor(refused.old)).toHaveLength(0);
    expect(await jobsFor(committed.old)).toHaveLength(1);
  });

  it('repository.remove: one job when the removal commits, none when it rolls back', async () => {
    const kept = await newUserWithAvatar('remove rolled back');
    await expect(f.db.dataSource.transaction(async (m) => {
      await m.remove(kept.user);
      throw new Error('abort');
    })).rejects.toThrow('abort');
    const removed = await newUserWithAvatar('remove committed');
    await users().remove(removed.user);
    expect(await jobsFor(kept.old)).toHaveLength(0);
    expect(await jobsFor(removed.old)).toHaveLength(1);
  });

  it('a failing enqueue rolls the detach back: nothing changes', async () => {
    const { user, old } = await newUserWithAvatar('queue down');
    await query(`ALTER TABLE ${f.bossSchema}.job RENAME TO job_away`);
    try {
      await expect(user.avatar.purgeLater()).rejects.toBeInstanceOf(PersistenceError);
    } finally {
      await query(`ALTER TABLE ${f.bossSchema}.job_away RENAME TO job`);
    }
    expect(await user.avatar.reset().attached()).toBe(true);
    expect(await jobsFor(old)).toHaveLength(0);
  });
});

describe('pgBossQueue setup', () => {
  it.each<[string, Record<string, unknown>]>([
    ['schema', { schema: 'bad-name; DROP' }],
    ['queue', { queue: 'a queue' }],
    ['retryLimit', { retryLimit: -1 }],
    ['expireInSeconds', { expireInSeconds: 0 }],
    ['pollingIntervalSeconds', { pollingIntervalSeconds: 0.1 }],
  ])('refuses a bad %s with a ConfigurationError naming it', (name, options) => {
    expect(() => pgBossQueue(f.db.dataSource, options)).toThrow(ConfigurationError);
    expect(() => pgBossQueue(f.db.dataSource, options)).toThrow(`"${name}"`);
  });

  it('never shows the connection settings in inspect or JSON', () => {
    const dataSource = new DataSource({ type: 'postgres', url: 'postgres://app:s3cr3t-pw@127.0.0.1:1/app', password: 's3cr3t-pw', entities: [...attacheEntities] });
    const queue = pgBossQueue(dataSource, { schema: 'jobs_here' });
    for (const shown of [inspect(queue, { depth: 5 }), JSON.stringify(queue)]) {
      expect(shown).not.toContain('s3cr3t-pw');
      expect(shown).toContain('jobs_here');
    }
  });

  it('refuses a DataSource that is not PostgreSQL', () => {
    const dataSource = { options: { type: 'mysql' } } as unknown as DataSource; // TypeORM loads a driver it is not given, so only the options are real here
    expect(() => pgBossQueue(dataSource)).toThrow(ConfigurationError);
  });

  it('creates its own schema and queues in the app\'s database, with the dead-letter queue attached', async () => {
    const queues = await query<{ name: string; policy: string; dead_letter: string | null; retry_limit: number; expire_seconds: number }>(
      `SELECT name, policy, dead_letter, retry_limit, expire_seconds FROM ${f.bossSchema}.queue ORDER BY name`,
    );
    expect(queues).toEqual([
      { name: 'attache', policy: 'short', dead_letter: 'attache_dead_letter', retry_limit: 2, expire_seconds: 3 },
      expect.objectContaining({ name: 'attache_dead_letter', dead_letter: null }),
    ]);
  });
});

describe('runWorker', () => {
  it('takes jobs until its AbortSignal fires, then resolves once the running job is recorded', async () => {
    const blob = await f.attache.createAndUpload(Buffer.from('worked'));
    await f.attache.enqueue({ type: 'purge', blobId: blob.id });
    const controller = new AbortController();
    f.attache.on('job:completed', ({ job }) => job.type === 'purge' && job.blobId === blob.id && controller.abort());
    await runWorker(f.attache, { concurrency: 2, signal: controller.signal, signals: [] });
    expect(await f.db.dataSource.getRepository(Blob).countBy({ id: blob.id })).toBe(0);
    expect(await jobsFor(blob)).toEqual([expect.objectContaining({ state: 'completed' })]);
  });
});
