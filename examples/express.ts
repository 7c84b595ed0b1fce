/**
 * Serving attachments from an Express app: `npx tsx examples/express.ts [--serve]`.
 * `app.use(attache.handler())` answers attache's routes (/attache/...) and calls next() for the
 * rest; the app's own page embeds the avatar with a fresh signed URL on every request. Uses
 * DATABASE_URL when set, else a throw-away PostgreSQL. With `--serve` it keeps serving until
 * Ctrl-C, else it fetches the page and the avatar once, cleans up and exits.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { Attache, attacheEntities, fromPath, hasOneAttached, type AttachedOne } from '../src/index.ts';
import { startDatabase } from '../scripts/database.ts';
import { CreateActiveStorageTables1700000000000 } from '../migrations/1700000000000-CreateActiveStorageTables.ts';

@Entity({ name: 'express_example_users' })
class User {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar' }) name!: string;
  @hasOneAttached({ dependent: 'purge' }) declare avatar: AttachedOne;
}

const avatarFile = fileURLToPath(new URL('./fixtures/ada.png', import.meta.url));

async function main(): Promise<void> {
  const database = await startDatabase();
  const root = await mkdtemp(path.join(tmpdir(), 'attache-express-example-'));
  const dataSource = new DataSource({ type: 'postgres', url: database.url, entities: [...attacheEntities, User], migrations: [CreateActiveStorageTables1700000000000] });
  try {
    await dataSource.initialize();
    await dataSource.runMigrations();
    await dataSource.query('CREATE TABLE IF NOT EXISTS express_example_users (id serial PRIMARY KEY, name varchar NOT NULL)');
    const attache = await Attache.init({
      dataSource,
      services: { local: { service: 'Disk', root } },
      secret: process.env.ATTACHE_SECRET ?? randomBytes(32).toString('hex'),
    });
    const users = dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'Ada' }));
    await user.avatar.attach(fromPath(avatarFile));

    const app = express();
    // Mount at the root: Express strips a mount path from req.url; attache's prefix is the `mount` option.
    // `attache.handler({ authorize: (req, blob) => … })` would also guard the redirect and proxy routes.
    app.use(attache.handler());
    app.get('/users/:id', async (req, res) => {
      const found = await users.findOneBy({ id: Number(req.params.id) });
      if (!found || !(await found.avatar.attached())) return void res.status(404).send('No such user');
      // A fresh 5-minute URL per page view; attache's URLs are safe to put in an attribute as they are.
      res.type('html').send(`<h1>${found.id}</h1><img alt="avatar" src="${await found.avatar.url()}">`);
    });
    const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
    await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    console.log(`User page: ${origin}/users/${user.id}`);
    await fetchOnce(origin, `/users/${user.id}`);

    if (process.argv.includes('--serve')) {
      console.log(`Serving on ${origin}; Ctrl-C to stop.`);
      await new Promise<void>((resolve) => process.once('SIGINT', resolve));
    }
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await users.remove(user);
    await attache.close();
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await database.stop();
    await rm(root, { recursive: true, force: true });
  }
}

/** Loads the page, follows its <img src> and checks the avatar's bytes. */
async function fetchOnce(origin: string, page: string): Promise<void> {
  const html = await (await fetch(`${origin}${page}`)).text();
  const src = /src="([^"]+)"/.exec(html)?.[1];
  if (!src) throw new Error('The page has no avatar.');
  console.log(`Avatar (signed for 5 minutes): ${origin}${src}`);
  const response = await fetch(`${origin}${src}`);
  const body = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200 || !body.equals(await readFile(avatarFile))) throw new Error(`The avatar URL answered ${response.status} with other bytes.`);
  console.log(`Fetched it: ${response.status}, ${body.length} identical bytes, ${response.headers.get('content-type')}, ${response.headers.get('content-disposition')}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
