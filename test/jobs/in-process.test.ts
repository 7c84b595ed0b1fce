import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ArgumentError, Attache, AttacheError, Attachment, Blob, ConfigurationError, IntegrityError, PersistenceError, type AttacheJob, type JobCompleted, type JobFailed, type JobStarted } from '../../src/index.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { User } from '../support/entities.ts';
import { filesUnder } from '../support/storage.ts';
import { openJobsFixture, Scan, testServices, type JobsFixture } from './support/fixture.ts';

let f: JobsFixture;
const events = { started: [] as JobStarted[], completed: [] as JobCompleted[], failed: [] as JobFailed[] };
const blobs = () => f.db.dataSource.getRepository(Blob);
const users = () => f.db.dataSource.getRepository(User);

beforeAll(async () => {
  f = await openJobsFixture({ queue: 'in-process' });
  f.attache.on('job:started', (e) => events.started.push(e)).on('job:completed', (e) => events.completed.push(e)).on('job:failed', (e) => events.failed.push(e));
});
afterAll(() => f.close());

const newBlob = (text = 'bytes') => f.attache.createAndUpload(Buffer.from(text));
const stored = (blob: Blob, service = 'local') => f.attache.service(service).exists(blob.key);
const purgesOf = (blob: Blob) => events.completed.filter((e) => e.job.type === 'purge' && e.job.blobId === blob.id).length;
async function gone(blob: Blob): Promise<boolean> {
  return (await blobs().countBy({ id: blob.id })) === 0 && !(await stored(blob));
}
async function newUserWithAvatar(name: string): Promise<{ user: User; old: Blob }> {
  const user = await users().save(users().create({ name }));
  await user.avatar.attach(Buffer.from(`avatar of ${name}`));
  return { user, old: (await user.avatar.blob())! };
}
const refuseCommitsOf = (user: User) => f.db.dataSource.query('INSERT INTO fail_commit (record_id) VALUES ($1)', [user.id]);

describe('attache.perform: one dispatch table', () => {
  it('runs purge, mirror and delete_prefixed, each idempotent', async () => {
    const blob = await newBlob();
    await f.attache.perform({ type: 'purge', blobId: blob.id });
    await f.attache.perform({ type: 'purge', blobId: blob.id });
    expect(await gone(blob)).toBe(true);
    await f.attache.service('local').upload('folder/a', Buffer.from('a'));
    await f.attache.service('local').upload('folderx', Buffer.from('sibling'));
    await f.attache.perform({ type: 'delete_prefixed', service: 'local', prefix: 'folder/' });
    await f.attache.perform({ type: 'delete_prefixed', service: 'local', prefix: 'folder/' });
    expect(await f.attache.service('local').exists('folder/a')).toBe(false);
    expect(await f.attache.service('local').exists('folderx')).toBe(true);
  });

  it.each<[string, unknown]>([
    ['not an object', 'purge'],
    ['an unknown type', { type: 'transcode', blobId: '1' }],
    ['a blob id that is not an id', { type: 'purge', blobId: '1; DROP TABLE users' }],
    ['a missing blob id', { type: 'mirror' }],
    ['an empty prefix (the whole service)', { type: 'delete_prefixed', service: 'local', prefix: '' }],
    ['a prefix that is not a folder', { type: 'delete_prefixed', service: 'local', prefix: 'folder' }],
    ['a preprocess without variation', { type: 'preprocess', blobId: '1' }],
  ])('refuses %s with ArgumentError, on perform and on enqueue', async (_, job) => {
    await expect(f.attache.perform(job as AttacheJob)).rejects.toBeInstanceOf(ArgumentError);
    await expect(f.attache.enqueue(job as AttacheJob)).rejects.toBeInstanceOf(ArgumentError);
  });

  it('analyze of a blob that is gone is a no-op, and a forged preprocess variation is refused', async () => {
    await f.attache.perform({ type: 'analyze', blobId: '999999999' });
    const blob = await newBlob();
    await expect(f.attache.perform({ type: 'preprocess', blobId: blob.id, variation: 'forged' })).rejects.toBeInstanceOf(AttacheError);
  });

  it('reports each attempt: job:started, then job:completed or job:failed with the error', async () => {
    const blob = await newBlob();
    const before = { ...events, started: events.started.length, completed: events.completed.length, failed: events.failed.length };
    await f.attache.perform({ type: 'purge', blobId: blob.id });
    await expect(f.attache.perform({ type: 'delete_prefixed', service: 'nowhere', prefix: 'x/' })).rejects.toBeInstanceOf(ConfigurationError);
    expect(events.started.slice(before.started).map((e) => [e.job.type, e.attempt])).toEqual([['purge', 1], ['delete_prefixed', 1]]);
    expect(events.completed.slice(before.completed)).toEqual([expect.objectContaining({ job: { type: 'purge', blobId: blob.id }, attempt: 1, durationMs: expect.any(Number) })]);
    const [failed] = events.failed.slice(before.failed);
    expect(failed!.error).toBeInstanceOf(ConfigurationError);
    expect(failed!.willRetry).toBeUndefined();
  });

  it('without a job:failed listener, a failure is one line on stderr', async () => {
    const attache = await Attache.init({ dataSource: f.db.dataSource, services: testServices(f.roots), service: 'local', secret: TEST_SECRET });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      await expect(attache.perform({ type: 'delete_prefixed', service: 'nowhere', prefix: 'x/' })).rejects.toBeInstanceOf(ConfigurationError);
      expect(warn.mock.calls).toEqual([[expect.stringMatching(/^\[attache\] delete_prefixed job failed \(attempt 1\): Unknown storage service "nowhere"/)]]);
    } finally {
      warn.mockRestore();
      await attache.close();
    }
  });

  it('work() is a ConfigurationError with the in-process queue: there is nothing to share', async () => {
    await expect(f.attache.work({ concurrency: 2 })).rejects.toThrow(ConfigurationError);
    await expect(f.attache.work({ concurrency: 2 })).rejects.toThrow(/shared job queue.*pgBossQueue/);
  });

  it('warns once per process, without values, when the in-process queue boots with NODE_ENV=production', async () => {
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const boot = () => Attache.init({ dataSource: f.db.dataSource, services: testServices(f.roots), service: 'local', secret: TEST_SECRET, env: { NODE_ENV: 'production' } });
    try {
      const [a, b] = [await boot(), await boot()];
      await a.close();
      await b.close();
      expect(emitted).toHaveBeenCalledTimes(1);
      const [message, options] = emitted.mock.calls[0]!;
      expect(options).toEqual({ code: 'ATTACHE_IN_PROCESS_QUEUE' });
      expect(String(message)).not.toContain(TEST_SECRET);
      expect(String(message)).not.toContain(f.local);
    } finally {
      emitted.mockRestore();
    }
  });
});

describe('in-process queue: a job enqueued in a transaction runs if and only if it commits', () => {
  const purgeIn = (blob: Blob, body: (enqueue: (runner: import('typeorm').QueryRunner) => Promise<void>) => Promise<void>) =>
    body((runner) => f.attache.enqueue({ type: 'purge', blobId: blob.id }, { transaction: runner }));

  it('rolled back: never runs; committed: runs once, after the commit', async () => {
    const kept = await newBlob();
    await expect(f.db.dataSource.transaction((m) => purgeIn(kept, async (enqueue) => {
      await enqueue(m.queryRunner!);
      throw new Error('abort');
    }))).rejects.toThrow('abort');
    const purged = await newBlob();
    await f.db.dataSource.transaction((m) => purgeIn(purged, async (enqueue) => {
      await enqueue(m.queryRunner!);
      await f.attache.drain();
      expect(await blobs().countBy({ id: purged.id })).toBe(1); // not before the commit
    }));
    await f.attache.drain();
    expect(await gone(kept)).toBe(false);
    expect(await gone(purged)).toBe(true);
    expect([purgesOf(kept), purgesOf(purged)]).toEqual([0, 1]);
  });

  it('savepoints: only the outermost commit counts', async () => {
    const [innerRolledBack, outerRolledBack, bothCommitted] = [await newBlob(), await newBlob(), await newBlob()];
    await f.db.dataSource.transaction(async (m) => {
      await m.transaction((inner) => purgeIn(innerRolledBack, async (enqueue) => {
        await enqueue(inner.queryRunner!);
        throw new Error('inner abort');
      })).catch(() => undefined);
    });
    await expect(f.db.dataSource.transaction(async (m) => {
      await m.transaction((inner) => purgeIn(outerRolledBack, (enqueue) => enqueue(inner.queryRunner!)));
      throw new Error('outer abort');
    })).rejects.toThrow('outer abort');
    await f.db.dataSource.transaction(async (m) => {
      await m.transaction((inner) => purgeIn(bothCommitted, (enqueue) => enqueue(inner.queryRunner!)));
      await f.attache.drain();
      expect(await blobs().countBy({ id: bothCommitted.id })).toBe(1); // a released savepoint is not a commit
    });
    await f.attache.drain();
    expect([await gone(innerRolledBack), await gone(outerRolledBack), await gone(bothCommitted)]).toEqual([false, false, true]);
  });

  it('has-one swap: the old blob is purged once when the swap commits, never when its COMMIT fails', async () => {
    const refused = await newUserWithAvatar('swap refused');
    await refuseCommitsOf(refused.user);
    const filesBefore = await filesUnder(f.local);
    await expect(refused.user.avatar.attach(Buffer.from('never'))).rejects.toBeInstanceOf(PersistenceError);
    const swapped = await newUserWithAvatar('swap committed');
    await swapped.user.avatar.attach(Buffer.from('new avatar'));
    await f.attache.drain();
    expect((await refused.user.avatar.reset().download()).toString()).toBe('avatar of swap refused');
    expect(await filesUnder(f.local)).toEqual(expect.arrayContaining(filesBefore));
    expect(purgesOf(refused.old)).toBe(0);
    expect(await gone(swapped.old)).toBe(true);
    expect(purgesOf(swapped.old)).toBe(1);
  });

  it('purgeLater: the purge runs once when the detach commits, never when its COMMIT fails', async () => {
    const refused = await newUserWithAvatar('purge later refused');
    await refuseCommitsOf(refused.user);
    await expect(refused.user.avatar.purgeLater()).rejects.toBeInstanceOf(PersistenceError);
    const committed = await newUserWithAvatar('purge later committed');
    await committed.user.avatar.purgeLater();
    await f.attache.drain();
    expect(await refused.user.avatar.reset().attached()).toBe(true);
    expect(await gone(refused.old)).toBe(false);
    expect(purgesOf(refused.old)).toBe(0);
    expect(await gone(committed.old)).toBe(true);
    expect(purgesOf(committed.old)).toBe(1);
  });

  it('repository.remove: purge_later runs once when the removal commits, never when it rolls back', async () => {
    const kept = await newUserWithAvatar('remove rolled back');
    await expect(f.db.dataSource.transaction(async (m) => {
      await m.remove(kept.user);
      throw new Error('abort');
    })).rejects.toThrow('abort');
    const removed = await newUserWithAvatar('remove committed');
    await users().remove(removed.user);
    await f.attache.drain();
    expect(await f.db.dataSource.getRepository(Attachment).countBy({ blobId: kept.old.id })).toBe(1);
    expect([await gone(kept.old), purgesOf(kept.old)]).toEqual([false, 0]);
    expect([await gone(removed.old), purgesOf(removed.old)]).toEqual([true, 1]);
  });
});

describe('a queue without transactional enqueue (a job library of your own)', () => {
  it('is handed a job only after the outermost commit, and never after a rollback', async () => {
    const handed: Array<{ job: AttacheJob; inTransaction: boolean }> = [];
    let runner: import('typeorm').QueryRunner | undefined;
    const queue = { enqueue: async (job: AttacheJob) => void handed.push({ job, inTransaction: runner?.isTransactionActive ?? false }) };
    const attache = await Attache.init({ dataSource: f.db.dataSource, services: testServices(f.roots), service: 'local', secret: TEST_SECRET, queue });
    try {
      await expect(f.db.dataSource.transaction(async (m) => {
        runner = m.queryRunner;
        await attache.enqueue({ type: 'purge', blobId: '1' }, { transaction: m.queryRunner });
        throw new Error('abort');
      })).rejects.toThrow('abort');
      await f.db.dataSource.transaction(async (m) => {
        runner = m.queryRunner;
        await m.transaction((inner) => attache.enqueue({ type: 'purge', blobId: '2' }, { transaction: inner.queryRunner }));
        expect(handed).toEqual([]);
      });
      await attache.drain();
      expect(handed).toEqual([{ job: { type: 'purge', blobId: '2' }, inTransaction: false }]);
    } finally {
      await attache.close();
    }
  });
});

describe('many runs of one job', () => {
  it('two purges of one blob at once both succeed, and the blob is gone', async () => {
    const blob = await newBlob();
    await Promise.all([f.attache.perform({ type: 'purge', blobId: blob.id }), f.attache.perform({ type: 'purge', blobId: blob.id })]);
    expect(await gone(blob)).toBe(true);
  });

  it('two delete_prefixed of one folder at once both succeed', async () => {
    for (const name of ['a', 'b', 'c']) await f.attache.service('local').upload(`twice/${name}`, Buffer.from(name));
    const job = { type: 'delete_prefixed', service: 'local', prefix: 'twice/' } as const;
    await Promise.all([f.attache.perform(job), f.attache.perform(job)]);
    expect(await filesUnder(f.local)).not.toContainEqual(expect.stringContaining('twice'));
  });

  it('mirror copies a primary-only blob to the mirror, verified; twice at once is the same', async () => {
    const blob = await f.attache.createAndUpload(Buffer.from('mirror me'), { service: 'mirrored' });
    await f.attache.service('archive').delete(blob.key);
    await Promise.all([f.attache.perform({ type: 'mirror', blobId: blob.id }), f.attache.perform({ type: 'mirror', blobId: blob.id })]);
    expect((await blob.download()).toString()).toBe('mirror me');
    const copy = await f.attache.service('archive').download(blob.key);
    expect(Buffer.concat(await copy.toArray()).toString()).toBe('mirror me');
  });

  it('mirror refuses a primary whose bytes changed (IntegrityError) and the mirror keeps nothing', async () => {
    const blob = await f.attache.createAndUpload(Buffer.from('original'), { service: 'mirrored' });
    await f.attache.service('archive').delete(blob.key);
    await writeFile(path.join(f.local, blob.key.slice(0, 2), blob.key.slice(2, 4), blob.key), 'tampered');
    await expect(f.attache.perform({ type: 'mirror', blobId: blob.id })).rejects.toBeInstanceOf(IntegrityError);
    expect(await f.attache.service('archive').exists(blob.key)).toBe(false);
  });

  it('mirror of a blob gone or on a plain service is a no-op', async () => {
    const plain = await newBlob();
    await f.attache.perform({ type: 'mirror', blobId: plain.id });
    await f.attache.perform({ type: 'mirror', blobId: '999999999' });
    expect(await stored(plain)).toBe(true);
    expect(await filesUnder(f.archive)).not.toContain(expect.stringContaining(plain.key));
  });

  it('attaching an existing blob on a Mirror service enqueues its mirror job with the attach', async () => {
    const blob = await f.attache.createAndUpload(Buffer.from('direct upload'), { service: 'mirrored' });
    await f.attache.service('archive').delete(blob.key); // as a direct upload leaves it: on the primary only
    const scans = f.db.dataSource.getRepository(Scan);
    const scan = await scans.save(scans.create({ title: 'contract' }));
    await scan.file.attach(blob);
    await f.attache.drain();
    expect(events.completed.filter((e) => e.job.type === 'mirror' && e.job.blobId === blob.id)).toHaveLength(1);
    expect(await f.attache.service('archive').exists(blob.key)).toBe(true);
  });
});
