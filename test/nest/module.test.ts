import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Controller, Inject, Module, Param, Post, Req, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Request } from 'express';
import { DataSource } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Attache, ConfigurationError } from '../../src/index.ts';
import { Blob } from '../../src/records/index.ts';
import { AttacheModule } from '../../src/nest/index.ts';
import { readAll } from '../../src/core/streams.ts';
import { openTestDataSource, type TestDataSource } from '../support/db.ts';
import { User, usersTable } from '../support/entities.ts';
import { filesUnder, removeDir, tempRoot } from '../support/storage.ts';
import { TEST_SECRET } from '../support/attache.ts';

// esbuild (vitest) emits no decorator metadata, so every constructor parameter names its token.
@Controller('users')
class UsersController {
  constructor(@Inject(Attache) private readonly attache: Attache, @Inject(DataSource) private readonly dataSource: DataSource) {}

  /** The raw request body becomes the user's avatar; answers the avatar's URL. */
  @Post(':name/avatar')
  async upload(@Param('name') name: string, @Req() req: Request): Promise<{ url: string; id: number }> {
    const users = this.dataSource.getRepository(User);
    const user = await users.save(users.create({ name }));
    await user.avatar.attach({ io: await readAll(req), filename: 'avatar.png', contentType: String(req.headers['content-type']) });
    return { url: await user.avatar.url(), id: user.id };
  }
}

describe('AttacheModule (NestJS 11, express)', () => {
  let db: TestDataSource;
  let root: string;
  let app: INestApplication | undefined;
  let base: string;

  async function boot(attacheModule: ReturnType<typeof AttacheModule.forRootAsync>): Promise<void> {
    @Module({
      imports: [TypeOrmModule.forRootAsync({ useFactory: () => ({ type: 'postgres' }), dataSourceFactory: async () => db.dataSource }), attacheModule],
      controllers: [UsersController],
    })
    class AppModule {}
    app = await NestFactory.create(AppModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  }

  const async = () =>
    AttacheModule.forRootAsync({
      inject: [DataSource],
      useFactory: (dataSource: DataSource) => ({
        dataSource,
        services: { local: { service: 'Disk', root } },
        secret: TEST_SECRET,
      }),
    });

  beforeEach(async () => {
    db = await openTestDataSource({ entities: [User], sql: [usersTable] });
    root = await tempRoot('nest');
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await db.close();
    await removeDir(root);
  });

  it('attaches an upload in a controller and serves it back through the mounted routes', async () => {
    await boot(async());
    const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(2000)]);
    const answer = await fetch(`${base}/users/ada/avatar`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } });
    expect(answer.status).toBe(201);
    const { url } = (await answer.json()) as { url: string };
    const path = new URL(url, base).pathname;
    expect(path).toMatch(/^\/attache\/disk\//);
    const served = await fetch(new URL(path, base));
    expect(served.status).toBe(200);
    expect(Buffer.from(await served.arrayBuffer()).equals(png)).toBe(true);
    expect(app!.get(Attache)).toBeInstanceOf(Attache);
  });

  it('answers a JSON direct-upload request unread by Nest\'s body parser, and leaves other paths to Nest', async () => {
    await boot(async());
    const body = JSON.stringify({ attachment: 'User#avatar', filename: 'a.png', byteSize: 3, checksum: 'rL0Y20zC+Fzt72VPzMSk2A==', contentType: 'image/png' });
    const started = await fetch(`${base}/attache/direct_uploads`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(started.status).toBe(200);
    const { signedId, directUpload } = (await started.json()) as { signedId: string; directUpload: { url: string; headers: Record<string, string> } };
    expect(typeof signedId).toBe('string');
    const put = await fetch(new URL(directUpload.url, base), { method: 'PUT', body: 'foo', headers: directUpload.headers });
    expect(put.status).toBe(204);
    expect((await fetch(`${base}/nothing-here`)).status).toBe(404);
  });

  it('drains background purges on app.close() before @nestjs/typeorm destroys the DataSource', async () => {
    await boot(async());
    const attache = app!.get(Attache);
    const users = db.dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'Grace' }));
    await user.avatar.attach(Buffer.from('slow to purge'));
    const disk = attache.service('local');
    const remove = disk.delete.bind(disk);
    disk.delete = async (key) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await remove(key);
    };
    await user.avatar.purgeLater();
    await app!.close();
    app = undefined;
    expect(db.dataSource.isInitialized).toBe(false);
    expect(await filesUnder(root)).toEqual([]);
    const check = await openTestDataSource({ runMigrations: false });
    try {
      expect(await check.dataSource.query(`SELECT count(*)::int AS n FROM "${db.schema}".active_storage_blobs`)).toEqual([{ n: 0 }]);
    } finally {
      await check.close();
    }
  });

  it('fails at boot with ConfigurationError when there is no DataSource', async () => {
    @Module({ imports: [AttacheModule.forRoot({ services: { local: { service: 'Disk', root } }, secret: TEST_SECRET })] })
    class NoTypeOrm {}
    await expect(NestFactory.create(NoTypeOrm, { logger: false, abortOnError: false })).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('forRoot takes @nestjs/typeorm\'s DataSource when none is given, and routes: false mounts nothing', async () => {
    @Module({
      imports: [
        TypeOrmModule.forRootAsync({ useFactory: () => ({ type: 'postgres' }), dataSourceFactory: async () => db.dataSource }),
        AttacheModule.forRoot({ services: { local: { service: 'Disk', root } }, secret: TEST_SECRET, routes: false }),
      ],
    })
    class WithForRoot {}
    app = await NestFactory.create(WithForRoot, { logger: false });
    await app.listen(0, '127.0.0.1');
    expect(app.get(Attache).dataSource).toBe(db.dataSource);
    expect(await db.dataSource.getRepository(Blob).count()).toBe(0);
    // attache's own 404 has no body; this one is Nest's JSON "Cannot GET", so nothing of attache answered.
    const answer = await fetch(`${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/attache/blobs/redirect/x/y`);
    expect(answer.status).toBe(404);
    expect(await answer.json()).toMatchObject({ message: 'Cannot GET /attache/blobs/redirect/x/y' });
  });
});
