import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Attache, attacheEntities, Blob } from '../../src/index.ts';
import { pgBossQueue } from '../../src/jobs/pg-boss/index.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { openCliApp, startCli, waitFor, type CliApp } from './support.ts';

describe('attache work', () => {
  let app: CliApp;
  let producerSource: DataSource;
  let producer: Attache;
  const schema = `cli_jobs_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    app = await openCliApp('local:\n  service: Disk\n  root: ${ROOT}/local\n');
    // The app enqueueing: its own DataSource on the same schema, with the shared pg-boss queue.
    producerSource = new DataSource({ type: 'postgres', url: app.databaseUrl, entities: [...attacheEntities] });
    await producerSource.initialize();
    producer = await Attache.init({ dataSource: producerSource, configFile: path.join(app.dir, 'config', 'storage.yml'), secret: TEST_SECRET, queue: pgBossQueue(producerSource, { schema }) });
  });
  afterAll(async () => {
    await producer?.close();
    await producerSource?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await producerSource?.destroy();
    await app?.close();
  });

  it('runs the queued jobs, and on SIGTERM lets the running ones finish and exits 0', { timeout: 60_000 }, async () => {
    const blob = await producer.createAndUpload({ io: Buffer.from('to be purged'), filename: 'a.txt' });
    await producer.enqueue({ type: 'purge', blobId: blob.id });
    const run = startCli(['work', '--schema', schema, '--concurrency', '2'], { cwd: app.dir, env: app.env });
    await waitFor(run.output, (text) => /^purge done \(attempt 1, \d+ ms\)$/m.test(text), 30_000);
    expect(await producerSource.getRepository(Blob).existsBy({ id: blob.id })).toBe(false);
    expect(await producer.service('local').exists(blob.key)).toBe(false);
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect([result.code, result.stdout]).toEqual([0, expect.stringMatching(/stopped by SIGTERM; running jobs finished/)]);
  });

  it('exits 2 with a bad --concurrency', async () => {
    const result = await startCli(['work', '--concurrency', '0'], { cwd: app.dir, env: app.env }).done;
    expect([result.code, result.stderr]).toEqual([2, expect.stringMatching(/--concurrency must be a whole number/)]);
  });
});
