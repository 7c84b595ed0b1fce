/**
 * HTTP bench: `npm run bench:http` (not part of `npm test`; bounded to well under a minute).
 * 1. Disk URL signing rate: `blob.url()` per second, next to a bare HMAC-SHA256 of the same size.
 * 2. Streaming a 64 MiB and a 512 MiB blob through `attache.handler()` (proxy and Disk routes) against
 *    a plain `fs.createReadStream(path).pipe(res)` server, in the same process, on 127.0.0.1, in
 *    alternating rounds (the order rotates each round). The proxy route verifies the MD5 as it
 *    streams (on the MD5 worker thread for large files) and holds back the last chunk until it matches.
 * Prints MB/s and the ratio attache ÷ raw of each round: median (min–max).
 * Uses DATABASE_URL, else a throw-away PostgreSQL.
 * Knobs: BENCH_HTTP_SIZES (MiB, default "64,512"), BENCH_ROUNDS (default 5), BENCH_SIGN_MS (default 1500).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { Attache, attacheEntities, fromPath, hasOneAttached, type AttachedOne, type Blob } from '../src/index.ts';
import { startDatabase } from '../scripts/database.ts';
import { CreateActiveStorageTables1700000000000 } from '../migrations/1700000000000-CreateActiveStorageTables.ts';
import { coreLoad, median, spread } from './measure.ts';
import { reportRows, type SummaryRow } from './summary.ts';

@Entity({ name: 'bench_http_users' })
class User {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar' }) name!: string;
  @hasOneAttached({ dependent: 'purge' }) declare file: AttachedOne;
}

const MIB = 1024 * 1024;
const SIZES = (process.env.BENCH_HTTP_SIZES ?? process.env.BENCH_MIB ?? '64,512').split(',').map((mib) => Number(mib) * MIB);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 5));
const SIGN_MS = Number(process.env.BENCH_SIGN_MS ?? 1500);
const DEADLINE_MS = 5 * 60_000;
const PROXY_GOAL = 0.95;

async function main(): Promise<void> {
  const guard = setTimeout(() => {
    console.error(`bench: over ${DEADLINE_MS / 1000} s, giving up`);
    process.exit(2);
  }, DEADLINE_MS).unref();
  const database = await startDatabase();
  const root = await mkdtemp(path.join(tmpdir(), 'attache-bench-'));
  const dataSource = new DataSource({ type: 'postgres', url: database.url, entities: [...attacheEntities, User], migrations: [CreateActiveStorageTables1700000000000] });
  try {
    await dataSource.initialize();
    await dataSource.runMigrations();
    await dataSource.query('CREATE TABLE IF NOT EXISTS bench_http_users (id serial PRIMARY KEY, name varchar NOT NULL)');
    const attache = await Attache.init({ dataSource, services: { local: { service: 'Disk', root } }, secret: randomBytes(32).toString('hex') });
    const users = dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'bench' }));
    console.log(`PostgreSQL: ${database.source}; ${ROUNDS} alternating rounds per size; load: ${coreLoad().text}\n`);
    const rows: SummaryRow[] = [];
    for (const [i, size] of SIZES.entries()) {
      const source = path.join(root, `source-${size}.bin`);
      await writeRandomFile(source, size);
      await user.file.attach(fromPath(source, { filename: 'big.bin' }));
      await rm(source);
      const blob = (await user.file.blob())!;
      if (i === 0) await benchSigning(blob);
      rows.push(...(await benchStreaming(attache, blob, path.join(root, blob.key.slice(0, 2), blob.key.slice(2, 4), blob.key), size)));
    }
    reportRows(rows);

    await users.remove(user);
    await attache.close();
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await database.stop();
    await rm(root, { recursive: true, force: true });
    clearTimeout(guard);
  }
}

async function benchSigning(blob: Blob): Promise<void> {
  const sample = await blob.url();
  const key = randomBytes(32);
  const payload = sample.split('/')[3]!.split('.')[0]!;
  const raw = rate(SIGN_MS, () => void createHmac('sha256', key).update(payload).digest('base64url'));
  let urls = 0;
  const started = performance.now();
  while (performance.now() - started < SIGN_MS) {
    for (let i = 0; i < 100; i++) await blob.url();
    urls += 100;
  }
  const signed = (urls * 1000) / (performance.now() - started);
  console.log('Disk URL signing');
  console.log(`  blob.url():            ${fmt(signed)} URLs/s`);
  console.log(`  bare HMAC-SHA256:      ${fmt(raw)} /s  (same payload size)`);
  console.log(`  ratio attache ÷ raw:   ${(signed / raw).toFixed(2)}\n`);
}

async function benchStreaming(attache: Attache, blob: Blob, file: string, size: number): Promise<SummaryRow[]> {
  const rawListener: RequestListener = (_req, res) => {
    res.writeHead(200, { 'content-length': String(size), 'content-type': 'application/octet-stream' });
    createReadStream(file).pipe(res);
  };
  const raw = await listen(rawListener);
  const app = await listen(attache.handler());
  const freeCores = coreLoad().free;
  try {
    const targets = {
      raw: `${raw.origin}/file`,
      proxy: `${app.origin}${blob.proxyUrl()}`,
      disk: `${app.origin}${await blob.url({ expiresIn: 3600 })}`,
    };
    const names = ['raw', 'proxy', 'disk'] as const;
    const times = { raw: [] as number[], proxy: [] as number[], disk: [] as number[] };
    for (const url of Object.values(targets)) await download(url, size); // warm-up
    // Alternating: the order rotates every round, so drift (page cache, CPU boost, other load) hits every server alike.
    for (let round = 0; round < ROUNDS; round++) {
      for (let j = 0; j < names.length; j++) {
        const name = names[(round + j) % names.length]!;
        times[name].push(await download(targets[name], size));
      }
    }
    const mbps = (ms: number[]): number => size / MIB / (median(ms) / 1000);
    const ratios = (name: 'proxy' | 'disk'): number[] => times.raw.map((rawMs, i) => rawMs / times[name][i]!);
    console.log(`Streaming ${size / MIB} MiB over 127.0.0.1, ${ROUNDS} rounds (MB/s of the median request)`);
    console.log(`  raw fs.createReadStream().pipe(res): ${fmt(mbps(times.raw))} MB/s`);
    for (const name of ['proxy', 'disk'] as const) {
      console.log(`  attache ${name.padEnd(5)} route:               ${fmt(mbps(times[name]))} MB/s   ratio attache ÷ raw: ${spread(ratios(name))}`);
    }
    console.log('');
    return [
      { bench: 'http', case: `${size / MIB} MiB proxy route`, path: 'Disk read → Verify (MD5, last chunk held) → res', ratios: ratios('proxy'), goal: PROXY_GOAL, freeCores },
      { bench: 'http', case: `${size / MIB} MiB Disk route`, path: 'signed Disk URL, unverified', ratios: ratios('disk'), freeCores },
    ];
  } finally {
    await raw.close();
    await app.close();
  }
}

/** GETs the URL, counting (not keeping) the bytes; returns the milliseconds it took. Throws on a short body. */
async function download(url: string, size: number): Promise<number> {
  const started = performance.now();
  const response = await fetch(url);
  if (response.status !== 200 || !response.body) throw new Error(`GET answered ${response.status}`);
  let bytes = 0;
  for await (const chunk of response.body) bytes += (chunk as Uint8Array).byteLength;
  if (bytes !== size) throw new Error(`GET gave ${bytes} of ${size} bytes`);
  return performance.now() - started;
}

function rate(ms: number, run: () => void): number {
  let count = 0;
  const started = performance.now();
  while (performance.now() - started < ms) {
    for (let i = 0; i < 1000; i++) run();
    count += 1000;
  }
  return (count * 1000) / (performance.now() - started);
}

async function listen(listener: RequestListener): Promise<{ origin: string; close(): Promise<void> }> {
  const server: Server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

async function writeRandomFile(file: string, size: number): Promise<void> {
  const handle = await open(file, 'w');
  try {
    const chunk = randomBytes(MIB);
    for (let written = 0; written < size; written += chunk.length) await handle.write(chunk, 0, Math.min(chunk.length, size - written));
  } finally {
    await handle.close();
  }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
