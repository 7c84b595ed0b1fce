import { CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import { fork, type ChildProcess } from 'node:child_process';
import { readdir, stat, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Attache, Attachment, Blob } from '../../src/index.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { openTestDataSource, type TestDataSource } from '../support/db.ts';
import { createTestBucket, missing, s3Settings, type TestBucket } from '../support/s3.ts';
import { filesUnder, removeDir, tempRoot } from '../support/storage.ts';

const CHILD = path.join(import.meta.dirname, 'fixtures', 'attach-forever.ts');
const CRATES = 'CREATE TABLE crates (id serial PRIMARY KEY, label varchar NOT NULL)';

/** Runs the attach loop in a child process and kills it with SIGKILL after `afterMs` of work. */
async function killMidway(db: TestDataSource, services: Record<string, unknown>, afterMs: number): Promise<void> {
  const child: ChildProcess = fork(CHILD, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, DATABASE_URL: inject('databaseUrl'), SCHEMA: db.schema, SERVICES: JSON.stringify(services), SECRET: TEST_SECRET },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the child exited (${code}) before it was ready: ${stderr}`)));
  });
  await new Promise((resolve) => setTimeout(resolve, afterMs));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe('sweep after processes killed with SIGKILL (checklist 39)', () => {
  let db: TestDataSource;
  let root: string;
  let attache: Attache;
  const keyOf = (file: string) => file.split(path.sep).slice(2).join('/');

  beforeAll(async () => {
    db = await openTestDataSource({ sql: [CRATES] });
    root = await tempRoot('sweep');
    attache = await Attache.init({ dataSource: db.dataSource, services: { local: { service: 'Disk', root } }, secret: TEST_SECRET });
  });
  afterAll(async () => {
    await attache.close();
    await db.close();
    await removeDir(root);
  });

  it('finds the leftovers in a dry run without changing anything, then removes exactly them', async () => {
    for (const afterMs of [400, 900, 1500]) await killMidway(db, { local: { service: 'Disk', root } }, afterMs);
    // A temp file of a write that never finished, and an object no row names, as a crash leaves them.
    await mkdir(path.join(root, '.attache-tmp'), { recursive: true });
    await writeFile(path.join(root, '.attache-tmp', 'crashed.part'), 'half');
    await mkdir(path.join(root, 'zz', 'zz'), { recursive: true });
    await writeFile(path.join(root, 'zz', 'zz', 'zzzzorphan'), 'no row');

    const before = { files: await filesUnder(root), blobs: await db.dataSource.getRepository(Blob).count() };
    const dry = await attache.sweep({ olderThan: 0 });
    expect(dry.dryRun).toBe(true);
    expect(dry.failures).toEqual([]);
    expect(dry.orphanObjects.map((o) => o.key)).toContain('zzzzorphan');
    expect(dry.pendingWrites.map((w) => w.id)).toContain('crashed.part');
    expect(await filesUnder(root)).toEqual(before.files);
    expect(await db.dataSource.getRepository(Blob).count()).toBe(before.blobs);

    const applied = await attache.sweep({ olderThan: 0, dryRun: false });
    expect(applied.failures).toEqual([]);
    const blobs = await db.dataSource.getRepository(Blob).find();
    const attached = new Set((await db.dataSource.getRepository(Attachment).find()).map((a) => a.blobId));
    const stored = (await filesUnder(root)).filter((f) => !f.startsWith('.attache-tmp')).map(keyOf);
    expect(blobs.filter((b) => !attached.has(b.id))).toEqual([]);
    expect(stored.sort()).toEqual(blobs.map((b) => b.key).sort());
    expect(await readdir(path.join(root, '.attache-tmp')).catch(() => [])).toEqual([]);
    for (const blob of blobs) expect((await stat(path.join(root, blob.key.slice(0, 2), blob.key.slice(2, 4), blob.key))).size).toBe(blob.byteSize);
  }, 90_000);

  it('leaves alone what is newer than olderThan', async () => {
    await writeFile(path.join(root, '.attache-tmp', 'fresh.part'), 'in flight');
    const report = await attache.sweep({ olderThan: 3600, dryRun: false });
    expect(report.pendingWrites).toEqual([]);
    expect(await readdir(path.join(root, '.attache-tmp'))).toContain('fresh.part');
  });
});

describe.skipIf(missing('strict'))('sweep on S3 after a process killed mid-multipart (checklist 39)', () => {
  let db: TestDataSource;
  let bucket: TestBucket;
  let attache: Attache;
  let services: Record<string, Record<string, unknown>>;

  beforeAll(async () => {
    db = await openTestDataSource({ sql: [CRATES] });
    bucket = await createTestBucket();
    services = { bucket: { service: 'S3', ...s3Settings(bucket.name), multipart_threshold: 5 * 1024 * 1024, part_size: 5 * 1024 * 1024 } };
    attache = await Attache.init({ dataSource: db.dataSource, services, secret: TEST_SECRET });
  });
  afterAll(async () => {
    await attache.close();
    await db.close();
    await bucket.remove();
  });

  it('aborts the incomplete multipart uploads and removes orphans and unattached blobs', async () => {
    for (const afterMs of [1200, 2500]) await killMidway(db, services, afterMs);
    // One upload that certainly never finished, besides whatever the kills interrupted.
    const { UploadId } = await bucket.client.send(new CreateMultipartUploadCommand({ Bucket: bucket.name, Key: 'never-finished' }));
    const dry = await attache.sweep({ olderThan: 0 });
    expect(dry.pendingWrites.map((w) => w.id)).toContain(UploadId);
    const applied = await attache.sweep({ olderThan: 0, dryRun: false });
    expect(applied.failures).toEqual([]);
    expect(await bucket.openUploads()).toBe(0);
    const blobs = await db.dataSource.getRepository(Blob).find();
    expect((await bucket.keys()).sort()).toEqual(blobs.map((b) => b.key).sort());
  }, 90_000);
});
