// A Nest 11 app (CommonJS, tsc): boots AttacheModule.forRootAsync, takes a multipart upload in a
// controller, and serves the file back through attache's routes, which the module mounts.
import 'reflect-metadata';
import { readFile } from 'node:fs/promises';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { AppModule } from './app.module';

async function main(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  try {
    await app.get(DataSource).query('CREATE TABLE IF NOT EXISTS users (id serial PRIMARY KEY, name varchar NOT NULL)');
    await app.listen(0, '127.0.0.1');
    const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');

    const original = await readFile('ada.png');
    const form = new FormData();
    form.append('avatar', new Blob([original], { type: 'image/png' }), 'ada.png');
    const uploaded = await fetch(`${base}/users/ada/avatar`, { method: 'POST', body: form });
    if (uploaded.status !== 201) throw new Error(`upload answered ${uploaded.status}: ${await uploaded.text()}`);
    const { id } = (await uploaded.json()) as { id: number };

    // The controller redirects to the signed URL; attache's mounted routes serve the bytes.
    const served = await fetch(`${base}/users/${id}/avatar`);
    const bytes = Buffer.from(await served.arrayBuffer());
    const path = new URL(served.url).pathname;
    if (served.status !== 200 || !bytes.equals(original)) throw new Error(`GET ${path} answered ${served.status} with other bytes`);
    if (!served.redirected || !path.startsWith('/attache/disk/')) throw new Error(`not served by attache's routes: ${path}`);
    console.log(`PASS nest: uploaded ${original.length} bytes to a controller, attached them; the controller injected Attache and attache's mounted routes served them back`);
  } finally {
    await app.close();
  }
}

main().catch((error: unknown) => {
  console.error('FAIL nest:', error);
  process.exitCode = 1;
});
