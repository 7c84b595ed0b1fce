/**
 * Variant bench: `npm run bench:variants` (not part of `npm test`; bounded to about a minute).
 * For a 640×480 PNG and a 4000×3000 JPEG, makes a thumbnail N times two ways, alternating rounds:
 *   attache: `blob.variant({ resizeToLimit: [w, w] }).processed()` (download the original verified,
 *            sharp, upload checked, variant record + blob + attachment in one transaction);
 *   raw:     sharp on the same file, then a bare write of its output (fs.writeFile on Disk,
 *            PutObject with the same SSE-KMS headers on SecureS3);
 *   raw+get: the same, after reading the original from the service (fs.readFile / GetObject), as
 *            attache must.
 * Each round asks for a new size, so attache really makes a variant every time. Prints the mean
 * time of each and the ratio attache ÷ raw. Uses DATABASE_URL, else a throw-away PostgreSQL; adds
 * SecureS3 rows when S3_ENDPOINT and S3_KMS_KEY_ID are set (`. /tmp/attache-rgw/cluster/env`).
 * Knobs: BENCH_ROUNDS (default 6).
 */
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { DataSource } from 'typeorm';
import { Attache, attacheEntities, type Blob } from '../src/index.ts';
import { startDatabase } from '../scripts/database.ts';
import { CreateActiveStorageTables1700000000000 } from '../migrations/1700000000000-CreateActiveStorageTables.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const DEADLINE_MS = 90_000;

interface Target {
  service: string;
  /** The raw baseline's upload of sharp's output. */
  put(key: string, data: Buffer): Promise<void>;
  /** The raw baseline's read of the original. */
  get(blob: Blob): Promise<Buffer>;
}

async function main(): Promise<void> {
  const guard = setTimeout(() => {
    console.error(`bench: over ${DEADLINE_MS / 1000} s, giving up`);
    process.exit(2);
  }, DEADLINE_MS).unref();
  const database = await startDatabase();
  const root = await mkdtemp(path.join(tmpdir(), 'attache-bench-variants-'));
  const s3 = process.env.S3_ENDPOINT && process.env.S3_KMS_KEY_ID ? await s3Bucket() : undefined;
  const dataSource = new DataSource({ type: 'postgres', url: database.url, entities: [...attacheEntities], migrations: [CreateActiveStorageTables1700000000000] });
  try {
    await dataSource.initialize();
    await dataSource.runMigrations();
    const services: Record<string, Record<string, unknown>> = { local: { service: 'Disk', root } };
    if (s3) services['secure'] = { service: 'SecureS3', ...s3.settings };
    const attache = await Attache.init({ dataSource, services, service: 'local', secret: randomBytes(32).toString('hex') });
    const diskPath = (key: string) => path.join(root, key.slice(0, 2), key.slice(2, 4), key);
    const targets: Target[] = [{ service: 'local', put: (key, data) => writeFile(path.join(root, `raw-${key}`), data), get: (blob) => readFile(diskPath(blob.key)) }];
    if (s3) targets.push({ service: 'secure', put: s3.put, get: (blob) => s3.get(blob.key) });
    console.log(`PostgreSQL: ${database.source}; ${ROUNDS} alternating rounds per row; times are means per variant\n`);
    const inputs: Array<[string, Buffer]> = [
      ['640×480 PNG', await sharp({ create: { width: 640, height: 480, channels: 3, background: '#c83232' } }).png().toBuffer()],
      ['4000×3000 JPEG', await noisyJpeg(4000, 3000)],
    ];
    for (const target of targets) for (const [label, data] of inputs) await benchOne(attache, target, label, data);
    await attache.close();
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await database.stop();
    await rm(root, { recursive: true, force: true });
    await s3?.remove();
    clearTimeout(guard);
  }
}

async function benchOne(attache: Attache, target: Target, label: string, data: Buffer): Promise<void> {
  const blob = await attache.createAndUpload({ io: data, filename: label.endsWith('PNG') ? 'photo.png' : 'photo.jpg' }, { service: target.service });
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'attache-bench-original-')), 'original');
  await writeFile(file, data);
  const times = { attache: 0, raw: 0, rawGet: 0 };
  const raw = async (input: string | Buffer, size: number): Promise<void> => {
    const output = await sharp(input, { autoOrient: true }).resize(size, size, { fit: 'inside', withoutEnlargement: true }).toFormat(blob.contentType === 'image/png' ? 'png' : 'jpeg').toBuffer();
    await target.put(`${size}-${randomBytes(4).toString('hex')}`, output);
  };
  await attacheVariant(blob, 190); // warm-up (sharp load, first connections)
  for (let round = 0; round < ROUNDS; round++) {
    const size = 200 + round;
    times.raw += await timed(() => raw(file, size));
    times.rawGet += await timed(async () => raw(await target.get(blob), size));
    times.attache += await timed(() => attacheVariant(blob, size));
  }
  const ms = (total: number): string => `${(total / ROUNDS).toFixed(1).padStart(6)} ms`;
  const ratio = (baseline: number): string => (times.attache / baseline).toFixed(2);
  console.log(
    `${target.service.padEnd(6)} ${label.padEnd(15)} attache ${ms(times.attache)} | raw sharp + upload ${ms(times.raw)} (ratio ${ratio(times.raw)}) | raw get + sharp + upload ${ms(times.rawGet)} (ratio ${ratio(times.rawGet)})`,
  );
  await blob.purge();
  await rm(path.dirname(file), { recursive: true, force: true });
}

async function attacheVariant(blob: Blob, size: number): Promise<void> {
  await blob.variant({ resizeToLimit: [size, size] }).processed();
}

async function timed(run: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

/** A photo-like JPEG: noise compresses and resizes like a real photograph, a solid colour does not. */
async function noisyJpeg(width: number, height: number): Promise<Buffer> {
  const pixels = randomBytes(width * height * 3);
  return sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}

async function s3Bucket(): Promise<{ settings: Record<string, unknown>; put: Target['put']; get(key: string): Promise<Buffer>; remove(): Promise<void> }> {
  const env = process.env as Record<string, string>;
  const client = new S3Client({ endpoint: env.S3_ENDPOINT, region: env.S3_REGION, forcePathStyle: true, credentials: { accessKeyId: env.S3_ACCESS_KEY_ID!, secretAccessKey: env.S3_SECRET_ACCESS_KEY! } });
  const bucket = `attache-bench-variants-${randomBytes(4).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const settings = { bucket, endpoint: env.S3_ENDPOINT, region: env.S3_REGION, access_key_id: env.S3_ACCESS_KEY_ID, secret_access_key: env.S3_SECRET_ACCESS_KEY, force_path_style: true, kms_key_id: env.S3_KMS_KEY_ID };
  return {
    settings,
    put: async (key, data) => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: `raw-${key}`, Body: data, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: env.S3_KMS_KEY_ID }));
    },
    get: async (key) => Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray()),
    async remove() {
      for (let page = await client.send(new ListObjectsV2Command({ Bucket: bucket })); (page.Contents ?? []).length > 0; page = await client.send(new ListObjectsV2Command({ Bucket: bucket }))) {
        await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: (page.Contents ?? []).map((o) => ({ Key: o.Key! })) } }));
      }
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      client.destroy();
    },
  };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
