import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, inject, it } from 'vitest';

it('import "attache" loads no @aws-sdk module; Attache.init with an S3 service loads it (and Disk alone does not)', () => {
  const probe = path.resolve(import.meta.dirname, 'lazy-loading.probe.ts');
  const child = spawnSync(process.execPath, ['--import', 'tsx', probe], {
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: inject('databaseUrl'), NODE_NO_WARNINGS: '1' },
    timeout: 60_000,
  });
  expect(child.stderr).toBe('');
  expect(child.status).toBe(0);
  const steps = child.stdout.trim().split('\n').map((line) => JSON.parse(line) as { step: string; awsSdk: string[]; resolvedCount: number });
  expect(steps.map((s) => s.step)).toEqual(['import attache', 'init with Disk only', 'init with S3, built S3Service']);
  expect(steps[0]!.resolvedCount).toBeGreaterThan(20); // the hook did see the import of attache's own modules
  expect(steps[0]!.awsSdk).toEqual([]);
  expect(steps[1]!.awsSdk).toEqual([]);
  expect(steps[2]!.awsSdk).toEqual(expect.arrayContaining(['@aws-sdk/client-s3', '@aws-sdk/s3-request-presigner']));
  expect(steps[2]!.awsSdk).not.toContain('@aws-sdk/lib-storage'); // uploads drive the multipart commands themselves
});
