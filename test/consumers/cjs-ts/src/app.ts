// A CommonJS TypeScript app (tsc, module: commonjs, experimentalDecorators, emitDecoratorMetadata),
// run with plain node: `require('attache')` loads the ESM package through Node's require(esm).
import 'reflect-metadata';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { Attache, attacheEntities, hasOneAttached, AttachedOne } from 'attache';
import { CreateActiveStorageTables1700000000000 } from 'attache/migrations/1700000000000-CreateActiveStorageTables';

@Entity({ name: 'users' })
export class User {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar' }) name!: string;
  @hasOneAttached() declare avatar: AttachedOne;
}

const dataSource = new DataSource({
  type: 'postgres',
  url: process.env.DATABASE_URL,
  entities: [...attacheEntities, User],
  migrations: [CreateActiveStorageTables1700000000000],
});

async function main(): Promise<void> {
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

    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = new URL(await user.avatar.url(), `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const served = Buffer.from(await (await fetch(url)).arrayBuffer());
    if (!served.equals(original)) throw new Error(`GET ${url.pathname} returned other bytes`);
    if (typeof require !== 'function') throw new Error('not running as CommonJS');
    console.log(`PASS cjs-ts: attached ${original.length} bytes, downloaded and served them back (CommonJS, require(esm))`);
  } finally {
    server.close();
    await attache.close();
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  console.error('FAIL cjs-ts:', error);
  process.exitCode = 1;
});
