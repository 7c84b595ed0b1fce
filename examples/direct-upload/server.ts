/**
 * Direct uploads from the browser: `npx tsx examples/direct-upload/server.ts`, then open the printed URL.
 * The page uploads straight to storage (Disk, or SecureS3 with ATTACHE_SERVICE=secure and the S3_* env),
 * the app attaches the signed id to a user and shows the image through a signed URL.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { CreateActiveStorageTables1700000000000 } from '../../migrations/1700000000000-CreateActiveStorageTables.ts';
import { Attache, AttacheError, attacheEntities, hasOneAttached, type AttachedOne } from '../../src/index.ts';
import { startDatabase } from '../../scripts/database.ts';
import { allowBrowserUploads } from './cors.ts';

@Entity({ name: 'direct_upload_users' })
export class User {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar' }) name!: string;
  @hasOneAttached({ maxByteSize: 8 * 1024 * 1024, contentTypes: ['image/png', 'image/jpeg'], dependent: 'purge' }) declare avatar: AttachedOne;
  @hasOneAttached({ maxByteSize: 1024 * 1024 * 1024, dependent: 'purge' }) declare archive: AttachedOne;
}

export interface Example {
  origin: string;
  attache: Attache;
  dataSource: DataSource;
  user: User;
  close(): Promise<void>;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** Starts the example on 127.0.0.1 (port 0 = any free port). */
export async function startExample(options: { port?: number; databaseUrl?: string; service?: string } = {}): Promise<Example> {
  const database = options.databaseUrl ? { url: options.databaseUrl, stop: async () => {} } : await startDatabase();
  const dataSource = new DataSource({ type: 'postgres', url: database.url, entities: [...attacheEntities, User], migrations: [CreateActiveStorageTables1700000000000] });
  await dataSource.initialize();
  await dataSource.runMigrations();
  await dataSource.query('CREATE TABLE IF NOT EXISTS direct_upload_users (id serial PRIMARY KEY, name varchar NOT NULL)');
  const attache = await Attache.init({
    dataSource,
    configFile: here('./storage.yml'),
    service: options.service ?? process.env.ATTACHE_SERVICE ?? 'local',
    secret: process.env.ATTACHE_SECRET ?? randomBytes(32).toString('hex'),
  });
  const users = dataSource.getRepository(User);
  const user = await users.save(users.create({ name: 'Ada' }));
  const clientJs = await bundleClient();
  const page = await readFile(here('./index.html'), 'utf8');
  const files = attache.handler();
  const server = createServer((req, res) => files(req, res, () => void app(req, res).catch((error) => fail(res, error))));

  async function app(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET' && req.url === '/') return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    if (req.method === 'GET' && req.url === '/client.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(clientJs);
    if (req.method === 'GET' && req.url === '/config') return json(res, 200, { service: attache.defaultService });
    if (req.method === 'POST' && req.url === '/attach') return attach(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
  }

  async function attach(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { attachment, signedId } = JSON.parse(await body(req)) as { attachment: string; signedId: string };
    const accessor = attachment === 'User#archive' ? user.archive : user.avatar;
    await accessor.attach(signedId);
    const blob = (await accessor.blob())!;
    json(res, 200, { userId: user.id, filename: blob.filename, contentType: blob.contentType, byteSize: blob.byteSize, url: await blob.url({ expiresIn: 600 }) });
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await allowBrowserUploads(attache, origin);
  return {
    origin,
    attache,
    dataSource,
    user,
    async close() {
      await new Promise<void>((resolve) => closeServer(server, resolve));
      await attache.close();
      await dataSource.destroy();
      await database.stop();
    },
  };
}

async function bundleClient(): Promise<string> {
  const result = await build({ entryPoints: [fileURLToPath(new URL('../../src/client/index.ts', import.meta.url))], bundle: true, format: 'esm', write: false, target: 'es2022', logLevel: 'silent' });
  return result.outputFiles[0]!.text;
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}

function fail(res: ServerResponse, error: unknown): void {
  const known = error instanceof AttacheError;
  if (!known) console.error(error);
  json(res, known ? 422 : 500, { error: known ? `${error.name}: ${error.message}` : 'Internal error' });
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function closeServer(server: Server, done: () => void): void {
  server.closeAllConnections();
  server.close(() => done());
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const example = await startExample({ port: Number(process.env.PORT ?? 3000) });
  console.log(`Open ${example.origin} (service: ${example.attache.defaultService}); Ctrl-C to stop.`);
  process.once('SIGINT', () => void example.close().then(() => process.exit(0)));
}
