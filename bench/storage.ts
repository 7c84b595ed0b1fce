/**
 * Storage bench: `npm run bench` (not part of `npm test`; one run stays under 10 minutes).
 *
 * Uploads and downloads 1 MiB, 64 MiB and 512 MiB through attache's services (Disk, S3, SecureS3),
 * built from a storage.yml-style config by the service registry as Attache.init builds them, and
 * through the raw equivalent in the same run against the same server:
 *   Disk     vs pipeline(source, fs.createWriteStream) and fs.createReadStream → consume
 *   S3       vs @aws-sdk/lib-storage Upload (same part size and queue size) and GetObject → consume
 *   SecureS3 vs the same, with ServerSideEncryption aws:kms + SSEKMSKeyId
 * Both sides read the same generated source (fresh 64 KiB chunks of one random MiB). Runs are
 * interleaved (raw, attache, then attache, raw on the next repetition) and the best repetition counts.
 * Prints MiB/s, the ratio attache ÷ raw and the peak RSS growth of each operation (sampled every
 * 20 ms on a worker thread, after a forced GC). The goal: ratio ≥ 0.95 and, for 512 MiB, RSS growth < 64 MiB.
 *
 * S3 comes from the S3_* environment (S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY,
 * S3_KMS_KEY_ID; see ../shared/s3/README.md); without S3_ENDPOINT only Disk is benched. The bench
 * creates a bucket with a random name and removes it, with its objects, at the end.
 * Knobs: BENCH_SIZES (MiB, default "1,64,512"), BENCH_REPS (repetitions for every size; default 5 / 3 / 2
 * for ≤ 1 MiB / ≤ 64 MiB / larger on Disk, 5 / 2 / 1 on S3), BENCH_MULTIPART_THRESHOLD (bytes, or e.g. "8MiB";
 * default: attache's own, 100 MiB), BENCH_SERVICES (default "Disk,S3,SecureS3").
 *
 * Disk uploads are also timed as raw write + an MD5 Transform (printed below the table), which separates
 * the checksum attache must compute from the rest of its overhead.
 *
 * S3 volume: a default run writes about 2.8 GiB to the S3 server and deletes it again. Ceph RGW keeps the
 * data of deleted objects over 4 MiB (here about 2.5 GiB) until its garbage collector runs (rgw_gc_obj_min_wait,
 * 2 hours by default), and ../shared/s3 runs a 4 GiB memstore OSD, which blocks every write (everyone's) once
 * full. So S3 gets fewer repetitions than Disk, the bench prints the volume it writes, and an operation that
 * stalls fails with that hint instead of hanging. (`radosgw-admin gc process --include-all` frees it at once.)
 *
 * It re-runs itself under `node --expose-gc --import tsx` with MALLOC_MMAP_THRESHOLD_=65536, so that
 * GC can run between cases and freed 64 KiB chunks go back to the OS (glibc otherwise keeps them, and a
 * later case would reuse them without its RSS growing). Set MALLOC_MMAP_THRESHOLD_ yourself to override.
 */
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { generateKey } from '../src/core/keys.ts';
import '../src/services/builtins.ts';
import { configFromObject } from '../src/services/config.ts';
import { ServiceRegistry } from '../src/services/registry.ts';
import { S3Service } from '../src/services/s3/S3Service.ts';
import type { StorageService } from '../src/services/Service.ts';
import { consume, gcExposed, generatedSource, measured, mibPerSecond, MIB, num, RssSampler, sizeLabel } from './measure.ts';

const CHILD_MARK = 'BENCH_STORAGE_CHILD';
const BUDGET_MS = 10 * 60_000;
/** Past this, no case starts a repetition beyond its first. */
const SOFT_BUDGET_MS = 7 * 60_000;
/** lib-storage's queue size, and S3Service's default (not a storage.yml setting). */
const QUEUE_SIZE = 4;
const GOAL_RATIO = 0.95;
const GOAL_RSS = 64 * MIB;
const GOAL_RSS_SIZE = 512 * MIB;
const CONTENT_TYPE = 'application/octet-stream';
const BATCH_BYTES = 16 * MIB;

type ServiceName = 'Disk' | 'S3' | 'SecureS3';
type Direction = 'upload' | 'download';
type Impl = 'raw' | 'attache';

/** One side of a comparison: how it stores, reads back and removes an object. */
interface Side {
  /** Stores `body` (`size` bytes) under `key`. */
  upload(key: string, body: Readable, size: number): Promise<void>;
  download(key: string): Promise<AsyncIterable<Uint8Array>>;
  remove(key: string): Promise<void>;
}

interface Target {
  name: ServiceName;
  raw: Side;
  attache: Side;
  /** How each side writes an object of `size` bytes (for the table). */
  uploadPath(impl: Impl, size: number): string;
  /** Settings worth printing. */
  info?: string;
  /** Disk only: the raw write plus the MD5 attache must compute (uploads only), to separate that cost from the rest. */
  reference?: Side;
}

interface Result {
  size: number;
  service: ServiceName;
  direction: Direction;
  path: { raw: string; attache: string };
  ms: Record<Impl, number[]>;
  rss: Record<Impl, number[]>;
  /** Per-operation times of the target's reference side (uploads with a reference only). */
  referenceMs: number[];
}

const started = performance.now();
const elapsed = (): number => performance.now() - started;

/** Runs this file again with GC exposed and an allocator that returns freed chunks to the OS. */
function relaunch(): never {
  const tsx = import.meta.resolve('tsx');
  const child = spawnSync(process.execPath, ['--expose-gc', '--import', tsx, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: {
      // The SDK's notice that it will need Node 22 from 2027 would otherwise open the report.
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
  }, BUDGET_MS + 60_000).unref();
  // Ctrl-C: stop after the operation in flight and still remove the bucket; a second Ctrl-C quits at once.
  let interrupted = false;
  const onInterrupt = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error('bench: interrupted, cleaning up (Ctrl-C again to quit now)');
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);
  const sizes = (process.env['BENCH_SIZES'] ?? '1,64,512').split(',').map((mib) => Math.round(Number(mib) * MIB));
  if (sizes.some((size) => !(size > 0))) throw new Error('BENCH_SIZES must be a comma-separated list of sizes in MiB.');
  const wanted = new Set((process.env['BENCH_SERVICES'] ?? 'Disk,S3,SecureS3').split(',').map((s) => s.trim()));
  const threshold = parseBytes(process.env['BENCH_MULTIPART_THRESHOLD']);

  const root = await mkdtemp(path.join(tmpdir(), 'attache-bench-storage-'));
  const sampler = await RssSampler.start(20);
  const s3 = s3Environment();
  let bucket: BenchBucket | undefined;
  try {
    const services: Record<string, Record<string, unknown>> = { disk: { service: 'Disk', root: path.join(root, 'attache') } };
    const notes: string[] = [];
    if (s3 !== undefined && (wanted.has('S3') || wanted.has('SecureS3'))) {
      bucket = await BenchBucket.create(s3);
      const settings = {
        bucket: bucket.name,
        endpoint: s3.endpoint,
        region: s3.region,
        access_key_id: s3.accessKeyId,
        secret_access_key: s3.secretAccessKey,
        force_path_style: true,
        ...(threshold !== undefined && { multipart_threshold: threshold }),
      };
      services['s3'] = { service: 'S3', ...settings };
      if (s3.kmsKeyId !== undefined) services['secure'] = { service: 'SecureS3', ...settings, kms_key_id: s3.kmsKeyId };
      else notes.push('S3_KMS_KEY_ID is not set: SecureS3 is skipped.');
    } else if (s3 === undefined) {
      notes.push('S3_ENDPOINT is not set: S3 and SecureS3 are skipped, only Disk is benched (source ../shared/s3 env for Ceph RGW).');
    }
    const registry = new ServiceRegistry(configFromObject(services, root), { env: {} });

    const targets: Target[] = [];
    if (wanted.has('Disk')) targets.push(await diskTarget(registry.service('disk'), path.join(root, 'raw')));
    if (bucket && s3 && wanted.has('S3')) targets.push(s3Target('S3', registry.service('s3'), bucket, undefined));
    if (bucket && s3?.kmsKeyId && wanted.has('SecureS3')) targets.push(s3Target('SecureS3', registry.service('secure'), bucket, s3.kmsKeyId));

    printHeader(s3, targets, sizes, notes);
    await warmUp(targets, sampler);

    const results: Result[] = [];
    let shortened = false;
    for (const size of sizes) {
      for (const target of targets) {
        const reps = repetitions(size, target.name);
        const batch = batchSize(size);
        const upload = newResult(size, target, 'upload');
        const download = newResult(size, target, 'download');
        for (let rep = 0; rep < reps; rep++) {
          if (interrupted) throw new Error('bench: interrupted');
          if (rep > 0 && elapsed() > SOFT_BUDGET_MS) {
            shortened = true;
            break;
          }
          // raw first on even repetitions, attache first on odd ones, and downloads in the opposite order to
          // uploads: drift (the server's background work, other load) hits both sides alike.
          const order: Impl[] = rep % 2 === 0 ? ['raw', 'attache'] : ['attache', 'raw'];
          const keys = { raw: newKeys(batch), attache: newKeys(batch) };
          const referenceKeys = target.reference ? newKeys(batch) : [];
          const totals = { upload: { raw: 0, attache: 0 }, download: { raw: 0, attache: 0 }, reference: 0 };
          try {
            // Small files: operations alternate one by one; only the first of each side is RSS-sampled (after a GC).
            for (let i = 0; i < batch; i++) {
              for (const impl of order) {
                const side = target[impl];
                const key = keys[impl][i]!;
                const run = await timed(sampler, i === 0, () => watched(`${target.name} ${impl} upload`, size, side.upload(key, generatedSource(size), size)));
                totals.upload[impl] += run.ms;
                if (run.rss !== undefined) upload.rss[impl].push(run.rss);
              }
              const reference = target.reference;
              if (reference) {
                const key = referenceKeys[i]!;
                totals.reference += (await timed(sampler, i === 0, () => watched(`${target.name} reference upload`, size, reference.upload(key, generatedSource(size), size)))).ms;
              }
            }
            for (let i = 0; i < batch; i++) {
              for (const impl of [...order].reverse()) {
                const side = target[impl];
                const key = keys[impl][i]!;
                const run = await timed(sampler, i === 0, async () => {
                  const bytes = await watched(`${target.name} ${impl} download`, size, side.download(key).then(consume));
                  if (bytes !== size) throw new Error(`${target.name} ${impl} download gave ${bytes} of ${size} bytes`);
                });
                totals.download[impl] += run.ms;
                if (run.rss !== undefined) download.rss[impl].push(run.rss);
              }
            }
            for (const impl of order) {
              upload.ms[impl].push(totals.upload[impl] / batch);
              download.ms[impl].push(totals.download[impl] / batch);
            }
            if (target.reference) upload.referenceMs.push(totals.reference / batch);
          } finally {
            const all = order.flatMap((impl) => keys[impl].map((key) => target[impl].remove(key).catch(() => undefined)));
            const reference = target.reference;
            if (reference) all.push(...referenceKeys.map((key) => reference.remove(key).catch(() => undefined)));
            await Promise.all(all);
          }
        }
        results.push(upload, download);
        process.stderr.write(`  done: ${sizeLabel(size)} ${target.name} (${(elapsed() / 1000).toFixed(0)} s)\n`);
      }
    }
    printTable(results);
    printFooter(targets, shortened, results);
  } finally {
    if (bucket) {
      const name = bucket.name;
      await watched('S3 bucket removal', 0, bucket.remove()).catch((error: unknown) => console.error(`bench: could not remove bucket ${name}:`, error));
    }
    await sampler.close();
    await rm(root, { recursive: true, force: true });
    clearTimeout(guard);
  }
  console.log(`\nElapsed: ${(elapsed() / 1000).toFixed(1)} s`);
}

/** Small files get more repetitions; S3 fewer, because RGW holds deleted data for hours (see the top). */
function repetitions(size: number, service: ServiceName): number {
  const fixed = process.env['BENCH_REPS'];
  if (fixed !== undefined) return Math.max(1, Number(fixed));
  if (size <= MIB) return 5;
  if (size <= 64 * MIB) return service === 'Disk' ? 3 : 2;
  return service === 'Disk' ? 2 : 1;
}

/** Bytes a run writes to the S3 server (warm-up included). */
function s3Volume(sizes: number[], targets: Target[]): number {
  const s3 = targets.filter((target) => target.name !== 'Disk');
  const perTarget = 2 * MIB + sizes.reduce((sum, size) => sum + 2 * size * batchSize(size) * repetitions(size, 'S3'), 0);
  return s3.length * perTarget;
}

/**
 * Fails an operation that takes far longer than any sane one (30 s, plus 1 s per 4 MiB), rather than
 * hanging: a full Ceph OSD blocks writes without an error.
 */
async function watched<T>(what: string, size: number, operation: Promise<T>): Promise<T> {
  const limit = Math.round(30_000 + (size / MIB) * 250);
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const hint = what.startsWith('Disk') ? '' : ' Is the S3 server full? Ceph RGW keeps deleted data until its GC runs (rgw_gc_obj_min_wait), and a full OSD blocks writes silently.';
      reject(new Error(`bench: ${what} of ${sizeLabel(size)} took over ${limit / 1000} s.${hint}`));
    }, limit);
  });
  try {
    return await Promise.race([operation, stalled]);
  } finally {
    clearTimeout(timer);
  }
}

/** Times one operation; with `sampleRss`, after a GC and with its peak RSS growth. */
async function timed(sampler: RssSampler, sampleRss: boolean, operation: () => Promise<unknown>): Promise<{ ms: number; rss?: number }> {
  if (sampleRss) return measured(sampler, async () => void (await operation()));
  const started = performance.now();
  await operation();
  return { ms: performance.now() - started };
}

/** Operations per timed run: small files go in batches of about 16 MiB, so per-request noise averages out. */
function batchSize(size: number): number {
  return Math.max(1, Math.floor(BATCH_BYTES / size));
}

function newKeys(count: number): string[] {
  return Array.from({ length: count }, () => generateKey());
}

function newResult(size: number, target: Target, direction: Direction): Result {
  const path =
    direction === 'upload' ? { raw: target.uploadPath('raw', size), attache: target.uploadPath('attache', size) } : { raw: 'stream', attache: 'stream' };
  return { size, service: target.name, direction, path, ms: { raw: [], attache: [] }, rss: { raw: [], attache: [] }, referenceMs: [] };
}

/** One small round trip per side, so module loading and first connections do not count. */
async function warmUp(targets: Target[], sampler: RssSampler): Promise<void> {
  for (const target of targets) {
    for (const impl of ['raw', 'attache'] as const) {
      const key = generateKey();
      await measured(sampler, () => target[impl].upload(key, generatedSource(MIB), MIB));
      await consume(await target[impl].download(key));
      await target[impl].remove(key);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Targets

async function diskTarget(service: StorageService, rawRoot: string): Promise<Target> {
  await mkdir(rawRoot, { recursive: true });
  const file = (key: string): string => path.join(rawRoot, key);
  return {
    name: 'Disk',
    raw: {
      upload: (key, body) => pipeline(body, createWriteStream(file(key))),
      download: async (key) => createReadStream(file(key)),
      remove: (key) => rm(file(key), { force: true }),
    },
    attache: attacheSide(service),
    reference: {
      upload: (key, body) => pipeline(body, md5Transform(), createWriteStream(file(key))),
      download: async (key) => createReadStream(file(key)),
      remove: (key) => rm(file(key), { force: true }),
    },
    uploadPath: (impl) => (impl === 'raw' ? 'write' : 'tmp+rename'),
  };
}

/** A pass-through that MD5-hashes what flows through it (the raw equivalent of attache's Measure). */
function md5Transform(): Transform {
  const hash = createHash('md5');
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      hash.digest();
      done();
    },
  });
}

function s3Target(name: 'S3' | 'SecureS3', service: StorageService, bucket: BenchBucket, kmsKeyId: string | undefined): Target {
  if (!(service instanceof S3Service)) throw new Error(`${name}: expected an S3Service`);
  const { partSize, multipartThreshold } = service;
  const client = bucket.client;
  const sse = kmsKeyId === undefined ? {} : { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: kmsKeyId };
  return {
    name,
    raw: {
      async upload(key, body) {
        const params = { Bucket: bucket.name, Key: key, Body: body, ContentType: CONTENT_TYPE, ...sse };
        await new Upload({ client, params, partSize, queueSize: QUEUE_SIZE, leavePartsOnError: false }).done();
      },
      async download(key) {
        const answer = await client.send(new GetObjectCommand({ Bucket: bucket.name, Key: key }));
        return answer.Body as Readable;
      },
      remove: async (key) => void (await client.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: key }))),
    },
    attache: attacheSide(service),
    info: `multipart_threshold ${sizeLabel(multipartThreshold)}, part size ${sizeLabel(partSize)}, queue size ${QUEUE_SIZE}${kmsKeyId ? `, SSE-KMS key ${kmsKeyId}` : ''}`,
    uploadPath(impl, size) {
      // lib-storage sends one PutObject when the body fits in one part; attache when it fits under the threshold.
      const single = impl === 'raw' ? size <= partSize : size <= multipartThreshold;
      return single ? 'put' : `multipart ${Math.ceil(size / partSize)}×${partSize / MIB} MiB`;
    },
  };
}

function attacheSide(service: StorageService): Side {
  return {
    async upload(key, body, size) {
      const result = await service.upload(key, body, { contentType: CONTENT_TYPE, filename: 'bench.bin' });
      if (result.byteSize !== size) throw new Error(`${service.name} stored ${result.byteSize} of ${size} bytes`);
    },
    download: (key) => service.download(key),
    remove: (key) => service.delete(key),
  };
}

// ---------------------------------------------------------------------------------------------
// S3

interface S3Environment {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  kmsKeyId: string | undefined;
  server: string;
}

function s3Environment(): S3Environment | undefined {
  const env = process.env;
  const endpoint = env['S3_ENDPOINT'];
  if (!endpoint) return undefined;
  const host = new URL(endpoint).hostname;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) {
    console.warn(`bench: S3_ENDPOINT ${endpoint} is not on loopback; numbers will include the network.`);
  }
  const required = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`S3_ENDPOINT is set but ${name} is not.`);
    return value;
  };
  return {
    endpoint,
    region: env['S3_REGION'] || 'us-east-1',
    accessKeyId: required('S3_ACCESS_KEY_ID'),
    secretAccessKey: required('S3_SECRET_ACCESS_KEY'),
    kmsKeyId: env['S3_KMS_KEY_ID'] || undefined,
    server: env['S3_SERVER'] || 'unknown server',
  };
}

/** A bucket with a random name, its objects and open uploads removed at the end; its client is the raw side's. */
class BenchBucket {
  private constructor(readonly name: string, readonly client: S3Client) {}

  static async create(s3: S3Environment): Promise<BenchBucket> {
    // Raw SDK, as a user would set it up for an S3-compatible server: without WHEN_REQUIRED the SDK
    // sends aws-chunked CRC32 trailers on stream bodies, which RGW refuses (411).
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const name = `attache-bench-${randomBytes(6).toString('hex')}`;
    await client.send(new CreateBucketCommand({ Bucket: name }));
    return new BenchBucket(name, client);
  }

  async remove(): Promise<void> {
    const { client, name } = this;
    try {
      const uploads = (await client.send(new ListMultipartUploadsCommand({ Bucket: name }))).Uploads ?? [];
      for (const upload of uploads) {
        await client.send(new AbortMultipartUploadCommand({ Bucket: name, Key: upload.Key, UploadId: upload.UploadId }));
      }
      for (;;) {
        const page = await client.send(new ListObjectsV2Command({ Bucket: name, MaxKeys: 1000 }));
        const objects = (page.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [{ Key: object.Key }]));
        if (objects.length === 0) break;
        await client.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: objects, Quiet: true } }));
      }
      await client.send(new DeleteBucketCommand({ Bucket: name }));
    } finally {
      client.destroy();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Output

function printHeader(s3: S3Environment | undefined, targets: Target[], sizes: number[], notes: string[]): void {
  console.log('attache storage bench');
  console.log(`  node ${process.version}, GC between cases: ${gcExposed ? 'yes' : 'no (run with --expose-gc)'}, MALLOC_MMAP_THRESHOLD_=${process.env['MALLOC_MMAP_THRESHOLD_'] ?? '(glibc default)'}`);
  const reps = targets.map((t) => `${t.name} ${sizes.map((size) => repetitions(size, t.name)).join('/')}`).join(', ');
  console.log(`  sizes: ${sizes.map(sizeLabel).join(', ')}; repetitions per size: ${reps} (best counts)`);
  const batched = sizes.filter((size) => batchSize(size) > 1);
  if (batched.length > 0) console.log(`  ${batched.map((size) => `${sizeLabel(size)} runs ${batchSize(size)} operations per repetition`).join('; ')} (interleaved one by one; RSS Δ of one operation)`);
  if (s3) {
    const volume = s3Volume(sizes, targets) / MIB / 1024;
    console.log(`  S3: ${s3.endpoint} (${s3.server}); this run writes ${volume.toFixed(1)} GiB there and deletes it (RGW frees deleted data only at its next GC)`);
  }
  for (const target of targets) if (target.info) console.log(`  ${target.name}: ${target.info}`);
  for (const note of notes) console.log(`  note: ${note}`);
  console.log('');
}

function printTable(results: Result[]): void {
  const header = [
    'size'.padEnd(8),
    'service'.padEnd(9),
    'op'.padEnd(9),
    'raw path'.padEnd(17),
    'attache path'.padEnd(17),
    'raw MiB/s'.padStart(9),
    'attache MiB/s'.padStart(13),
    'ratio'.padStart(6),
    'RSS Δ raw'.padStart(10),
    'RSS Δ attache'.padStart(14),
    '  goal',
  ].join(' ');
  console.log(header);
  console.log('-'.repeat(header.length + 8));
  let lastSize = -1;
  for (const result of results) {
    if (lastSize !== -1 && result.size !== lastSize) console.log('');
    lastSize = result.size;
    const raw = mibPerSecond(result.size, Math.min(...result.ms.raw));
    const attache = mibPerSecond(result.size, Math.min(...result.ms.attache));
    const ratio = attache / raw;
    // Memory is the worst repetition, throughput the best.
    const rssRaw = Math.max(...result.rss.raw);
    const rssAttache = Math.max(...result.rss.attache);
    const failures: string[] = [];
    if (ratio < GOAL_RATIO) failures.push(`ratio < ${GOAL_RATIO}`);
    if (result.size >= GOAL_RSS_SIZE && rssAttache >= GOAL_RSS) failures.push(`RSS ≥ ${GOAL_RSS / MIB} MiB`);
    console.log(
      [
        sizeLabel(result.size).padEnd(8),
        result.service.padEnd(9),
        result.direction.padEnd(9),
        result.path.raw.padEnd(17),
        result.path.attache.padEnd(17),
        num(raw, 0, 9),
        num(attache, 0, 13),
        num(ratio, 2, 6),
        `${num(rssRaw / MIB, 1, 6)} MiB`,
        `${num(rssAttache / MIB, 1, 10)} MiB`,
        failures.length === 0 ? '  ✓' : `  ✗ ${failures.join(', ')}`,
      ].join(' '),
    );
  }
}

function printFooter(targets: Target[], shortened: boolean, results: Result[]): void {
  const referenced = results.filter((result) => result.referenceMs.length > 0);
  if (referenced.length > 0) {
    console.log('');
    console.log('Reference: Disk upload as raw write + an MD5 Transform (the checksum attache must compute while streaming):');
    for (const result of referenced) {
      const reference = mibPerSecond(result.size, Math.min(...result.referenceMs));
      const attache = mibPerSecond(result.size, Math.min(...result.ms.attache));
      console.log(`  ${sizeLabel(result.size).padEnd(8)} raw+MD5 ${num(reference, 0, 5)} MiB/s   attache ÷ (raw+MD5) ${num(attache / reference, 2, 5)}`);
    }
  }
  console.log('');
  console.log(`Goal: attache ≥ ${GOAL_RATIO}× raw throughput; RSS growth < ${GOAL_RSS / MIB} MiB for the ${GOAL_RSS_SIZE / MIB} MiB file.`);
  console.log('Throughput is the best repetition; RSS Δ is the worst repetition (peak − baseline after GC, sampled every 20 ms).');
  if (targets.some((target) => target.name !== 'Disk')) {
    for (const line of [
      'S3/SecureS3: attache reads a body of up to multipart_threshold bytes into memory before sending it, to put the',
      '  single put\'s Content-MD5 in its headers, so a single put holds the whole file: the 64 MiB upload at the default',
      '  threshold is expected at ≥ 64 MiB RSS (up to twice that while the chunks are joined into one Buffer). A longer body',
      '  is also read up to the threshold before its multipart upload starts, then goes in parts, each with its Content-MD5.',
      `  Raw lib-storage sends one PutObject up to one part size and multipart above (same part size, queue size ${QUEUE_SIZE}).`,
      '  Set BENCH_MULTIPART_THRESHOLD (e.g. 8MiB) to bench another threshold.',
    ]) {
      console.log(line);
    }
  }
  if (shortened) console.log(`Note: the run passed ${SOFT_BUDGET_MS / 60_000} minutes, so later cases ran one repetition only.`);
}

function parseBytes(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const match = /^\s*(\d+)\s*(MiB|KiB|B)?\s*$/i.exec(value);
  if (!match) throw new Error(`BENCH_MULTIPART_THRESHOLD must be a number of bytes, or e.g. "8MiB" (got "${value}").`);
  const unit = (match[2] ?? 'B').toLowerCase();
  return Number(match[1]) * (unit === 'mib' ? MIB : unit === 'kib' ? 1024 : 1);
}

// Last, so every class and constant above is initialized before main() runs.
if (process.env[CHILD_MARK] === '1') {
  await main().catch((error: unknown) => {
    console.error(error instanceof Error && error.message.startsWith('bench:') ? error.message : error);
    process.exit(1);
  });
} else {
  relaunch();
}
