import { HeadObjectCommand, PutBucketAclCommand } from '@aws-sdk/client-s3';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Attache, type Blob } from '../../src/index.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { openTestDataSource, type TestDataSource } from '../support/db.ts';
import { User, usersTable } from '../support/entities.ts';
import { createTestBucket, missing, s3Settings, type TestBucket } from '../support/s3.ts';
import { serve, type Served } from '../http/harness.ts';

// The serving rules (serving.ts) on S3: the redirect route's presigned GET, the proxy route, and what a
// public bucket serves on its own (the stored headers). Disk's side is in serving.test.ts.
const HTML = Buffer.from('<!doctype html><html><body><script>alert(document.cookie)</script></body></html>');
const SCRIPT = Buffer.from('alert(document.cookie)');

describe.skipIf(missing('strict'))('risky types never render from S3, on any route', () => {
  let bucket: TestBucket;
  let db: TestDataSource;
  let attache: Attache;
  let app: Served;
  let png: Buffer;
  beforeAll(async () => {
    bucket = await createTestBucket();
    await bucket.client.send(new PutBucketAclCommand({ Bucket: bucket.name, ACL: 'public-read' }));
    db = await openTestDataSource({ entities: [User], sql: [usersTable] });
    attache = await Attache.init({
      dataSource: db.dataSource,
      services: { files: { service: 'S3', ...s3Settings(bucket.name) }, open: { service: 'S3', ...s3Settings(bucket.name), public: true } },
      service: 'files',
      secret: TEST_SECRET,
    });
    app = await serve(attache.handler());
    png = await readFile(path.resolve(import.meta.dirname, '../../examples/fixtures/ada.png'));
  });
  afterAll(async () => {
    await app?.close();
    await attache?.close();
    await db?.close();
    await bucket?.remove();
  });

  const upload = (io: Buffer, filename: string, contentType: string, service = 'files'): Promise<Blob> =>
    attache.createAndUpload({ io, filename, contentType }, { service });
  const stored = (blob: Blob) => bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: blob.key }));

  it.each([
    ['HTML declared as image/png', HTML, 'page.png', 'image/png', 'text/html'],
    ['JavaScript', SCRIPT, 'x.js', 'text/javascript', 'text/javascript'],
  ])('%s: the row keeps the true type; the object is stored as application/octet-stream, attachment', async (_label, io, filename, declared, real) => {
    const blob = await upload(io, filename, declared);
    expect(blob.contentType).toBe(real);
    const head = await stored(blob);
    expect(head.ContentType).toBe('application/octet-stream');
    expect(head.ContentDisposition).toMatch(/^attachment; filename=/);
  });

  it('the redirect route sends a presigned GET with application/octet-stream and attachment signed, and S3 serves exactly that', async () => {
    const blob = await upload(HTML, 'page.html', 'text/html');
    const answer = await fetch(`${app.base}${blob.redirectUrl()}`, { redirect: 'manual' });
    expect(answer.status).toBe(302);
    const location = new URL(answer.headers.get('location')!);
    expect(location.searchParams.get('response-content-type')).toBe('application/octet-stream');
    expect(location.searchParams.get('response-content-disposition')).toMatch(/^attachment; /);
    const file = await fetch(location);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('application/octet-stream');
    expect(file.headers.get('content-disposition')).toMatch(/^attachment; /);
    location.searchParams.set('response-content-type', 'text/html');
    expect((await fetch(location)).status).toBe(403); // the type is inside the signature
  });

  it('the proxy route serves it as application/octet-stream, attachment, nosniff', async () => {
    const blob = await upload(HTML, 'page.html', 'text/html');
    const answer = await fetch(`${app.base}${blob.proxyUrl()}?disposition=inline`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/octet-stream');
    expect(answer.headers.get('content-disposition')).toMatch(/^attachment; /);
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await answer.arrayBuffer()).equals(HTML)).toBe(true);
  });

  it('public: true: a plain GET of the object URL from the bucket gets application/octet-stream and attachment for HTML and JavaScript', async () => {
    for (const [io, filename, type] of [[HTML, 'page.html', 'text/html'], [SCRIPT, 'x.js', 'text/javascript']] as const) {
      const blob = await upload(io, filename, type, 'open');
      const url = await blob.url({ disposition: 'inline' });
      expect(new URL(url).search).toBe('');
      const answer = await fetch(url);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toBe('application/octet-stream');
      expect(answer.headers.get('content-disposition')).toMatch(/^attachment; /);
    }
  });

  it('public: true: a PNG is served inline, as image/png', async () => {
    const blob = await upload(png, 'ada.png', 'image/png', 'open');
    const answer = await fetch(await blob.url());
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('image/png');
    expect(answer.headers.get('content-disposition')).toMatch(/^inline; filename="ada\.png"/);
  });
});
