/**
 * Storage bench: `npm run bench:storage` (and part of `npm run bench`; not part of `npm test`).
 *
 * Uploads and downloads 64 MiB and 512 MiB through attache's Disk, S3 and SecureS3 services and
 * through the raw equivalent (see storage-targets.ts), in alternating rounds against the same place:
 * round 1 runs raw then attache, round 2 attache then raw, and so on; downloads go in the opposite
 * order to uploads. Each round gives one ratio attache ÷ raw (throughput); the table prints the
 * median and the min–max over the rounds (at least 5), the peak RSS growth (median; sampled every
 * 20 ms on a worker thread after a forced GC), the request path each side really took, the CPU time
 * per operation of this process (every thread) and of the S3 server (radosgw's utime+stime from
 * /proc), and the cores left free by other load when the row started.
 *
 * S3 and SecureS3 upload rows come from bench/s3-uploads.ts (benchS3Uploads: stream and known-size
 * bodies, RSS growth while streaming 1 GiB, BENCH_S3_RSS_MIB); this file times one upload per side
 * for their CPU split and for the objects its download rounds read.
 * S3 comes from the S3_* environment (../shared/s3 writes it); without S3_ENDPOINT the S3 rows are
 * skipped with a line that says so. The bench makes a bucket with a random name and removes it.
 * Knobs: BENCH_SIZES (MiB, default "64,512"), BENCH_ROUNDS (default 5), BENCH_SERVICES
 * (default "Disk,S3,SecureS3"), BENCH_MULTIPART_THRESHOLD (bytes or e.g. "8MiB").
 *
 * It re-runs itself under `node --expose-gc --import tsx` with MALLOC_MMAP_THRESHOLD_=65536, so that GC
 * can run between operations and freed chunks go back to the OS (glibc otherwise keeps them, and a later
 * operation would reuse them without its RSS growing). Set MALLOC_MMAP_THRESHOLD_ yourself to override.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKey } from '../src/core/keys.ts';
import '../src/services/builtins.ts';
import { configFromObject } from '../src/services/config.ts';
import { ServiceRegistry } from '../src/services/registry.ts';
import {
  consume,
  coreLoad,
  gcExposed,
  generatedSource,
  measured,
  median,
  MIB,
  otherProcessCpuMs,
  processCpuMs,
  RssSampler,
  s3ServerPid,
  sizeLabel,
  spread,
} from './measure.ts';
import { benchS3Uploads } from './s3-uploads.ts';
import { BenchBucket, diskTarget, s3Environment, s3Target, type Impl, type Target } from './storage-targets.ts';
import { reportRows, verdict, type SummaryRow } from './summary.ts';

const CHILD_MARK = 'BENCH_STORAGE_CHILD';
const BUDGET_MS = 12 * 60_000;
const GOALS = { Disk: { upload: 0.9, download: 0.95 }, S3: { upload: 0.95, download: 0.95 }, SecureS3: { upload: 0.95, download: 0.95 } } as const;
type Direction = 'upload' | 'download';

interface Sample {
  ms: number;
  rss: number;
  cpuMs: number;
  serverCpuMs: number | undefined;
}

interface Case {
  size: number;
  target: Target;
  direction: Direction;
  samples: Record<Impl, Sample[]>;
  paths: Record<Impl, Set<string>>;
  freeCores: number;
}

const started = performance.now();
const elapsed = (): number => performance.now() - started;

/** Runs this file again with GC exposed and an allocator that returns freed chunks to the OS. */
function relaunch(): never {
  const tsx = import.meta.resolve('tsx');
  const child = spawnSync(process.execPath, ['--expose-gc', '--import', tsx, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...process.env,
      [CHILD_MARK]: '1',
      MALLOC_MMAP_THRESHOLD_: process.env['MALLOC_MMAP_THRESHOLD_'] ?? '65536',
    },
  });
  if (child.error) throw child.error;
  process.exit(child.status ?? 1);
}

async function main(): Promise<void> {
  const guard = setTimeout(() => {
    console.error(`bench: over ${BUDGET_MS / 60_000} minutes, giving up (the bench bucket may be left behind)`);
    process.exit(2);
  }, BUDGET_MS).unref();
  const sizes = (process.env['BENCH_SIZES'] ?? '64,512').split(',').map((mib) => Math.round(Number(mib) * MIB));
  if (sizes.some((size) => !(size > 0))) throw new Error('BENCH_SIZES must be a comma-separated list of sizes in MiB.');
  const rounds = Math.max(1, Number(process.env['BENCH_ROUNDS'] ?? 5));
  const wanted = new Set((process.env['BENCH_SERVICES'] ?? 'Disk,S3,SecureS3').split(',').map((s) => s.trim()));
  const threshold = parseBytes(process.env['BENCH_MULTIPART_THRESHOLD']);
  const root = await mkdtemp(path.join(tmpdir(), 'attache-bench-storage-'));
  const sampler = await RssSampler.start(20);
  const s3 = s3Environment();
  const serverPid = s3 ? s3ServerPid() : undefined;
  let bucket: BenchBucket | undefined;
  try {
    const services: Record<string, Record<string, unknown>> = { disk: { service: 'Disk', root: path.join(root, 'attache') } };
    const notes: string[] = [];
    if (s3 && (wanted.has('S3') || wanted.has('SecureS3'))) {
      bucket = await BenchBucket.create(s3);
      const settings = { bucket: bucket.name, endpoint: s3.endpoint, region: s3.region, access_key_id: s3.accessKeyId, secret_access_key: s3.secretAccessKey, force_path_style: true, ...(threshold !== undefined && { multipart_threshold: threshold }) };
      services['s3'] = { service: 'S3', ...settings };
      if (s3.kmsKeyId) services['secure'] = { service: 'SecureS3', ...settings, kms_key_id: s3.kmsKeyId };
      else notes.push('S3_KMS_KEY_ID is not set: SecureS3 rows are skipped.');
      notes.push(`S3: ${s3.endpoint} (${s3.server}); server CPU from ${serverPid ? `radosgw pid ${serverPid}` : 'nowhere (no radosgw process found)'}; ${bucket.gc}`);
    } else if (!s3) {
      notes.push('S3_ENDPOINT is not set: S3 and SecureS3 rows are SKIPPED (run `. /tmp/attache-rgw/cluster/env`, see ../shared/s3/README.md).');
    }
    const registry = new ServiceRegistry(configFromObject(services, root), { env: {} });
    await registry.preload();
    const targets: Target[] = [];
    if (wanted.has('Disk')) targets.push(diskTarget(registry.service('disk'), path.join(root, 'raw')));
    if (bucket && wanted.has('S3')) targets.push(s3Target('S3', registry.service('s3'), bucket, undefined));
    if (bucket && s3?.kmsKeyId && wanted.has('SecureS3')) targets.push(s3Target('SecureS3', registry.service('secure'), bucket, s3.kmsKeyId));

    console.log('attache storage bench');
    console.log(`  node ${process.version}; GC between operations: ${gcExposed ? 'yes' : 'no'}; sizes ${sizes.map(sizeLabel).join(', ')}; ${rounds} alternating rounds per row`);
    console.log(`  load at start: ${coreLoad().text}`);
    for (const target of targets) if (target.info) console.log(`  ${target.name}: ${target.info}`);
    for (const note of notes) console.log(`  note: ${note}`);
    await warmUp(targets);

    const cases: Case[] = [];
    for (const size of sizes) {
      for (const target of targets) {
        const pair = await runCase(size, target, rounds, sampler, serverPid, target.name !== 'Disk');
        cases.push(...pair);
        process.stderr.write(`  done: ${sizeLabel(size)} ${target.name} (${(elapsed() / 1000).toFixed(0)} s)\n`);
      }
    }
    const rows = cases.map(toRow);
    printTable(cases, rows);
    // S3 and SecureS3 uploads: bench/s3-uploads.ts (alternating rounds, stream and known-size bodies, RSS for 1 GiB).
    const s3Services = targets.filter((t) => t.name !== 'Disk').map((t) => t.name as 'S3' | 'SecureS3');
    const uploadRows = s3Services.length > 0 ? await s3UploadRows(sizes, rounds, s3Services, cases) : [];
    console.log(`  load at end: ${coreLoad().text}`);
    // The S3 upload rows replace this loop's single timed S3 uploads (kept only for their CPU split).
    reportRows([...rows.filter((row) => row.case.includes('Disk') || row.case.endsWith('download')), ...uploadRows]);
  } finally {
    if (bucket) await bucket.remove().catch((error: unknown) => console.error(`bench: could not remove bucket ${bucket!.name}:`, error));
    await sampler.close();
    await rm(root, { recursive: true, force: true });
    clearTimeout(guard);
  }
  console.log(`\nElapsed: ${(elapsed() / 1000).toFixed(1)} s`);
}

/**
 * `rounds` alternating rounds of upload then download on both sides; returns the upload and the
 * download case. With `uploadOnce` (S3, whose upload rows come from bench/s3-uploads.ts), each side
 * uploads one object in the first round (timed, for the CPU split) and every round downloads it.
 */
async function runCase(size: number, target: Target, rounds: number, sampler: RssSampler, serverPid: number | undefined, uploadOnce: boolean): Promise<[Case, Case]> {
  const freeCores = coreLoad().free;
  const make = (direction: Direction): Case => ({ size, target, direction, samples: { raw: [], attache: [] }, paths: { raw: new Set(), attache: new Set() }, freeCores });
  const upload = make('upload');
  const download = make('download');
  let keys = { raw: generateKey(), attache: generateKey() };
  const remove = async (): Promise<void> => {
    await Promise.all((['raw', 'attache'] as const).map((impl) => target[impl].remove(keys[impl]).catch(() => undefined)));
    target.afterRound?.();
  };
  try {
    for (let round = 0; round < rounds; round++) {
      const order: Impl[] = round % 2 === 0 ? ['raw', 'attache'] : ['attache', 'raw'];
      if (round === 0 || !uploadOnce) {
        for (const impl of order) {
          const side = target[impl];
          upload.samples[impl].push(await sample(sampler, serverPid, `${target.name} ${impl} upload`, size, () => side.upload(keys[impl], generatedSource(size), size)));
          upload.paths[impl].add(side.takePath?.('upload') ?? '');
        }
      }
      for (const impl of [...order].reverse()) {
        const side = target[impl];
        download.samples[impl].push(
          await sample(sampler, serverPid, `${target.name} ${impl} download`, size, async () => {
            const bytes = await consume(await side.download(keys[impl]));
            if (bytes !== size) throw new Error(`${target.name} ${impl} download gave ${bytes} of ${size} bytes`);
          }),
        );
        download.paths[impl].add(side.takePath?.('download') ?? '');
      }
      if (!uploadOnce) {
        await remove();
        keys = { raw: generateKey(), attache: generateKey() };
      }
    }
  } finally {
    await remove();
  }
  return [upload, download];
}

/** One timed operation: wall time, peak RSS growth, CPU of this process and of the S3 server. */
async function sample(sampler: RssSampler, serverPid: number | undefined, what: string, size: number, operation: () => Promise<void>): Promise<Sample> {
  let cpuBefore = 0;
  let serverBefore: number | undefined;
  let cpuMs = 0;
  let serverCpuMs: number | undefined;
  const { ms, rss } = await measured(sampler, async () => {
    cpuBefore = processCpuMs();
    serverBefore = otherProcessCpuMs(serverPid);
    await watched(what, size, operation());
    cpuMs = processCpuMs() - cpuBefore;
    const serverAfter = otherProcessCpuMs(serverPid);
    serverCpuMs = serverBefore !== undefined && serverAfter !== undefined ? serverAfter - serverBefore : undefined;
  });
  return { ms, rss, cpuMs, serverCpuMs };
}

/** Fails an operation that takes far longer than any sane one, rather than hanging (a full Ceph OSD blocks writes silently). */
async function watched<T>(what: string, size: number, operation: Promise<T>): Promise<T> {
  const limit = Math.round(30_000 + (size / MIB) * 250);
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`bench: ${what} of ${sizeLabel(size)} took over ${limit / 1000} s.${what.startsWith('Disk') ? '' : ' Is the S3 server full?'}`)), limit);
  });
  try {
    return await Promise.race([operation, stalled]);
  } finally {
    clearTimeout(timer);
  }
}

/** One small round trip per side, so module loading, the MD5 worker's start and first connections do not count. */
async function warmUp(targets: Target[]): Promise<void> {
  for (const target of targets) {
    for (const impl of ['raw', 'attache'] as const) {
      const key = generateKey();
      await target[impl].upload(key, generatedSource(8 * MIB), 8 * MIB);
      await consume(await target[impl].download(key));
      await target[impl].remove(key);
      target[impl].takePath?.('upload');
    }
  }
}

/** Runs bench/s3-uploads.ts and turns its rows into summary rows; the CPU split comes from this bench's one timed upload per side. */
async function s3UploadRows(sizes: number[], rounds: number, services: Array<'S3' | 'SecureS3'>, cases: Case[]): Promise<SummaryRow[]> {
  console.log('\nS3 and SecureS3 uploads (bench/s3-uploads.ts): attache vs raw lib-storage, alternating rounds');
  const rssMiB = Number(process.env['BENCH_S3_RSS_MIB'] ?? 1024);
  const { rows, rss } = await benchS3Uploads({ sizes, rounds, services, rssBytes: rssMiB * MIB, log: (line) => console.log(`  ${line}`) });
  const summary: SummaryRow[] = rows.map((row) => {
    const mine = row.body === 'stream' ? cases.find((c) => c.size === row.size && c.target.name === row.service && c.direction === 'upload') : undefined;
    const cpu = mine ? toRow(mine).cpu : undefined;
    return {
      bench: 'storage',
      case: `${sizeLabel(row.size)} ${row.service} upload${row.body === 'stream' ? '' : ' (known size)'}`,
      path: `attache: ${row.path.attache}; raw: ${row.path.raw}`,
      ratios: row.ratios,
      goal: row.body === 'stream' ? 0.95 : 0.9,
      ...(cpu && { cpu }),
      ...(mine && { freeCores: mine.freeCores }),
    };
  });
  for (const row of rss) summary.push({ bench: 'storage', case: `${row.service} RSS Δ, ${sizeLabel(row.bytes)}: ${row.label}`, path: '', ratios: [], value: `${(row.rss / MIB).toFixed(0)} MiB` });
  return summary;
}

function toRow(c: Case): SummaryRow {
  const ratios = c.samples.raw.map((raw, i) => raw.ms / c.samples.attache[i]!.ms);
  const med = (impl: Impl, pick: (s: Sample) => number | undefined): number | undefined => {
    const values = c.samples[impl].map(pick).filter((v): v is number => v !== undefined);
    return values.length > 0 ? median(values) : undefined;
  };
  const paths = (impl: Impl): string => [...c.paths[impl]].join(' | ');
  return {
    bench: 'storage',
    case: `${sizeLabel(c.size)} ${c.target.name} ${c.direction}`,
    path: `attache: ${paths('attache')}; raw: ${paths('raw')}`,
    ratios,
    goal: GOALS[c.target.name][c.direction],
    rss: { raw: med('raw', (s) => s.rss)! / MIB, attache: med('attache', (s) => s.rss)! / MIB },
    cpu: {
      attache: med('attache', (s) => s.cpuMs)! / 1000,
      attacheServer: divide(med('attache', (s) => s.serverCpuMs), 1000),
      raw: med('raw', (s) => s.cpuMs)! / 1000,
      rawServer: divide(med('raw', (s) => s.serverCpuMs), 1000),
    },
    freeCores: c.freeCores,
  };
}

function divide(value: number | undefined, by: number): number | undefined {
  return value === undefined ? undefined : value / by;
}

function printTable(cases: Case[], rows: SummaryRow[]): void {
  console.log('');
  const header = `${'case'.padEnd(24)} ${'raw MiB/s'.padStart(9)} ${'attache'.padStart(8)} ${'ratio median (min–max)'.padEnd(23)} ${'RSS Δ raw/attache'.padEnd(18)} ${'CPU s proc/server raw | attache'.padEnd(32)} free  goal`;
  console.log(header);
  console.log('-'.repeat(header.length + 4));
  for (const [i, c] of cases.entries()) {
    const row = rows[i]!;
    const mibs = (impl: Impl): number => c.size / MIB / (median(c.samples[impl].map((s) => s.ms)) / 1000);
    const cpu = row.cpu!;
    const server = (v: number | undefined): string => (v === undefined ? '—' : v.toFixed(2));
    console.log(
      [
        row.case.padEnd(24),
        mibs('raw').toFixed(0).padStart(9),
        mibs('attache').toFixed(0).padStart(8),
        (c.target.name !== 'Disk' && c.direction === 'upload' ? 'one upload: see below' : spread(row.ratios)).padEnd(23),
        `${row.rss!.raw.toFixed(0)}/${row.rss!.attache.toFixed(0)} MiB`.padEnd(18),
        `${cpu.raw.toFixed(2)}/${server(cpu.rawServer)} | ${cpu.attache.toFixed(2)}/${server(cpu.attacheServer)}`.padEnd(32),
        row.freeCores!.toFixed(1).padStart(4),
        ` ${c.target.name !== 'Disk' && c.direction === 'upload' ? '' : verdict(row)}`,
      ].join(' '),
    );
    console.log(`    path ${row.path}`);
  }
  console.log('');
  console.log('MiB/s: median operation. ratio: attache ÷ raw throughput of each round, median (min–max). RSS Δ: median peak growth.');
  console.log('CPU s: per operation, this process (all threads) / the S3 server (radosgw utime+stime). free: cores − 1-min load when the row began.');
}

function parseBytes(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const match = /^\s*(\d+)\s*(MiB|KiB|B)?\s*$/i.exec(value);
  if (!match) throw new Error(`BENCH_MULTIPART_THRESHOLD must be a number of bytes, or e.g. "8MiB" (got "${value}").`);
  const unit = (match[2] ?? 'B').toLowerCase();
  return Number(match[1]) * (unit === 'mib' ? MIB : unit === 'kib' ? 1024 : 1);
}

if (process.env[CHILD_MARK] === '1') {
  await main().catch((error: unknown) => {
    console.error(error instanceof Error && error.message.startsWith('bench:') ? error.message : error);
    process.exit(1);
  });
} else {
  relaunch();
}
