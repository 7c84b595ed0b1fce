import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Blob } from '../../src/index.ts';
import { DEFAULT_MAX_RANGE_BYTES, parseRange, type RangeRequest } from '../../src/http/range.ts';
import { openAttache, type AttacheFixture } from '../support/attache.ts';
import { User } from '../support/entities.ts';
import { serveBoth, watchReads, type Answer, type Both } from './harness.ts';

const SIZE = 64 * 1024;
const CAP = 1024;

describe('parseRange', () => {
  const partial = (start: number, end: number): RangeRequest => ({ kind: 'partial', start, end });
  const unsatisfiable: RangeRequest = { kind: 'unsatisfiable' };
  const none: RangeRequest = { kind: 'none' };

  it.each<[string | null, RangeRequest]>([
    [null, none],
    ['items=0-5', none],
    ['bytes=0-9', partial(0, 9)],
    ['bytes=10-10', partial(10, 10)],
    ['bytes=990-1999', partial(990, 999)], // last-pos past EOF is clamped
    ['bytes=0-99999999999999999999999', partial(0, 999)],
    ['bytes=-10', partial(990, 999)],
    ['bytes=-5000', partial(0, 999)], // a suffix longer than the file is the whole file
    ['bytes=995-', partial(995, 999)],
    ['BYTES = 1 - 2', partial(1, 2)],
    ['bytes=0-1,5-6', unsatisfiable],
    ['bytes=0-1, 0-1', unsatisfiable],
    ['bytes=9-5', unsatisfiable],
    ['bytes=1000-', unsatisfiable],
    ['bytes=1000-1005', unsatisfiable],
    ['bytes=-0', unsatisfiable],
    ['bytes=-', unsatisfiable],
    ['bytes=', unsatisfiable],
    ['bytes=a-b', unsatisfiable],
    ['bytes=0x10-20', unsatisfiable],
    ['bytes=1.5-2', unsatisfiable],
    ['bytes=-1-2', unsatisfiable],
  ])('%j on 1000 bytes → %j', (header, expected) => {
    expect(parseRange(header, 1000, 10_000)).toEqual(expected);
  });

  it.each<[string, RangeRequest]>([
    ['bytes=0-99', partial(0, 99)],
    ['bytes=0-100', unsatisfiable], // 101 bytes: over the cap
    ['bytes=-100', partial(900, 999)],
    ['bytes=-101', unsatisfiable],
    ['bytes=0-', partial(0, 99)], // open-ended: answered with at most the cap
    ['bytes=950-', partial(950, 999)],
  ])('caps %j at 100 bytes → %j', (header, expected) => {
    expect(parseRange(header, 1000, 100)).toEqual(expected);
  });

  it('every range of an empty file is unsatisfiable; the default cap is 16 MiB', () => {
    for (const header of ['bytes=0-', 'bytes=0-0', 'bytes=-1']) expect(parseRange(header, 0)).toEqual(unsatisfiable);
    expect(DEFAULT_MAX_RANGE_BYTES).toBe(16 * 1024 * 1024);
    expect(parseRange(`bytes=0-${16 * 1024 * 1024 - 1}`, 10 ** 9)).toEqual(partial(0, 16 * 1024 * 1024 - 1));
    expect(parseRange(`bytes=0-${16 * 1024 * 1024}`, 10 ** 9)).toEqual(unsatisfiable);
  });
});

describe('checklist 21: ranges over HTTP (Disk URL and proxy, cap 1 KiB, 64 KiB file)', () => {
  let f: AttacheFixture;
  let both: Both;
  let bytes: Buffer;
  let blob: Blob;
  let routes: Array<[string, string]>;

  beforeAll(async () => {
    f = await openAttache();
    both = await serveBoth(f.attache, { maxRangeBytes: CAP });
    bytes = randomBytes(SIZE);
    const users = f.db.dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'Ranger' }));
    await user.avatar.attach({ io: bytes, filename: 'data.bin' });
    blob = (await user.avatar.blob())!;
    routes = [
      ['disk', await blob.url()],
      ['proxy', blob.proxyUrl()],
    ];
  });
  afterAll(async () => {
    await both.node.close();
    await f.close();
  });

  const adapters = ['viaNode', 'viaFetch'] as const;
  const cases = (): Array<[string, string, (typeof adapters)[number]]> => routes.flatMap(([name, url]) => adapters.map((a) => [name, url, a] as [string, string, (typeof adapters)[number]]));

  /** Runs `request` for every route and adapter while watching what the service reads. */
  async function each(check: (answer: Answer, reads: ReturnType<typeof watchReads>) => void, header: Record<string, string>, options: { forbidAll?: boolean; method?: string } = {}): Promise<void> {
    for (const [, url, adapter] of cases()) {
      const reads = watchReads(f.attache.service('local'), { forbidWhole: true, forbidAll: options.forbidAll });
      try {
        check(await both[adapter](url, { headers: header, method: options.method }), reads);
      } finally {
        reads.restore();
      }
    }
  }

  it.each([
    ['multi-range', 'bytes=0-1,5-6'],
    ['over the cap', `bytes=0-${CAP}`],
    ['suffix over the cap', `bytes=-${CAP + 1}`],
    ['inverted', 'bytes=10-5'],
    ['past EOF', `bytes=${SIZE}-`],
    ['past EOF, closed', `bytes=${SIZE + 10}-${SIZE + 20}`],
    ['empty suffix', 'bytes=-0'],
    ['malformed', 'bytes=x-y'],
  ])('%s (%s) is 416 with Content-Range: bytes */size and reads nothing', async (_label, range) => {
    await each((answer, reads) => {
      expect(answer.status).toBe(416);
      expect(answer.headers.get('content-range')).toBe(`bytes */${SIZE}`);
      expect(answer.body.length).toBe(0);
      expect(reads.calls).toEqual([]);
    }, { range }, { forbidAll: true });
  });

  it('a range is 206 with exactly its bytes, read through downloadRange only', async () => {
    await each((answer, reads) => {
      expect(answer.status).toBe(206);
      expect(answer.headers.get('content-range')).toBe(`bytes 100-199/${SIZE}`);
      expect(answer.headers.get('content-length')).toBe('100');
      expect(answer.body.equals(bytes.subarray(100, 200))).toBe(true);
      expect(reads.calls).toEqual(['downloadRange 100-199']);
      expect(reads.bytes()).toBe(100);
    }, { range: 'bytes=100-199' });
  });

  it('a suffix range and a clamped range', async () => {
    await each((answer) => {
      expect(answer.status).toBe(206);
      expect(answer.body.equals(bytes.subarray(SIZE - 10))).toBe(true);
    }, { range: 'bytes=-10' });
    await each((answer) => {
      expect(answer.headers.get('content-range')).toBe(`bytes ${SIZE - 5}-${SIZE - 1}/${SIZE}`);
      expect(answer.body.equals(bytes.subarray(SIZE - 5))).toBe(true);
    }, { range: `bytes=${SIZE - 5}-${SIZE + 1000}` });
  });

  it('an open-ended range on a file larger than the cap is answered with the cap, not the file', async () => {
    await each((answer, reads) => {
      expect(answer.status).toBe(206);
      expect(answer.headers.get('content-range')).toBe(`bytes 0-${CAP - 1}/${SIZE}`);
      expect(answer.body.equals(bytes.subarray(0, CAP))).toBe(true);
      expect(reads.bytes()).toBe(CAP);
    }, { range: 'bytes=0-' });
  });

  it('HEAD with a range is 206 headers only and reads nothing', async () => {
    await each((answer, reads) => {
      expect(answer.status).toBe(206);
      expect(answer.headers.get('content-length')).toBe('10');
      expect(answer.body.length).toBe(0);
      expect(reads.calls).toEqual([]);
    }, { range: 'bytes=0-9' }, { method: 'HEAD', forbidAll: true });
  });

  it('another range unit is ignored (200, whole file); a stale If-Range gets the whole file', async () => {
    const whole = (answer: Answer): void => {
      expect(answer.status).toBe(200);
      expect(answer.body.equals(bytes)).toBe(true);
    };
    for (const [, url, adapter] of cases()) {
      whole(await both[adapter](url, { headers: { range: 'items=0-9' } }));
      whole(await both[adapter](url, { headers: { range: 'bytes=0-9', 'if-range': '"stale"' } }));
      const etag = (await both[adapter](url, { method: 'HEAD' })).headers.get('etag')!;
      const fresh = await both[adapter](url, { headers: { range: 'bytes=0-9', 'if-range': etag } });
      expect(fresh.status).toBe(206);
    }
  });
});
