// An ESM TypeScript app (tsc, target ES2022, define semantics for class fields), run with node.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { Attache, attacheEntities, fromPath, hasManyAttached, hasOneAttached, type AttachedMany, type AttachedOne } from 'attache';
import { CreateActiveStorageTables1700000000000 } from 'attache/migrations/1700000000000-CreateActiveStorageTables';

@Entity({ name: 'users' })
export class User {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar' }) name!: string;
  @hasOneAttached() declare avatar: AttachedOne;
  @hasManyAttached({ service: 'archive', dependent: 'purge' }) declare documents: AttachedMany;
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
    // Define semantics would make a non-declare field an own property that hides the accessor.
    if (Object.hasOwn(user, 'avatar')) throw new Error('avatar is an own property of the record');
    await user.avatar.attach({ io: createReadStream('ada.png'), filename: 'ada.png' });

    const original = await readFile('ada.png');
    const downloaded = await user.avatar.download();
    if (!downloaded.equals(original)) throw new Error('download() returned other bytes');

    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = new URL(await user.avatar.url(), `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const served = Buffer.from(await (await fetch(url)).arrayBuffer());
    if (!served.equals(original)) throw new Error(`GET ${url.pathname} returned other bytes`);

    await user.documents.attach([Buffer.from('notes about Ada\n'), fromPath('ada.png')]);
    const documents = await user.documents.blobs();
    if (documents.length !== 2 || documents.some((blob) => blob.serviceName !== 'archive')) throw new Error('documents are not two blobs on archive');
    console.log(`PASS esm-ts: attached ${original.length} bytes, downloaded and served them back and 2 documents to archive (declare fields, define semantics)`);
  } finally {
    server.close();
    await attache.close();
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  console.error('FAIL esm-ts:', error);
  process.exitCode = 1;
});
