/**
 * S3 upload bench: attache's S3 and SecureS3 `upload()` against raw lib-storage `Upload` with the
 * same part size, queue size and SSE headers, on the same server, in alternating rounds.
 *
 *   tsx bench/s3-uploads.ts            (standalone; re-runs itself with --expose-gc)
 *   import { benchS3Uploads } from './s3-uploads.ts'   (from the storage bench harness)
 *
 * Rows: a stream of unknown size (64 and 512 MiB by default) and bodies of known size (`byteSize`
 * given: 1 MiB, one part and 64 MiB). Each row runs `rounds` rounds (raw first on even rounds,
 * attache first on odd ones), prints the median ratio attache ÷ raw and its min–max, and the
 * request path each side took (counted from the requests sent: put or multipart N parts).
 * Then the RSS growth while streaming 1 GiB: attache and raw with fresh chunks, and attache with a
 * source that reuses one chunk buffer (lib-storage keeps references to chunks, so it cannot take one).
 * RGW's memstore keeps deleted objects in RAM until its GC runs: each round deletes its objects and,
 * when CEPH_CONF is set (or /tmp/attache-rgw exists), runs `radosgw-admin gc process --include-all`.
 *
 * Environment: S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_KMS_KEY_ID (SecureS3).
 * Knobs: BENCH_S3_SIZES (MiB of the stream rows, default "64,512"), BENCH_S3_ROUNDS (default 5),
 * BENCH_S3_SERVICES (default "S3,SecureS3"), BENCH_S3_KNOWN (MiB of the known-size rows, default "1,8,64"),
 * BENCH_S3_RSS_MIB (default 1024; 0 skips the RSS rows).
 */
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { generateKey } from '../src/core/keys.ts';
import { s3Adapter, secureS3Adapter } from '../src/services/s3/adapters.ts';
import type { ServiceContext } from '../src/services/adapters.ts';
import type { S3Service } from '../src/services/s3/S3Service.ts';
import { generatedSource, measured, MIB, PATTERN, RssSampler } from './measure.ts';

const QUEUE_SIZE = 4;
const CONTENT_TYPE = 'application/octet-stream';
const CHUNK = 64 * 1024;

export interface S3UploadBenchOptions {
  /** Stream sizes in bytes (default 64 and 512 MiB). */
  sizes?: number[];
  /** Known-size body sizes in bytes (default 1 MiB, 8 MiB and 64 MiB). */
  knownSizes?: number[];
  rounds?: number;
  services?: Array<'S3' | 'SecureS3'>;
  /** Bytes streamed for the RSS rows (default 1 GiB; 0 skips them). */
  rssBytes?: number;
  log?: (line: string) => void;
}

export interface S3UploadRow {
  service: 'S3' | 'SecureS3';
  size: number;
  body: 'stream' | 'known size';
  path: { raw: string; attache: string };
  /** attache ÷ raw throughput per round. */
  ratios: number[];
  rawMiBs: number[];
  attacheMiBs: number[];
}

export interface S3RssRow {
  service: 'S3' | 'SecureS3';
  label: string;
  bytes: number;
  rss: number;
}

interface Env {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  kmsKeyId: string | undefined;
}

/** Runs every row and returns them (printing each as it finishes through `log`). */
export async function benchS3Uploads(options: S3UploadBenchOptions = {}): Promise<{ rows: S3UploadRow[]; rss: S3RssRow[] }> {
  const env = s3Env();
  const log = options.log ?? ((line: string) => console.log(line));
  const rounds = Math.max(1, options.rounds ?? 5);
  const client = new S3Client({ endpoint: env.endpoint, region: env.region, forcePathStyle: true, credentials: env.credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  const rawPaths = countRequests(client);
  const bucket = `attache-bench-up-${randomBytes(5).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const sampler = await RssSampler.start(20);
  const rows: S3UploadRow[] = [];
  const rss: S3RssRow[] = [];
  try {
    for (const name of options.services ?? ['S3', 'SecureS3']) {
      if (name === 'SecureS3' && env.kmsKeyId === undefined) {
        log('SecureS3 skipped: S3_KMS_KEY_ID is not set.');
        continue;
      }
      const service = makeService(name, env, bucket);
      const paths = countRequests(service.client);
      const sse = name === 'SecureS3' ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: env.kmsKeyId! } : {};
      const raw = async (key: string, body: Readable): Promise<void> => {
        await new Upload({ client, params: { Bucket: bucket, Key: key, Body: body, ContentType: CONTENT_TYPE, ...sse }, partSize: service.partSize, queueSize: QUEUE_SIZE, leavePartsOnError: false }).done();
      };
      const attache = async (key: string, body: Readable, byteSize?: number): Promise<void> => {
        await service.upload(key, body, { contentType: CONTENT_TYPE, ...(byteSize !== undefined && { byteSize }) });
      };
      const cases = [
        ...(options.sizes ?? [64 * MIB, 512 * MIB]).map((size) => ({ size, body: 'stream' as const })),
        ...(options.knownSizes ?? [MIB, service.partSize, 64 * MIB]).map((size) => ({ size, body: 'known size' as const })),
      ];
      for (const { size, body } of cases) {
        const row: S3UploadRow = { service: name, size, body, path: { raw: '', attache: '' }, ratios: [], rawMiBs: [], attacheMiBs: [] };
        const batch = size <= MIB ? 16 : 1; // tiny bodies: time a batch, so the timer is not the noise
        for (let round = 0; round < rounds; round++) {
          const times: Record<'raw' | 'attache', number> = { raw: 0, attache: 0 };
          for (const side of round % 2 === 0 ? (['raw', 'attache'] as const) : (['attache', 'raw'] as const)) {
            const keys = Array.from({ length: batch }, () => generateKey());
            const counter = side === 'raw' ? rawPaths : paths;
            counter.reset();
            const { ms } = await measured(sampler, async () => {
              for (const key of keys) await (side === 'raw' ? raw(key, generatedSource(size)) : attache(key, generatedSource(size), body === 'known size' ? size : undefined));
            });
            row.path[side] = counter.describe(batch);
            times[side] = ms;
            for (const key of keys) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
          }
          gcProcess();
          row.rawMiBs.push((batch * size) / MIB / (times.raw / 1000));
          row.attacheMiBs.push((batch * size) / MIB / (times.attache / 1000));
          row.ratios.push(times.raw / times.attache);
        }
        rows.push(row);
        log(formatRow(row));
      }
      const rssBytes = options.rssBytes ?? 1024 * MIB;
      if (rssBytes > 0) {
        for (const [label, upload] of [
          ['raw lib-storage, fresh chunks', (key: string) => raw(key, generatedSource(rssBytes))],
          ['attache, fresh chunks', (key: string) => attache(key, generatedSource(rssBytes))],
          ['attache, chunk-reusing source', (key: string) => attache(key, reusingChunks(rssBytes))],
        ] as const) {
          const key = generateKey();
          const { rss: grown } = await measured(sampler, () => upload(key));
          await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
          gcProcess();
          rss.push({ service: name, label, bytes: rssBytes, rss: grown });
          log(`${name.padEnd(8)} RSS growth streaming ${rssBytes / MIB} MiB, ${label}: ${(grown / MIB).toFixed(0)} MiB`);
        }
      }
      service.client.destroy();
    }
  } finally {
    await sampler.close();
    await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
    client.destroy();
  }
  return { rows, rss };
}

/**
 * A source that refills one 64 KiB buffer for every chunk, in a later turn (as a file read into a
 * reused buffer). Safe for a consumer that copies each chunk before asking for the next.
 */
function reusingChunks(size: number): Readable {
  const chunk = Buffer.allocUnsafe(CHUNK);
  let offset = 0;
  return new Readable({
    read() {
      setImmediate(() => {
        if (offset >= size) return void this.push(null);
        const length = Math.min(CHUNK, size - offset);
        const at = offset % PATTERN.length;
        PATTERN.copy(chunk, 0, at, at + length);
        offset += length;
        this.push(length === CHUNK ? chunk : chunk.subarray(0, length));
      });
    },
  });
}

function makeService(name: 'S3' | 'SecureS3', env: Env, bucket: string): S3Service {
  const settings = {
    bucket,
    endpoint: env.endpoint,
    region: env.region,
    access_key_id: env.credentials.accessKeyId,
    secret_access_key: env.credentials.secretAccessKey,
    force_path_style: true,
    ...(name === 'SecureS3' && { kms_key_id: env.kmsKeyId }),
  };
  return (name === 'S3' ? s3Adapter : secureS3Adapter).create(settings, { name: name.toLowerCase() } as ServiceContext) as S3Service;
}

/** Counts the PutObject and UploadPart requests a client sends (retries included), to print the path taken. */
function countRequests(client: S3Client): { reset(): void; describe(uploads: number): string } {
  let puts = 0;
  let parts = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutObjectCommand') puts++;
      if (context.commandName === 'UploadPartCommand') parts++;
      return next(args);
    },
    { step: 'initialize', name: `benchCount${randomBytes(3).toString('hex')}` },
  );
  return {
    reset: () => void (puts = parts = 0),
    describe: (uploads) => (parts > 0 ? `multipart ${parts / uploads} parts` : `put${puts > uploads ? ` ×${puts / uploads}` : ''}`),
  };
}

/** Frees the memstore OSD of deleted objects' data (RGW keeps it until its GC runs). Best effort. */
function gcProcess(): void {
  const conf = process.env['CEPH_CONF'] ?? (existsSync('/tmp/attache-rgw/cluster/ceph.conf') ? '/tmp/attache-rgw/cluster/ceph.conf' : undefined);
  if (conf === undefined) return;
  spawnSync('radosgw-admin', ['gc', 'process', '--include-all'], { env: { ...process.env, CEPH_CONF: conf }, stdio: 'ignore', timeout: 60_000 });
}

function s3Env(): Env {
  const env = process.env;
  const required = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`bench/s3-uploads: ${name} is not set (source the S3 env first).`);
    return value;
  };
  return {
    endpoint: required('S3_ENDPOINT'),
    region: env['S3_REGION'] || 'us-east-1',
    credentials: { accessKeyId: required('S3_ACCESS_KEY_ID'), secretAccessKey: required('S3_SECRET_ACCESS_KEY') },
    kmsKeyId: env['S3_KMS_KEY_ID'] || undefined,
  };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** One line: service, size, body kind, median ratio (min–max), median MiB/s of each side, paths. */
export function formatRow(row: S3UploadRow): string {
  const size = row.size >= MIB ? `${row.size / MIB} MiB` : `${row.size} B`;
  const ratio = `${median(row.ratios).toFixed(2)}× (${Math.min(...row.ratios).toFixed(2)}–${Math.max(...row.ratios).toFixed(2)})`;
  const speeds = `raw ${median(row.rawMiBs).toFixed(0)} MiB/s, attache ${median(row.attacheMiBs).toFixed(0)} MiB/s`;
  return `${row.service.padEnd(8)} ${size.padStart(8)} ${row.body.padEnd(10)} ratio ${ratio.padEnd(20)} ${speeds.padEnd(38)} raw: ${row.path.raw}; attache: ${row.path.attache}  [${row.ratios.length} rounds]`;
}

async function standalone(): Promise<void> {
  const mib = (name: string, fallback: string): number[] => (process.env[name] ?? fallback).split(',').filter((s) => s.trim() !== '').map((s) => Math.round(Number(s) * MIB));
  const [one, five, fifteen] = loadavg();
  console.log(`S3 uploads: attache vs raw lib-storage (queue ${QUEUE_SIZE}); ${availableParallelism()} cores, load ${one!.toFixed(2)} ${five!.toFixed(2)} ${fifteen!.toFixed(2)}`);
  const rssMiB = Number(process.env['BENCH_S3_RSS_MIB'] ?? 1024);
  await benchS3Uploads({
    sizes: mib('BENCH_S3_SIZES', '64,512'),
    ...(process.env['BENCH_S3_KNOWN'] !== undefined && { knownSizes: mib('BENCH_S3_KNOWN', '') }),
    rounds: Number(process.env['BENCH_S3_ROUNDS'] ?? 5),
    services: (process.env['BENCH_S3_SERVICES'] ?? 'S3,SecureS3').split(',').map((s) => s.trim()) as Array<'S3' | 'SecureS3'>,
    rssBytes: rssMiB * MIB,
  });
  const [after] = loadavg();
  console.log(`load average at the end: ${after!.toFixed(2)}`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.env['BENCH_S3_CHILD'] === undefined) {
    const child = spawnSync(process.execPath, ['--expose-gc', '--import', import.meta.resolve('tsx'), fileURLToPath(import.meta.url)], {
      stdio: 'inherit',
      env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...process.env, BENCH_S3_CHILD: '1', MALLOC_MMAP_THRESHOLD_: process.env['MALLOC_MMAP_THRESHOLD_'] ?? '65536' },
    });
    process.exit(child.status ?? 1);
  }
  await standalone();
}
