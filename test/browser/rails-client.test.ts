import { HeadObjectCommand, PutBucketCorsCommand } from '@aws-sdk/client-s3';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { Blob } from '../../src/index.ts';
import { createTestBucket, missing, s3Endpoint, s3Settings, type TestBucket } from '../support/s3.ts';
import { filesUnder } from '../support/storage.ts';
import { artifact, launch, noBrowser, noisePng } from './support.ts';
import { CSRF, startRailsPage, type RailsPage } from './rails-page.ts';

const MIB = 1024 * 1024;
type FileSpec = { name: string; mimeType: string; buffer: Buffer };

/** Opens the Rails-style form and records every PUT (with its headers) and every direct_uploads POST leaving the browser. */
async function openForm(browser: Browser, app: RailsPage, query: string): Promise<{ page: Page; puts: Array<{ url: string; headers: Record<string, string> }>; posts: string[] }> {
  const page = await browser.newPage();
  const puts: Array<{ url: string; headers: Record<string, string> }> = [];
  const posts: string[] = [];
  page.on('request', (request) => {
    if (request.method() === 'PUT') puts.push({ url: request.url(), headers: request.headers() });
    if (request.method() === 'POST' && request.url().includes('/direct_uploads')) posts.push(request.headers()['x-csrf-token'] ?? '');
  });
  await page.goto(`${app.origin}/?${query}`);
  return { page, puts, posts };
}

/** Chooses the file and clicks Save, as a user does; resolves to the state the app or the client reached. */
async function submit(page: Page, file: FileSpec): Promise<string> {
  await page.setInputFiles('#file', file);
  await page.click('#save');
  await page.waitForSelector('body[data-state]', { timeout: 60_000 });
  return (await page.getAttribute('body', 'data-state'))!;
}

function refusals(context: () => { browser: Browser; app: RailsPage; field: string; stored: () => Promise<number> }) {
  it.each([
    ['a file over maxByteSize', '', { name: 'big.png', mimeType: 'image/png', buffer: noisePng(2 * MIB) }, /Status: 422/],
    ['a disallowed type', '', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('plain text') }, /Status: 422/],
    ['a page whose X-CSRF-Token authorizeDirectUpload refuses', '&csrf=forged', { name: 'ok.png', mimeType: 'image/png', buffer: noisePng(10_000) }, /Status: 403/],
  ])('refuses %s before any byte is stored', async (_label, extra, file, error) => {
    const { browser, app, field, stored } = context();
    const { page, puts, posts } = await openForm(browser, app, `field=${field}${extra}`);
    const accessor = app.member[field as 'avatar' | 'vault'];
    const attached = (await accessor.reset().blob())?.id ?? null;
    const blobs = await app.db.dataSource.getRepository(Blob).count();
    const objects = await stored();
    expect(await submit(page, file)).toBe('refused');
    expect(await page.getAttribute('body', 'data-error')).toMatch(error);
    expect(posts).toEqual([extra ? 'forged' : CSRF]);
    expect(puts).toEqual([]);
    expect(await app.db.dataSource.getRepository(Blob).count()).toBe(blobs);
    expect(await stored()).toBe(objects);
    expect((await accessor.reset().blob())?.id ?? null).toBe(attached);
    await page.close();
  });
}

describe.skipIf(noBrowser())("@rails/activestorage 7.2.302 in headless Chromium, against attache's Rails mode (Disk)", () => {
  let browser: Browser;
  let app: RailsPage;
  beforeAll(async () => {
    browser = await launch();
    app = await startRailsPage();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('a form with a direct_upload file field uploads straight to Disk, submits the signed id, and the record gets the attachment', async () => {
    const image = noisePng(200_000);
    const { page, puts, posts } = await openForm(browser, app, 'field=avatar');
    expect(await submit(page, { name: 'grace.png', mimeType: 'image/png', buffer: image })).toBe('attached');
    expect(posts).toEqual([CSRF]);
    expect(puts.map(({ url }) => new URL(url).pathname)).toEqual([expect.stringMatching(/^\/rails\/active_storage\/disk\/[^/]+$/)]);
    await page.waitForFunction(() => (document.getElementById('preview') as HTMLImageElement).naturalWidth > 0);
    await page.screenshot({ path: await artifact('rails-client-disk.png') });
    const blob = (await app.member.avatar.reset().blob())!;
    expect(blob).toMatchObject({ byteSize: image.length, checksum: md5Base64(image), contentType: 'image/png', serviceName: 'local' });
    expect(await blob.download()).toEqual(image);
    await page.close();
  });

  it("its DirectUpload class, used directly, gets Rails' answer and stores the file", async () => {
    const { page } = await openForm(browser, app, 'field=avatar');
    const attributes = await page.evaluate(async () => {
      const bytes = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='), (c) => c.charCodeAt(0));
      const file = new File([bytes], 'dot.png', { type: 'image/png' });
      const DirectUpload = (window as unknown as { DirectUpload: new (file: File, url: string) => { create(cb: (error: unknown, blob: Record<string, unknown>) => void): void } }).DirectUpload;
      return new Promise<Record<string, unknown>>((resolve, reject) => {
        new DirectUpload(file, '/rails/active_storage/direct_uploads?attachment=Member%23avatar').create((error, blob) => (error ? reject(new Error(String(error))) : resolve(blob)));
      });
    });
    expect(attributes).toMatchObject({ filename: 'dot.png', content_type: 'image/png', service_name: 'local', signed_id: expect.any(String) });
    await app.member.avatar.reset().attach(attributes.signed_id as string);
    expect((await app.member.avatar.blob())?.filename).toBe('dot.png');
    await page.close();
  });

  refusals(() => ({ browser, app, field: 'avatar', stored: async () => (await filesUnder(app.root)).length }));
});

const kms = missing('kms');
describe.skipIf(noBrowser() ?? kms)("@rails/activestorage 7.2.302 in headless Chromium, against attache's Rails mode (SecureS3 on RGW)", () => {
  let browser: Browser;
  let app: RailsPage;
  let bucket: TestBucket;
  beforeAll(async () => {
    bucket = await createTestBucket();
    browser = await launch();
    app = await startRailsPage(s3Settings(bucket.name, { kms_key_id: s3Endpoint().kmsKeyId }));
    const rule = { AllowedOrigins: [app.origin], AllowedMethods: ['PUT'], AllowedHeaders: ['*'], MaxAgeSeconds: 600 };
    await bucket.client.send(new PutBucketCorsCommand({ Bucket: bucket.name, CORSConfiguration: { CORSRules: [rule] } }));
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await bucket?.remove();
  });

  it('the browser PUTs with the encryption headers, the object is KMS-encrypted, and the record gets the attachment', async () => {
    const image = noisePng(300_000);
    const { page, puts } = await openForm(browser, app, 'field=vault');
    expect(await submit(page, { name: 'secret.png', mimeType: 'image/png', buffer: image })).toBe('attached');
    expect(puts).toHaveLength(1);
    expect(puts[0]!.headers).toMatchObject({ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': s3Endpoint().kmsKeyId, 'content-md5': md5Base64(image) });
    const blob = (await app.member.vault.reset().blob())!;
    expect(blob).toMatchObject({ serviceName: 'secure', byteSize: image.length, checksum: md5Base64(image) });
    const head = await bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: blob.key }));
    expect(head.ServerSideEncryption).toBe('aws:kms');
    expect(head.SSEKMSKeyId).toContain(s3Endpoint().kmsKeyId);
    await page.waitForFunction(() => (document.getElementById('preview') as HTMLImageElement).naturalWidth > 0);
    await page.screenshot({ path: await artifact('rails-client-secure-s3.png') });
    await page.close();
  });

  refusals(() => ({ browser, app, field: 'vault', stored: async () => (await bucket.keys()).length }));
});
