import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArgumentError, Blob } from '../../src/index.ts';
import { openAttache, type AttacheFixture } from '../support/attache.ts';
import { User } from '../support/entities.ts';

let f: AttacheFixture;
beforeAll(async () => {
  f = await openAttache();
});
afterAll(() => f.close());

describe('purgeUnattached', () => {
  it('purges only old blobs that nothing is attached to, with their files', async () => {
    const users = f.db.dataSource.getRepository(User);
    const user = await users.save(users.create({ name: 'Keeper' }));
    const kept = await f.attache.createAndUpload({ io: Buffer.from('attached'), filename: 'kept.txt' });
    await user.avatar.attach(kept);
    const abandoned = [];
    for (let i = 0; i < 3; i++) abandoned.push(await f.attache.createAndUpload({ io: Buffer.from(`abandoned ${i}`), filename: 'x.txt' }));
    await f.db.dataSource.getRepository(Blob).update({ id: abandoned[0]!.id }, { createdAt: new Date(Date.now() - 3 * 86_400_000) });

    expect(await f.attache.purgeUnattached({ olderThan: 2 * 86_400 })).toBe(1);
    expect(await f.attache.service('local').exists(abandoned[0]!.key)).toBe(false);
    expect(await f.attache.purgeUnattached({ olderThan: 0, batchSize: 1 })).toBe(2);
    for (const blob of abandoned) expect(await f.db.dataSource.getRepository(Blob).findOneBy({ id: blob.id })).toBeNull();
    expect((await user.avatar.download()).toString()).toBe('attached');
  });

  it.each([[-1], [Number.NaN]])('refuses olderThan %s', async (olderThan) => {
    await expect(f.attache.purgeUnattached({ olderThan })).rejects.toBeInstanceOf(ArgumentError);
  });
});
