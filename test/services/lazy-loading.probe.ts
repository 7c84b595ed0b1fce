// Run by lazy-loading.test.ts in a child process (node --import tsx): prints, as JSON lines, which
// @aws-sdk packages are loaded after each step. Both signals are read: URLs resolved through the ESM
// loader (a register() hook) and the CommonJS module cache (the SDK's entry points are CJS).
import { createRequire, register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const resolved: string[] = [];
const { port1, port2 } = new MessageChannel();
port1.on('message', (url: string) => resolved.push(url));
port1.unref();
register('../support/record-resolves.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });

const require = createRequire(import.meta.url);

async function report(step: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 100)); // let the hook thread's messages arrive
  const packages = new Set<string>();
  for (const where of [...resolved, ...Object.keys(require.cache)]) {
    const match = /node_modules[/\\](@aws-sdk[/\\][^/\\]+)/.exec(decodeURIComponent(where));
    if (match) packages.add(match[1]!.replace('\\', '/'));
  }
  console.log(JSON.stringify({ step, awsSdk: [...packages].sort(), resolvedCount: resolved.length }));
}

const { Attache, attacheEntities } = await import('../../src/index.ts');
await report('import attache');

const { DataSource } = await import('typeorm');
const dataSource = new DataSource({ type: 'postgres', url: process.env['DATABASE_URL'], entities: attacheEntities });
await dataSource.initialize();
const secret = 'lazy-loading-probe-secret-0123456789';
const disk = await Attache.init({ dataSource, secret, services: { local: { service: 'Disk', root: process.env['PROBE_ROOT'] ?? '/tmp' } } });
await disk.close();
await report('init with Disk only');

const s3 = await Attache.init({
  dataSource,
  secret,
  services: { files: { service: 'S3', bucket: 'probe', region: 'us-east-1', endpoint: 'http://127.0.0.1:9', force_path_style: true } },
});
const service = s3.service();
await report(`init with S3, built ${service.constructor.name}`);
await s3.close();
await dataSource.destroy();
