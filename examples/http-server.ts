/**
 * Serving attachments with plain node:http: `npx tsx examples/http-server.ts [--serve]`.
 * Uses DATABASE_URL when set, else starts a throw-away PostgreSQL; attaches examples/fixtures/ada.png
 * to a user; serves `attache.handler()` on 127.0.0.1; prints the avatar's signed URL and fetches it
 * once to prove it works. With `--serve` it keeps serving until Ctrl-C, else it cleans up and exits.
 */
import { randomBytes } from 'node:crypto';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { Attache, attacheEntities, fromPath, hasOneAttached, type AttachedOne } from '../src/index.ts';
import { startDatabase } from '../scripts/database.ts';
import { CreateActiveStorageTables1700000000000 } from '../migrations/1700000000000-CreateActiveStorageTables.ts';

@Entity({ name: 'http_example_users' })
class User {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar' }) name!: string;
  @hasOneAttached({ dependent: 'purge' }) declare avatar: AttachedOne;
}

const avatarFile = fileURLToPath(new URL('./fixtures/ada.png', import.meta.url));

async function main(): Promise<void> {
  const database = await startDatabase();
  const root = await mkdtemp(path.join(tmpdir(), 'attache-http-example-'));
  const dataSource = new DataSource({ type: 'postgres', url: database.url, entities: [...attacheEntities, User], migrations: [CreateActiveStorageTables1700000000000] });
  try {
    await dataSource.initialize();
    await dataSource.runMigrations();
    await dataSource.query('CREATE TABLE IF NOT EXISTS http_example_users (id serial PRIMARY KEY, name varchar NOT NULL)');
    const attache = await Attache.init({
      dataSource,
      services: { local: { service: 'Disk', root } },
      // Production apps set ATTACHE_SECRET (32+ characters); the example makes one up.
      secret: process.env.ATTACHE_SECRET ?? randomBytes(32).toString('hex'),
    });
    const users = dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'Ada' }));
    await user.avatar.attach(fromPath(avatarFile));

    // attache answers its own paths (/attache/...); everything else goes to next(), here the app's 404.
    const files = attache.handler();
    const app = (_req: IncomingMessage, res: ServerResponse): void => void res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
    const server = createServer((req, res) => files(req, res, () => app(req, res)));
    await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const url = `${origin}${await user.avatar.url({ expiresIn: 3600 })}`;
    console.log(`Avatar (signed for 1 hour): ${url}`);
    console.log(`Proxy URL (permanent signed id): ${origin}${(await user.avatar.blob())!.proxyUrl()}`);
    await fetchOnce(url);

    if (process.argv.includes('--serve')) {
      console.log(`Serving on ${origin}; Ctrl-C to stop.`);
      await new Promise<void>((resolve) => process.once('SIGINT', resolve));
    }
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await users.remove(user); // dependent purge: the rows, blob and file go with the user
    await attache.close();
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await database.stop();
    await rm(root, { recursive: true, force: true });
  }
}

/** GETs the URL and checks that the bytes and the served headers are the expected ones. */
async function fetchOnce(url: string): Promise<void> {
  const response = await fetch(url);
  const body = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200 || !body.equals(await readFile(avatarFile))) throw new Error(`The avatar URL answered ${response.status} with other bytes.`);
  const shown = ['content-type', 'content-length', 'content-disposition', 'x-content-type-options'].map((h) => `${h}: ${response.headers.get(h)}`);
  console.log(`Fetched it: ${response.status}, identical bytes\n  ${shown.join('\n  ')}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
