// A plain ESM JavaScript app: no TypeScript, no loader. JavaScript has no decorators, so the entity
// is a TypeORM EntitySchema whose target is the class, and attache's decorator is called by hand.
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { DataSource, EntitySchema } from 'typeorm';
import { Attache, attacheEntities, hasOneAttached } from 'attache';
import { CreateActiveStorageTables1700000000000 } from 'attache/migrations/1700000000000-CreateActiveStorageTables';

export class User {}
hasOneAttached()(User.prototype, 'avatar'); // what `@hasOneAttached() declare avatar` does in TypeScript

export const UserSchema = new EntitySchema({
  name: 'User',
  target: User,
  tableName: 'users',
  columns: {
    id: { type: 'int', primary: true, generated: true },
    name: { type: 'varchar' },
  },
});

const dataSource = new DataSource({
  type: 'postgres',
  url: process.env.DATABASE_URL,
  entities: [...attacheEntities, UserSchema],
  migrations: [CreateActiveStorageTables1700000000000],
});

async function main() {
  await dataSource.initialize();
  await dataSource.runMigrations();
  await dataSource.query('CREATE TABLE IF NOT EXISTS users (id serial PRIMARY KEY, name varchar NOT NULL)');
  const attache = await Attache.init({ dataSource, service: 'local', secret: process.env.ATTACHE_SECRET });
  const server = createServer(attache.handler());
  try {
    const users = dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'Ada' }));
    await user.avatar.attach({ io: createReadStream('ada.png'), filename: 'ada.png' });

    const original = await readFile('ada.png');
    const downloaded = await user.avatar.download();
    if (!downloaded.equals(original)) throw new Error('download() returned other bytes');

    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = new URL(await user.avatar.url(), `http://127.0.0.1:${server.address().port}`);
    const served = Buffer.from(await (await fetch(url)).arrayBuffer());
    if (!served.equals(original)) throw new Error(`GET ${url.pathname} returned other bytes`);
    // The package's bin: `npx attache` from the installed tarball (a non-zero exit throws).
    const help = execFileSync('npx', ['--no-install', 'attache', '--help'], { encoding: 'utf8' });
    if (!/^ {2}doctor /m.test(help) || !/^ {2}migrate /m.test(help)) throw new Error('npx attache --help does not list the commands');
    const doctor = JSON.parse(execFileSync('npx', ['--no-install', 'attache', 'doctor', '--service', 'local', '--json'], { encoding: 'utf8' }));
    if (!doctor.ok) throw new Error(`npx attache doctor failed: ${JSON.stringify(doctor)}`);
    console.log(`PASS esm-js: attached ${original.length} bytes, downloaded and served them back (${url.pathname.split('/').slice(0, 3).join('/')}/…); npx attache --help and doctor run`);
  } finally {
    server.close();
    await attache.close();
    await dataSource.destroy();
  }
}

main().catch((error) => {
  console.error('FAIL esm-js:', error);
  process.exitCode = 1;
});
