import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { md5Base64 } from '../../src/core/checksum.ts';
import { StorageAccessError } from '../../src/core/errors.ts';
import { generateKey } from '../../src/core/keys.ts';
import type { S3Service } from '../../src/services/s3/S3Service.ts';
import type { SecureS3Service } from '../../src/services/s3/SecureS3Service.ts';
import type { StorageService } from '../../src/services/Service.ts';
import { createTestBucket, makeService, missing, s3Endpoint, s3Settings, type TestBucket } from '../support/s3.ts';
import { chunked, collect, readAll } from '../../src/testing/contract.ts';
import { startFaultProxy, type Fault, type FaultProxy } from './fault-proxy.ts';

const MIB = 1024 * 1024;
const THRESHOLD = 5 * MIB;
/** Short bounds, so a hang is over in about two seconds: 1 s of silence, 1 retry (2 attempts); healthy requests here take milliseconds. */
const BOUNDS = { http_open_timeout: 1, http_read_timeout: 1, retry_limit: 1 };

const PUT_OBJECT = /^PUT \S*[?&]x-id=PutObject/;
const UPLOAD_PART_2 = /^PUT \S*[?&]partNumber=2&\S*x-id=UploadPart\b/;
const UPLOAD_PART_COPY = /^PUT \S*x-id=UploadPartCopy/;
const GET_OBJECT = /^GET \S*[?&]x-id=GetObject/;
const HEAD = /^HEAD /;
const DELETE_OBJECT = /^DELETE \S*[?&]x-id=DeleteObject/;
const LIST_OBJECTS = /^GET \S*[?&]list-type=2/;
const DELETE_OBJECTS = /^POST \S*[?&]delete/;
const COMPLETE = /^POST \S*[?&]uploadId=/;
const LIST_PARTS = /^GET \S*[?&]uploadId=/;

/** Faults every request whose request line matches. */
const always = (pattern: RegExp, fault: Fault) => (head: string): Fault | undefined => (pattern.test(head.split('\r\n')[0] ?? '') ? fault : undefined);

/** The rejection of `operation`, which must come (the test's timeout is the bound: a hang fails the test). */
async function rejection(operation: () => Promise<unknown>): Promise<Error> {
  const error = await operation().then(() => undefined, (e: unknown) => e);
  expect(error, 'the operation should have failed').toBeInstanceOf(Error);
  return error as Error;
}

function expectTimedOut(error: Error): void {
  expect(error).toBeInstanceOf(StorageAccessError);
  expect(error.message).toMatch(/did not answer in time \(TimeoutError\)/);
  expect(error.cause).toMatchObject({ name: 'TimeoutError' });
}

describe.skipIf(missing('strict'))('S3 requests that never answer, or stop mid-body, fail within the bounds and leave nothing (checklist 8)', () => {
  let bucket: TestBucket;
  let proxy: FaultProxy | undefined;
  let direct: S3Service;
  beforeAll(async () => {
    bucket = await createTestBucket();
    direct = makeService('S3', 'direct', s3Settings(bucket.name, { multipart_threshold: THRESHOLD })) as S3Service;
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });
  afterAll(() => bucket?.remove());

  async function behindProxy(rule: (head: string) => Fault | undefined, adapter: 'S3' | 'SecureS3' = 'S3'): Promise<S3Service> {
    proxy = await startFaultProxy(s3Endpoint().endpoint, rule);
    const extra = adapter === 'SecureS3' ? { kms_key_id: s3Endpoint().kmsKeyId } : {};
    return makeService(adapter, 'faulty', s3Settings(bucket.name, { endpoint: proxy.endpoint, multipart_threshold: THRESHOLD, ...BOUNDS, ...extra })) as S3Service;
  }

  async function expectNothingLeft(before: string[]): Promise<void> {
    expect((await bucket.keys()).sort()).toEqual(before.sort());
    expect(await bucket.openUploads()).toBe(0);
  }

  describe('uploads', () => {
    it.each([
      ['a single put that is never answered', PUT_OBJECT, { kind: 'hang' } as Fault, 1000],
      ['a single put whose body stops after 2 KB', PUT_OBJECT, { kind: 'stall', afterBytes: 2000 } as Fault, 100_000],
      ['a single put stored by the server whose answer never comes', PUT_OBJECT, { kind: 'mute' } as Fault, 1000],
      ['a multipart upload whose second part is never answered', UPLOAD_PART_2, { kind: 'hang' } as Fault, 2 * THRESHOLD + 10],
      ['a multipart upload whose second part stops after 1 MiB', UPLOAD_PART_2, { kind: 'stall', afterBytes: MIB } as Fault, 2 * THRESHOLD + 10],
      ['a multipart upload completed by the server whose answer never comes', COMPLETE, { kind: 'mute' } as Fault, THRESHOLD + 10],
    ])('%s: StorageAccessError (TimeoutError), retried once, no object, no open upload', async (_label, pattern, fault, size) => {
      const service = await behindProxy(always(pattern, fault));
      const before = await bucket.keys();
      const key = generateKey();
      expectTimedOut(await rejection(() => service.upload(key, chunked(randomBytes(size), 256 * 1024))));
      expect(proxy!.faulted).toHaveLength(BOUNDS.retry_limit + 1);
      await expectNothingLeft(before);
    });

    it.skipIf(missing('kms'))('SecureS3: a multipart upload whose confirming HEAD never answers is deleted', async () => {
      const service = await behindProxy(always(HEAD, { kind: 'hang' }), 'SecureS3');
      const before = await bucket.keys();
      expectTimedOut(await rejection(() => service.upload(generateKey(), chunked(randomBytes(THRESHOLD + 10), 256 * 1024))));
      await expectNothingLeft(before);
    });
  });

  describe('downloads', () => {
    let key: string;
    let data: Buffer;
    beforeAll(async () => {
      key = generateKey();
      data = randomBytes(MIB);
      await direct.upload(key, data);
    });

    it('a GET that is never answered rejects download() and downloadRange()', async () => {
      const service = await behindProxy(always(GET_OBJECT, { kind: 'hang' }));
      expectTimedOut(await rejection(() => service.download(key)));
      expectTimedOut(await rejection(() => service.downloadRange(key, 0, 9)));
    });

    it.each([
      ['download()', (s: StorageService, k: string) => s.download(k)],
      ['downloadRange()', (s: StorageService, k: string) => s.downloadRange(k, 10, MIB - 10)],
    ])('a body that stops after 64 KiB errors the stream of %s with StorageAccessError', async (_label, open) => {
      const service = await behindProxy(always(GET_OBJECT, { kind: 'stallResponse', afterBytes: 64 * 1024 }));
      const stream = await open(service, key);
      expectTimedOut(await rejection(() => readAll(stream)));
    });

    it('the same body through a healthy connection downloads whole (the proxy passes what it is not told to fault)', async () => {
      const service = await behindProxy(() => undefined);
      expect((await readAll(await service.download(key))).equals(data)).toBe(true);
    });
  });

  describe('other requests', () => {
    it.each([
      ['exists (HEAD)', HEAD, (s: S3Service) => s.exists(generateKey())],
      ['delete', DELETE_OBJECT, (s: S3Service) => s.delete(generateKey())],
      ['deletePrefixed, listing', LIST_OBJECTS, (s: S3Service) => s.deletePrefixed(`${generateKey()}/`)],
    ])('%s that is never answered gives StorageAccessError', async (_label, pattern, operation) => {
      const service = await behindProxy(always(pattern, { kind: 'hang' }));
      expectTimedOut(await rejection(() => operation(service)));
    });

    it('deletePrefixed whose DeleteObjects is never answered gives StorageAccessError', async () => {
      const ns = generateKey();
      await direct.upload(`${ns}/a`, Buffer.from('a'));
      const service = await behindProxy(always(DELETE_OBJECTS, { kind: 'hang' }));
      expectTimedOut(await rejection(() => service.deletePrefixed(`${ns}/`)));
      await direct.deletePrefixed(`${ns}/`);
    });

    it.each([
      ['an UploadPartCopy that is never answered', UPLOAD_PART_COPY, { kind: 'hang' } as Fault, THRESHOLD],
      ['a Complete done by the server whose answer never comes', COMPLETE, { kind: 'mute' } as Fault, THRESHOLD],
      ['a source GET that stops mid-body (the streamed path)', GET_OBJECT, { kind: 'stallResponse', afterBytes: 1000 } as Fault, 100_000],
    ])('compose with %s: StorageAccessError, no object, no open upload', async (_label, pattern, fault, size) => {
      const sources = [generateKey(), generateKey()];
      for (const source of sources) await direct.upload(source, randomBytes(size));
      const before = await bucket.keys();
      const service = await behindProxy(always(pattern, fault));
      const error = await rejection(() => service.compose(sources, generateKey()));
      expect(error).toBeInstanceOf(StorageAccessError);
      await expectNothingLeft(before);
    });

    it.each([
      ['ListParts is never answered', LIST_PARTS, { kind: 'hang' } as Fault],
      ['Complete is never answered', COMPLETE, { kind: 'hang' } as Fault],
      ['Complete is done by the server but its answer never comes', COMPLETE, { kind: 'mute' } as Fault],
    ])('completing a multipart direct upload when %s: StorageAccessError, aborted, no object', async (_label, pattern, fault) => {
      const service = await behindProxy(always(pattern, fault));
      const before = await bucket.keys();
      const key = generateKey();
      const part = randomBytes(1000);
      const upload = await service.createMultipartDirectUpload(key, { expiresIn: 300, contentType: 'application/pdf', parts: [{ byteSize: part.length, checksum: md5Base64(part) }] });
      expect((await fetch(upload.parts[0]!.url, { method: 'PUT', headers: upload.parts[0]!.headers, body: new Uint8Array(part) })).status).toBe(200);
      expectTimedOut(await rejection(() => service.completeMultipartDirectUpload(key, upload.uploadId, 1)));
      await expectNothingLeft(before);
    });
  });
});

describe('S3 with the network down or a server that never accepts', () => {
  let refusedEndpoint: string;
  beforeAll(async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    refusedEndpoint = `http://127.0.0.1:${port}`; // nothing listens there now: every connection is refused
  });

  const down = (): S3Service => makeService('S3', 'down', s3Settings('some-bucket', { endpoint: refusedEndpoint, ...BOUNDS })) as S3Service;
  const calls: Array<[string, (s: S3Service) => Promise<unknown>]> = [
    ['upload', (s) => s.upload(generateKey(), Buffer.from('x'))],
    ['upload (multipart)', (s) => s.upload(generateKey(), chunked(randomBytes(THRESHOLD + 1), MIB))],
    ['download', (s) => s.download(generateKey())],
    ['downloadRange', (s) => s.downloadRange(generateKey(), 0, 1)],
    ['exists', (s) => s.exists(generateKey())],
    ['delete', (s) => s.delete(generateKey())],
    ['deletePrefixed', (s) => s.deletePrefixed('a/')],
    ['compose', (s) => s.compose([generateKey()], generateKey())],
    ['createMultipartDirectUpload', (s) => s.createMultipartDirectUpload(generateKey(), { expiresIn: 60, contentType: 'x/y', parts: [{ byteSize: 1, checksum: md5Base64('x') }] })],
    ['completeMultipartDirectUpload', (s) => s.completeMultipartDirectUpload(generateKey(), 'upload-id', 1)],
    ['abortMultipartDirectUpload', (s) => s.abortMultipartDirectUpload(generateKey(), 'upload-id')],
    ['listObjects', (s) => collect(s.listObjects({ prefix: 'a/' }))],
    ['listPendingWrites', (s) => collect(s.listPendingWrites())],
    ['discardPendingWrite', (s) => s.discardPendingWrite({ kind: 'multipart-upload', id: 'u', key: 'k', startedAt: new Date() })],
    ['verifyStored (SecureS3)', () => (makeService('SecureS3', 'down', s3Settings('b', { endpoint: refusedEndpoint, kms_key_id: 'k', ...BOUNDS })) as SecureS3Service).verifyStored(generateKey())],
  ];

  it.each(calls)('%s rejects with StorageAccessError (connection refused), never a raw error', async (_label, call) => {
    const error = await rejection(() => call(down()));
    expect(error).toBeInstanceOf(StorageAccessError);
    expect(error.cause).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('url, urlForDirectUpload and headersForDirectUpload sign locally: they work with the network down', async () => {
    const service = down();
    const checksum = md5Base64('x');
    expect(await service.url('k', { expiresIn: 60, disposition: 'inline', filename: 'f', contentType: 'text/plain' })).toMatch(/X-Amz-Signature=/);
    expect(await service.urlForDirectUpload('k', { expiresIn: 60, contentType: 'text/plain', contentLength: 1, checksum })).toMatch(/X-Amz-Signature=/);
    expect(service.headersForDirectUpload('k', { contentType: 'text/plain', checksum })).toMatchObject({ 'Content-MD5': checksum });
  });

  describe.skipIf(spawnSync('python3', ['-c', 'pass']).status !== 0)('a server whose accept queue is full (connect never completes)', () => {
    let listener: ChildProcess;
    let filler: Socket;
    let endpoint: string;
    beforeAll(async () => {
      // A listen(0) socket that never accepts: once one connection fills its queue, further SYNs are dropped.
      listener = spawn('python3', ['-c', 'import socket,time\ns=socket.socket();s.bind(("127.0.0.1",0));s.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(120)']);
      const port = await new Promise<number>((resolve) => listener.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))));
      filler = connect(port, '127.0.0.1');
      await new Promise((resolve) => filler.once('connect', resolve));
      endpoint = `http://127.0.0.1:${port}`;
    });
    afterAll(() => {
      filler?.destroy();
      listener?.kill();
    });

    it('exists and upload fail with StorageAccessError after http_open_timeout', async () => {
      const service = makeService('S3', 'unreachable', s3Settings('some-bucket', { endpoint, ...BOUNDS }));
      for (const call of [() => service.exists(generateKey()), () => service.upload(generateKey(), Buffer.from('x'))]) {
        const error = await rejection(call);
        expect(error).toBeInstanceOf(StorageAccessError);
        expect(String((error.cause as Error).message)).toMatch(/did not establish a connection/);
      }
    });
  });
});
