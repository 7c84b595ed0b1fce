import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Blob } from '../../src/index.ts';
import type { DiskService } from '../../src/services/disk/DiskService.ts';
import { createTestBucket, missing, s3Endpoint, type TestBucket } from '../support/s3.ts';
import { filesUnder } from '../support/storage.ts';
import { journeyYaml, openCliApp, writeConfig, runCli, startCli, uploadBlobs, waitFor, type CliApp, type CliResult } from './support.ts';

const BLOBS = 150;

describe.skipIf(missing('kms2'))('the README walk, by the CLI: Disk → SecureS3 → a new KMS key, each long step interrupted and resumed', () => {
  let app: CliApp;
  let bucket: TestBucket;
  const { kmsKeyId, kmsKeyId2 } = s3Endpoint();
  const cli = (...args: string[]) => runCli(args, { cwd: app.dir, env: app.env });
  const json = (result: CliResult) => JSON.parse(result.stdout);
  const servicesOfRows = async () => (await app.db.dataSource.query('SELECT service_name, count(*)::int AS n FROM active_storage_blobs GROUP BY 1 ORDER BY 1')) as Array<{ service_name: string; n: number }>;

  /** Runs the command, sends SIGINT once its progress shows a blob done, and expects a graceful stop (exit 130). */
  async function interrupted(args: string[]): Promise<CliResult> {
    const run = startCli(args, { cwd: app.dir, env: app.env });
    await waitFor(run.output, (text) => /: [1-9]\d*\/\d+ blobs/.test(text), 60_000);
    run.child.kill('SIGINT');
    const result = await run.done;
    expect(result.code, result.stdout + result.stderr).toBe(130);
    expect(result.stderr).toMatch(/interrupted at \d+\/\d+ blobs.*run the same command again to resume/);
    return result;
  }

  beforeAll(async () => {
    bucket = await createTestBucket();
    app = await openCliApp(journeyYaml(bucket.name, kmsKeyId!));
    await uploadBlobs(app.attache, BLOBS, 'local', 96 * 1024);
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await bucket?.remove();
  });

  it('1. doctor: both services pass', async () => {
    const result = await cli('doctor', '--json');
    expect(result.code, result.stdout).toBe(0);
    expect(json(result).services.map((s: { service: string; ok: boolean }) => [s.service, s.ok])).toEqual([['local', true], ['secure', true]]);
  });

  it('2. migrate --dry-run: reports all, changes nothing', async () => {
    const result = await cli('migrate', '--from', 'local', '--to', 'secure', '--dry-run', '--json');
    expect(result.code).toBe(0);
    expect(json(result)).toMatchObject({ ok: true, dryRun: true, moved: BLOBS, deletedSources: 0 });
    expect(await servicesOfRows()).toEqual([{ service_name: 'local', n: BLOBS }]);
    expect(await bucket.keys()).toEqual([]);
  });

  it('3. migrate, stopped by Ctrl-C (exit 130) and rerun: every blob on SecureS3, sources kept', async () => {
    await interrupted(['migrate', '--from', 'local', '--to', 'secure', '--concurrency', '1', '--batch-size', '10']);
    const partway = await servicesOfRows();
    expect(partway.find((r) => r.service_name === 'secure')?.n ?? 0).toBeGreaterThan(0);
    expect(partway.find((r) => r.service_name === 'local')?.n ?? 0).toBeGreaterThan(0);
    const rerun = await cli('migrate', '--from', 'local', '--to', 'secure', '--json');
    expect(rerun.code, rerun.stderr).toBe(0);
    const report = json(rerun);
    expect(report.ok).toBe(true);
    expect(report.moved + report.alreadyOnTarget).toBe(partway.find((r) => r.service_name === 'local')!.n);
    expect(await servicesOfRows()).toEqual([{ service_name: 'secure', n: BLOBS }]);
    const root = (app.attache.service('local') as DiskService).root;
    expect((await filesUnder(root)).length).toBe(BLOBS); // no --delete-source: every source is still there
  });

  it('4. verify --deep: every object there, checksum and KMS key right', async () => {
    const result = await cli('verify', '--service', 'secure', '--deep', '--json');
    expect(result.code, result.stdout).toBe(0);
    expect(json(result)).toMatchObject({ ok: true, checked: BLOBS, failures: [] });
  });

  it('5. migrate --delete-source: removes the Disk copies of the moved blobs', async () => {
    const result = await cli('migrate', '--from', 'local', '--to', 'secure', '--delete-source', '--json');
    expect(result.code, result.stderr).toBe(0);
    expect(json(result)).toMatchObject({ ok: true, deletedSources: BLOBS });
    expect(await filesUnder((app.attache.service('local') as DiskService).root)).toEqual([]);
  });

  it('6. new key: config to key 2, reencrypt stopped by Ctrl-C and rerun, verify --deep under key 2', { timeout: 120_000 }, async () => {
    await writeConfig(app.dir, journeyYaml(bucket.name, kmsKeyId2!));
    await interrupted(['reencrypt', '--service', 'secure', '--concurrency', '1', '--batch-size', '10']);
    const rerun = await cli('reencrypt', '--service', 'secure', '--json');
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    const report = json(rerun);
    expect(report.ok).toBe(true);
    expect(report.rewritten + report.alreadyUnderKey).toBe(BLOBS);
    const verified = await cli('verify', '--service', 'secure', '--deep', '--json');
    expect(verified.code, verified.stdout).toBe(0);
    const rows = await app.db.dataSource.getRepository(Blob).find();
    expect(new Set(rows.map((b) => (b.metadata as { encryption?: { kmsKeyId?: string } }).encryption?.kmsKeyId))).toEqual(new Set([kmsKeyId2]));
  });
});
