/**
 * Quickstart: `npm run example`.
 * Uses DATABASE_URL when set, else starts a throw-away PostgreSQL; runs attache's migrations;
 * attaches a file to a user; prints the blob; downloads it back and checks the bytes.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { Attache, attacheEntities, fromPath, hasManyAttached, hasOneAttached, type AttachedMany, type AttachedOne } from '../src/index.ts';
import { DatabaseStartError, startDatabase } from '../scripts/database.ts';
import { CreateActiveStorageTables1700000000000 } from '../migrations/1700000000000-CreateActiveStorageTables.ts';

@Entity({ name: 'quickstart_users' })
class User {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar' }) name!: string;
  @hasOneAttached() declare avatar: AttachedOne;
  @hasManyAttached({ service: 'archive', dependent: 'purge' }) declare documents: AttachedMany;
}

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

async function main(): Promise<void> {
  const database = await startDatabase();
  console.log(`PostgreSQL: ${database.source}`);
  const dataSource = new DataSource({
    type: 'postgres',
    url: database.url,
    entities: [...attacheEntities, User],
    migrations: [CreateActiveStorageTables1700000000000],
  });
  try {
    await dataSource.initialize();
    await dataSource.runMigrations();
    await dataSource.query('CREATE TABLE IF NOT EXISTS quickstart_users (id serial PRIMARY KEY, name varchar NOT NULL)');

    const attache = await Attache.init({
      dataSource,
      configFile: fileURLToPath(new URL('./config/storage.yml', import.meta.url)),
      service: 'local',
      // Production apps set ATTACHE_SECRET (32+ characters); the quickstart makes one up.
      secret: process.env.ATTACHE_SECRET ?? randomBytes(32).toString('hex'),
    });
    const users = dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'Ada' }));

    await user.avatar.attach({ io: createReadStream(fixture('ada.png')), filename: 'ada.png' });
    await user.documents.attach([Buffer.from('notes about Ada\n'), fromPath(fixture('report.pdf'))]);

    const blob = (await user.avatar.blob())!;
    console.log({ key: blob.key, checksum: blob.checksum, contentType: blob.contentType, byteSize: blob.byteSize, service: blob.serviceName });
    console.log(`documents: ${(await user.documents.blobs()).map((b) => `${b.filename} (${b.contentType}, ${b.byteSize} B)`).join(', ')}`);

    const downloaded = await user.avatar.download();
    const original = await readFile(fixture('ada.png'));
    if (!downloaded.equals(original)) throw new Error('The downloaded avatar differs from the original.');
    console.log(`Downloaded ${downloaded.length} bytes back: identical.`);

    await users.remove(user); // dependent purge: the rows, blobs and files go with the user
    await attache.close();
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await database.stop();
  }
}

main().catch((error: unknown) => {
  // A database that will not start is the reader's to fix: say what and how, without a stack.
  console.error(error instanceof DatabaseStartError ? error.message : error);
  process.exitCode = 1;
});
