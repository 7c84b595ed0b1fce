import { createHash, randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HeadObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startExample, type Example } from '../../examples/direct-upload/server.ts';
import { md5Base64 } from '../../src/core/checksum.ts';
import { Blob } from '../../src/index.ts';
import type { SecureS3Service } from '../../src/services/s3/SecureS3Service.ts';
import { missing } from '../support/s3.ts';
import { artifact, launch, noBrowser, noisePng } from './support.ts';

const MIB = 1024 * 1024;

/** Opens the example page and watches for PUTs leaving the browser. */
async function openPage(browser: Browser, example: Example): Promise<{ page: Page; puts: string[] }> {
  const page = await browser.newPage();
  const puts: string[] = [];
  page.on('request', (request) => {
    if (request.method() === 'PUT') puts.push(request.url());
  });
  await page.goto(example.origin);
  await page.waitForFunction(() => document.getElementById('service')?.textContent !== 'storage');
  return { page, puts };
}

/** Chooses a file in the page and waits until it is attached or refused. */
async function upload(page: Page, attachment: string, file: { name: string; mimeType: string; buffer: Buffer } | string): Promise<string> {
  await page.evaluate(() => delete document.body.dataset.state);
  await page.selectOption('#attachment', attachment);
  await page.setInputFiles('#file', file);
  await page.waitForSelector('body[data-state]', { timeout: 120_000 });
  return (await page.getAttribute('body', 'data-state'))!;
}

function refusalCases(context: () => { browser: Browser; example: Example }) {
  it.each([
    ['a file over maxByteSize', { name: 'huge.png', mimeType: 'image/png', buffer: Buffer.alloc(9 * MIB) }, /FileTooLargeError/],
    ['a disallowed type', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('just text') }, /ContentTypeNotAllowedError/],
  ])('refuses %s before any byte is uploaded', async (_label, file, message) => {
    const { browser, example } = context();
    const { page, puts } = await openPage(browser, example);
    const blobs = await example.dataSource.getRepository(Blob).count();
    expect(await upload(page, 'User#avatar', file)).toBe('refused');
    expect(await page.textContent('#status')).toMatch(message);
    expect(puts).toEqual([]);
    expect(await example.dataSource.getRepository(Blob).count()).toBe(blobs);
    await page.close();
  });
}

describe.skipIf(noBrowser())('direct upload from headless Chromium to Disk', () => {
  let browser: Browser;
  let example: Example;
  beforeAll(async () => {
    browser = await launch();
    example = await startExample({ databaseUrl: inject('databaseUrl'), service: 'local' });
  });
  afterAll(async () => {
    await browser?.close();
    await example?.close();
  });

  it('uploads a 5 MiB image straight to Disk, attaches it and shows it through a signed URL', async () => {
    const image = noisePng(5 * MIB);
    const { page, puts } = await openPage(browser, example);
    expect(await upload(page, 'User#avatar', { name: 'photo.png', mimeType: 'image/png', buffer: image })).toBe('attached');
    await page.waitForFunction(() => (document.getElementById('preview') as HTMLImageElement).naturalWidth > 0);
    await page.screenshot({ path: await artifact('direct-upload-disk.png') });
    expect(puts.map((url) => new URL(url).pathname)).toEqual([expect.stringMatching(/^\/attache\/disk\//)]);
    const blob = (await example.user.avatar.reset().blob())!;
    expect(blob).toMatchObject({ byteSize: image.length, checksum: md5Base64(image), contentType: 'image/png', serviceName: 'local' });
    await page.close();
  });

  refusalCases(() => ({ browser, example }));
});

describe.skipIf(noBrowser() ?? missing('kms'))('direct upload from headless Chromium to SecureS3 on RGW', () => {
  let browser: Browser;
  let example: Example;
  let service: SecureS3Service;
  beforeAll(async () => {
    process.env.S3_BUCKET = `attache-browser-${randomBytes(4).toString('hex')}`;
    browser = await launch();
    example = await startExample({ databaseUrl: inject('databaseUrl'), service: 'secure' });
    service = example.attache.service('secure') as SecureS3Service;
  });
  afterAll(async () => {
    await browser?.close();
    await service?.deletePrefixed('').catch(() => undefined);
    await example?.close();
  });

  it('uploads a 5 MiB image encrypted with the KMS key, and the checksum matches', async () => {
    const image = noisePng(5 * MIB);
    const { page } = await openPage(browser, example);
    expect(await upload(page, 'User#avatar', { name: 'photo.png', mimeType: 'image/png', buffer: image })).toBe('attached');
    await page.waitForFunction(() => (document.getElementById('preview') as HTMLImageElement).naturalWidth > 0);
    await page.screenshot({ path: await artifact('direct-upload-secure-s3.png') });
    const blob = (await example.user.avatar.reset().blob())!;
    expect(blob).toMatchObject({ byteSize: image.length, checksum: md5Base64(image), serviceName: 'secure' });
    const head = await service.client.send(new HeadObjectCommand({ Bucket: service.bucket, Key: blob.key }));
    expect(head.ServerSideEncryption).toBe('aws:kms');
    expect(head.SSEKMSKeyId).toContain(process.env.S3_KMS_KEY_ID);
    await page.close();
  });

  refusalCases(() => ({ browser, example }));

  it('uploads 150 MiB in parts, survives one aborted part, and downloads intact', async () => {
    const file = path.join(tmpdir(), `attache-150mib-${randomBytes(4).toString('hex')}.bin`);
    const bytes = randomBytes(150 * MIB);
    await writeFile(file, bytes);
    try {
      const { page, puts } = await openPage(browser, example);
      let aborted = 0;
      await page.route((url) => url.searchParams.get('partNumber') === '2', async (route) => {
        if (aborted++ === 0) await route.abort('connectionreset');
        else await route.continue();
      });
      expect(await upload(page, 'User#archive', file)).toBe('attached');
      expect(aborted).toBe(2);
      expect(puts.filter((url) => new URL(url).searchParams.has('partNumber')).length).toBeGreaterThanOrEqual(10);
      const blob = (await example.user.archive.reset().blob())!;
      expect(blob.byteSize).toBe(bytes.length);
      const downloaded = createHash('md5');
      for await (const chunk of await blob.stream()) downloaded.update(chunk as Buffer);
      expect(downloaded.digest('base64')).toBe(md5Base64(bytes));
      const head = await service.client.send(new HeadObjectCommand({ Bucket: service.bucket, Key: blob.key }));
      expect(head.ServerSideEncryption).toBe('aws:kms');
      const open = await service.client.send(new ListMultipartUploadsCommand({ Bucket: service.bucket }));
      expect(open.Uploads ?? []).toEqual([]);
      await page.close();
    } finally {
      await rm(file, { force: true });
    }
  }, 300_000);
});
