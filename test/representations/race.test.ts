import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { In } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Attachment, Blob, VariantRecord } from '../../src/index.ts';
import { makeImage, makePdf, toolsMissing } from '../support/media.ts';
import { filesUnder } from '../support/storage.ts';
import { openGallery, type Gallery } from './fixture.ts';

const WORKER = path.join(import.meta.dirname, 'race-worker.ts');
const REPO = path.resolve(import.meta.dirname, '../..');

let g: Gallery;
beforeAll(async () => (g = await openGallery()));
afterAll(() => g.close());

interface Worker {
  child: ChildProcess;
  /** Resolves once the worker waits at the barrier. */
  ready: Promise<void>;
  /** Resolves with what the worker printed, or rejects with its stderr. */
  done: Promise<{ image: { id: string; key: string } }>;
}

function startWorker(name: string, blobId: string, extra: Record<string, string> = {}): Worker {
  const env = { ...process.env, URL: inject('databaseUrl'), SCHEMA: g.db.schema, ROOT: g.root, BLOB_ID: blobId, KIND: 'variant', NAME: `${g.db.schema}-${name}`, ...extra };
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], { cwd: REPO, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const ready = new Promise<void>((resolve) => child.stderr!.on('data', (chunk: Buffer) => ((err += chunk.toString()), err.includes('ready') && resolve())));
  const done = new Promise<{ image: { id: string; key: string } }>((resolve, reject) => {
    child.once('exit', (code, signal) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`worker ${name} exited ${code ?? signal}: ${err}`))));
  });
  return { child, done, ready };
}

/** Starts `names` as workers that wait at a barrier, then lets them all go at once. */
async function race(blobId: string, names: string[], extra: Record<string, string> = {}): Promise<Array<{ image: { id: string; key: string } }>> {
  const workers = names.map((name) => startWorker(name, blobId, { ...extra, BARRIER: '1' }));
  await Promise.race([Promise.all(workers.map((w) => w.ready)), Promise.all(workers.map((w) => w.done))]);
  for (const worker of workers) worker.child.stdin!.end('go\n');
  return Promise.all(workers.map((w) => w.done));
}

/**
 * While `until` is pending, checks again and again the invariant Rails #58853 breaks: every
 * variant record anyone can see has its image attached, and that image's bytes are stored.
 */
async function watchRecords(until: Promise<unknown>): Promise<{ checks: number; broken: string[] }> {
  let finished = false;
  void until.finally(() => (finished = true)).catch(() => undefined);
  const broken: string[] = [];
  let checks = 0;
  const local = g.attache.service('local');
  while (!finished) {
    const records = await g.db.dataSource.getRepository(VariantRecord).find();
    for (const record of records) {
      const image = await g.db.dataSource.getRepository(Attachment).findOne({ where: { recordType: 'ActiveStorage::VariantRecord', recordId: record.id, name: 'image' }, relations: { blob: true } });
      if (!image?.blob) broken.push(`record ${record.id} has no image`);
      else if (!(await local.exists(image.blob.key))) broken.push(`record ${record.id} points at missing bytes`);
    }
    checks++;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return { checks, broken };
}

/** An attached original (as `report`: no preprocessed variants, so only the workers make any). */
async function original(data: Buffer, filename: string): Promise<Blob> {
  const member = await g.newMember();
  await member.report.attach({ io: data, filename });
  await g.attache.drain();
  return (await member.report.blob())!;
}

async function state(blob: Blob) {
  const records = await g.db.dataSource.getRepository(VariantRecord).findBy({ blobId: blob.id });
  const images = records.length === 0 ? 0 : await g.db.dataSource.getRepository(Attachment).countBy({ recordType: 'ActiveStorage::VariantRecord', recordId: In(records.map((r) => r.id)) });
  const keys = new Set((await g.db.dataSource.getRepository(Blob).find()).map((b) => b.key));
  const files = (await filesUnder(g.root)).map((file) => path.basename(file));
  return { records: records.length, images, orphanFiles: files.filter((file) => !keys.has(file)), missingFiles: [...keys].filter((key) => !files.includes(key)) };
}

describe('generated once, across processes', () => {
  it('three worker processes asking for one variant at the same instant store one image and one record', async () => {
    const blob = await original(await makeImage(3000, 2000, 'png'), 'big.png');
    const all = race(blob.id, ['a', 'b', 'c']);
    const [results, watched] = await Promise.all([all, watchRecords(all)]);
    expect(new Set(results.map((r) => r.image.id)).size).toBe(1);
    expect(watched.broken).toEqual([]);
    expect(watched.checks).toBeGreaterThan(10);
    expect(await state(blob)).toEqual({ records: 1, images: 1, orphanFiles: [], missingFiles: [] });
  }, 60_000);

  it('a worker killed (SIGKILL) while it holds the lock leaves no record; the next one makes the variant', async () => {
    const blob = await original(await makeImage(6000, 4000, 'png'), 'huge.png');
    const victim = startWorker('victim', blob.id);
    victim.done.catch(() => undefined);
    victim.child.stdin!.end();
    await until(async () => (await advisoryLocksOf(`${g.db.schema}-victim`)) > 0, 30_000);
    victim.child.kill('SIGKILL');
    await victim.done.catch(() => undefined);
    expect(await g.db.dataSource.getRepository(VariantRecord).countBy({ blobId: blob.id })).toBe(0);
    const next = startWorker('next', blob.id);
    next.child.stdin!.end();
    const [result, watched] = await Promise.all([next.done, watchRecords(next.done)]);
    expect(watched.broken).toEqual([]);
    const after = await state(blob);
    expect([after.records, after.images, after.missingFiles]).toEqual([1, 1, []]);
    expect(await g.attache.service('local').exists(result.image.key)).toBe(true);
  }, 90_000);

  it.skipIf(toolsMissing('pdftoppm'))('two worker processes previewing one PDF store one preview image', async () => {
    const blob = await original(makePdf([{ width: 400, height: 300 }]), 'race.pdf');
    const results = await race(blob.id, ['p1', 'p2'], { KIND: 'preview' });
    expect(new Set(results.map((r) => r.image.id)).size).toBe(1);
    expect(await g.db.dataSource.getRepository(Attachment).countBy({ recordType: 'ActiveStorage::Blob', recordId: blob.id, name: 'preview_image' })).toBe(1);
    expect((await state(blob)).orphanFiles).toEqual([]);
  }, 60_000);
});

/** Advisory locks held (granted) by connections whose application_name is `name`. */
async function advisoryLocksOf(name: string): Promise<number> {
  const rows: Array<{ n: string }> = await g.db.dataSource.query(
    `SELECT count(*) AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1`,
    [name],
  );
  return Number(rows[0]?.n ?? 0);
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
