import { DeleteBucketPolicyCommand, PutBucketCorsCommand, PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Attache, type DoctorCheck, type DoctorReport } from '../../src/index.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { openTestDataSource, type TestDataSource } from '../support/db.ts';
import { createTestBucket, missing, s3Endpoint, s3Settings, type TestBucket } from '../support/s3.ts';
import { openCliApp, runCli } from './support.ts';

const statuses = (report: DoctorReport, service: string): Record<string, string> =>
  Object.fromEntries(report.services.find((s) => s.service === service)!.checks.map((c) => [c.check, c.status]));
const check = (report: DoctorReport, service: string, name: string): DoctorCheck =>
  report.services.find((s) => s.service === service)!.checks.find((c) => c.check === name)!;

describe.skipIf(missing('kms'))('attache.doctor() on SecureS3 (RGW)', () => {
  let db: TestDataSource;
  let bucket: TestBucket;
  let attache: Attache;
  const kms = s3Endpoint().kmsKeyId!;

  beforeAll(async () => {
    db = await openTestDataSource();
    bucket = await createTestBucket();
    attache = await Attache.init({
      dataSource: db.dataSource,
      secret: TEST_SECRET,
      service: 'good',
      services: {
        good: { service: 'SecureS3', ...s3Settings(bucket.name, { kms_key_id: kms }) },
        badKey: { service: 'SecureS3', ...s3Settings(bucket.name, { kms_key_id: 'attache-no-such-key' }) },
        noBucket: { service: 'SecureS3', ...s3Settings(`${bucket.name}-missing`, { kms_key_id: kms }) },
        badCredentials: { service: 'SecureS3', ...s3Settings(bucket.name, { kms_key_id: kms, secret_access_key: 'not-the-secret-0123456789' }) },
        plain: { service: 'S3', ...s3Settings(bucket.name) },
      },
    });
  });
  afterAll(async () => {
    await attache?.close();
    await db?.close();
    await bucket?.remove();
  });

  it('passes on a good config: probe written, read, checked under the KMS key, deleted', async () => {
    const report = await attache.doctor({ service: 'good' });
    expect(report.ok).toBe(true);
    expect(statuses(report, 'good')).toMatchObject({
      config: 'pass', credentials: 'pass', bucket: 'pass', 'probe write': 'pass', 'probe read': 'pass', 'probe encryption': 'pass', 'probe delete': 'pass', 'kms key': 'pass',
    });
    expect(check(report, 'good', 'probe encryption').reason).toContain(`aws:kms with KMS key "${kms}"`);
    expect(await bucket.keys()).toEqual([]); // the probe is deleted
  });

  it('fails on a KMS key id the server does not have, naming the key and the fix', async () => {
    const report = await attache.doctor({ service: 'badKey' });
    expect(report.ok).toBe(false);
    expect(statuses(report, 'badKey')).toMatchObject({ credentials: 'pass', bucket: 'pass', 'probe write': 'fail', 'kms key': 'fail' });
    expect(check(report, 'badKey', 'kms key')).toMatchObject({ reason: expect.stringContaining('could not use KMS key "attache-no-such-key"'), fix: expect.stringContaining('kms_key_id') });
    expect(await bucket.keys()).toEqual([]);
  });

  it('fails on a missing bucket, with credentials still reported as accepted', async () => {
    const report = await attache.doctor({ service: 'noBucket' });
    expect(statuses(report, 'noBucket')).toEqual({ config: 'pass', credentials: 'pass', bucket: 'fail', probe: 'skip' });
    expect(check(report, 'noBucket', 'bucket').reason).toBe(`bucket "${bucket.name}-missing" at ${s3Endpoint().endpoint} does not exist`);
  });

  it('fails on bad credentials, never printing the secret', async () => {
    const report = await attache.doctor({ service: 'badCredentials' });
    expect(statuses(report, 'badCredentials')).toEqual({ config: 'pass', credentials: 'fail', bucket: 'skip', probe: 'skip' });
    expect(check(report, 'badCredentials', 'credentials').reason).toBe('the server refused the credentials (SignatureDoesNotMatch)');
    expect(JSON.stringify(report)).not.toContain('not-the-secret');
  });

  it('reports the bucket default encryption (none here), a policy denying unencrypted puts, and CORS for direct uploads', async () => {
    const before = await attache.doctor({ service: 'good' });
    expect(statuses(before, 'good')).toMatchObject({ policy: 'warn', cors: 'warn' });
    // This RGW refuses PutBucketEncryption (no SSE-S3 backend) and answers GetBucketEncryption with no rule: a warning.
    expect(check(before, 'good', 'default encryption')).toMatchObject({ status: 'warn', fix: expect.stringContaining('put-bucket-encryption') });
    const policy = {
      Version: '2012-10-17',
      Statement: [{ Sid: 'DenyUnencrypted', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket.name}/*`, Condition: { Null: { 's3:x-amz-server-side-encryption': 'true' } } }],
    };
    await bucket.client.send(new PutBucketPolicyCommand({ Bucket: bucket.name, Policy: JSON.stringify(policy) }));
    await bucket.client.send(new PutBucketCorsCommand({
      Bucket: bucket.name,
      CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['https://app.example'], AllowedMethods: ['PUT'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'] }] },
    }));
    try {
      const after = await attache.doctor({ service: 'good' });
      expect(after.ok).toBe(true);
      expect(check(after, 'good', 'policy')).toMatchObject({ status: 'pass', reason: expect.stringContaining('"DenyUnencrypted"') });
      expect(check(after, 'good', 'cors')).toMatchObject({ status: 'pass', reason: 'direct uploads allowed (PUT) from https://app.example' });
      // The policy is real: the plain S3 service's unencrypted write is refused, and doctor says so.
      const plain = await attache.doctor({ service: 'plain' });
      expect(statuses(plain, 'plain')).toMatchObject({ 'probe write': 'fail', encryption: 'warn' });
    } finally {
      await bucket.client.send(new DeleteBucketPolicyCommand({ Bucket: bucket.name }));
    }
  });

  it('the CLI: exit 1 and a FAIL line with the fix for a bad KMS key, exit 0 for the good service', async () => {
    const yaml = (name: string, key: string) => [`${name}:`, '  service: SecureS3', ...Object.entries(s3Settings(bucket.name, { kms_key_id: key })).map(([k, v]) => `  ${k}: ${String(v)}`)].join('\n');
    const app = await openCliApp(`${yaml('good', kms)}\n${yaml('badKey', 'attache-no-such-key')}\n`);
    try {
      const bad = await runCli(['doctor', '--service', 'badKey'], { cwd: app.dir, env: app.env });
      expect(bad.code).toBe(1);
      expect(bad.stdout).toMatch(/^badKey \(SecureS3\): FAILED$/m);
      expect(bad.stdout).toMatch(/^ {2}FAIL {2}kms key +the server could not use KMS key "attache-no-such-key"/m);
      expect(bad.stdout).toMatch(/fix: Check `kms_key_id:`/);
      expect(bad.stdout).not.toContain(s3Endpoint().secretAccessKey);
      const good = await runCli(['doctor', '--service', 'good'], { cwd: app.dir, env: app.env });
      expect(good.code, good.stdout).toBe(0);
      const strict = await runCli(['doctor', '--service', 'good', '--strict'], { cwd: app.dir, env: app.env });
      expect(strict.code).toBe(1); // no policy, no CORS: warnings fail with --strict
    } finally {
      await app.close();
    }
  });
});
