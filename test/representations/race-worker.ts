/**
 * A separate process that asks for one variant (or preview) of one blob, as another app server
 * would: `node --import tsx race-worker.ts`, configured by env (URL, SCHEMA, ROOT, BLOB_ID, KIND,
 * NAME). With BARRIER=1 it writes "ready" to stderr once booted and waits for a line on stdin,
 * so several workers start at the same instant. Prints `{ "image": { "id", "key" } }` and exits
 * 0, or exits 1 with the error.
 */
import { DataSource } from 'typeorm';
import { Attache, attacheEntities, Blob } from '../../src/index.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { Member } from './fixture.ts';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`race-worker needs ${name}`);
  return value;
};

const dataSource = new DataSource({
  type: 'postgres',
  url: env('URL'),
  extra: { options: `-c search_path=${env('SCHEMA')}`, application_name: env('NAME') },
  entities: [...attacheEntities, Member],
  synchronize: false,
  logging: false,
});
const attache = await Attache.init({ dataSource, services: { local: { service: 'Disk', root: env('ROOT') } }, service: 'local', secret: TEST_SECRET });
try {
  const blob = await dataSource.getRepository(Blob).findOneByOrFail({ id: env('BLOB_ID') });
  if (process.env['BARRIER'] === '1') {
    process.stderr.write('ready\n');
    await new Promise((resolve) => process.stdin.once('data', resolve));
    process.stdin.pause();
  }
  const representation = env('KIND') === 'preview' ? blob.preview({ resizeToLimit: [100, 100] }) : blob.variant({ resizeToLimit: [100, 100] });
  const image = await representation.image();
  process.stdout.write(JSON.stringify({ image: { id: image.id, key: image.key } }));
} finally {
  await attache.close();
  await dataSource.destroy();
}
