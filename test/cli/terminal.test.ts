import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestBucket, missing, s3Endpoint, type TestBucket } from '../support/s3.ts';
import { journeyYaml, openCliApp, writeConfig, uploadBlobs, type CliApp } from './support.ts';
import { TmuxRun } from './tmux.ts';

const BLOBS = 120;
/** clack's bar (heavy style) followed by our counts, bytes, rate and ETA. */
const BAR = /━+ (verify|migrate|reencrypt): \d+\/\d+ blobs · [\d.]+ (B|KiB|MiB)\/[\d.]+ (B|KiB|MiB) · .+\/s · ETA [\w -]+ · \d+ failed/;

describe.skipIf(missing('kms2'))('the CLI on a real terminal (tmux)', () => {
  let app: CliApp;
  let bucket: TestBucket;
  let run: TmuxRun | undefined;
  const { kmsKeyId, kmsKeyId2 } = s3Endpoint();
  const start = async (...args: string[]) => (run = await TmuxRun.start(args, { cwd: app.dir, env: { ...app.env, NODE_NO_WARNINGS: '1' } }));

  beforeAll(async () => {
    bucket = await createTestBucket();
    app = await openCliApp(journeyYaml(bucket.name, kmsKeyId!));
    await uploadBlobs(app.attache, BLOBS, 'local', 64 * 1024);
  }, 120_000);
  afterEach(async () => {
    await run?.kill();
    run = undefined;
  });
  afterAll(async () => {
    await app?.close();
    await bucket?.remove();
  });

  it('doctor: a spinner, then the summary and each check', async () => {
    await start('doctor');
    const { code, screen } = await run!.exit();
    expect(code).toBe(0);
    expect(screen).toMatch(/◇ {2}doctor: 2 service\(s\), 0 failed, \d+ warning\(s\)/);
    expect(screen).toMatch(/^secure \(SecureS3\): ok$/m);
    expect(screen).toMatch(/^ {2}ok {4}kms key +KMS key "[^"]+" encrypted the probe/m);
  });

  it('verify: the progress bar renders, then the summary', async () => {
    await start('verify', '--service', 'local', '--deep', '--concurrency', '1', '--no-checkpoint');
    expect(await run!.waitFor((s) => BAR.test(s))).toMatch(/verify: \d+\/120 blobs/);
    const { code, screen } = await run!.exit();
    expect(code).toBe(0);
    expect(screen).toMatch(/◇ {2}verify: 120 checked, 0 skipped, 0 failed/);
    expect(screen).toMatch(/^verify ok: 120 checked/m);
  });

  it('migrate: Ctrl-C stops it gracefully (exit 130), the rerun resumes and finishes', async () => {
    await start('migrate', '--from', 'local', '--to', 'secure', '--concurrency', '1', '--batch-size', '10');
    await run!.waitFor((s) => BAR.test(s) && /migrate: [1-9]\d*\/120 blobs/.test(s));
    await run!.keys('C-c');
    const stopped = await run!.exit();
    expect(stopped.code).toBe(130);
    expect(stopped.screen).toMatch(/■ {2}Stopping: finishing the blobs in flight/);
    expect(stopped.screen).toMatch(/migrate: interrupted at \d+\/120 blobs.*The checkpoint is kept: run the same command again to resume/s);
    await run!.kill();
    await start('migrate', '--from', 'local', '--to', 'secure', '--delete-source');
    const { code, screen } = await run!.exit();
    expect(code).toBe(0);
    expect(screen).toMatch(/◇ {2}migrate: moved \d+, \d+ already on target, 120 sources deleted, 0 failed/);
  });

  it('reencrypt: the progress bar renders, then the summary', async () => {
    await writeConfig(app.dir, journeyYaml(bucket.name, kmsKeyId2!));
    await start('reencrypt', '--service', 'secure', '--concurrency', '1');
    await run!.waitFor((s) => BAR.test(s));
    const { code, screen } = await run!.exit();
    expect(code, screen).toBe(0);
    expect(screen).toMatch(/◇ {2}reencrypt: 120 rewritten \(\d+ in place, \d+ streamed\), 0 already under the key, 0 failed/);
  });

  it('sweep: a spinner, then the dry run summary table (the blobs were never attached)', async () => {
    await start('sweep', '--older-than', '0s');
    const { code, screen } = await run!.exit();
    expect(code, screen).toBe(0);
    expect(screen).toMatch(/◇ {2}sweep: found 120 leftover\(s\), 0 failure\(s\) \(dry run: run with --apply to remove them\)/);
    expect(screen).toMatch(/^unattached blobs +120 +7\.5 MiB$/m);
    expect(screen).toMatch(/^Unattached blobs \(first 20 of 120; --json lists all\):$/m);
  });
});
