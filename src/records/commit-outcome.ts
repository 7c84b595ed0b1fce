import type { DataSource, EntityManager } from 'typeorm';
import { lockKey } from './record-ref.ts';

export type CommitOutcome = 'committed' | 'absent' | 'unknown';

/** How long to wait for the unanswered transaction to end, per attempt. */
const LOCK_WAIT_MS = 20_000;
const ATTEMPTS = 3;

/**
 * Whether a transaction whose COMMIT got no answer was committed. Such a transaction holds the
 * advisory lock `key` until it ends, on the server, whether or not its client is still there; so
 * on a fresh connection this waits for that lock (the transaction has then committed or rolled
 * back) and runs `probe`, which looks for the transaction's rows. Returns 'unknown' when the
 * database cannot be asked: then nothing may be deleted.
 */
export async function commitOutcome(dataSource: DataSource, key: string, probe: (manager: EntityManager) => Promise<boolean>): Promise<CommitOutcome> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const runner = dataSource.createQueryRunner();
    try {
      await runner.connect();
      await runner.startTransaction();
      await runner.query(`SET LOCAL lock_timeout = '${LOCK_WAIT_MS}ms'`);
      await lockKey(runner.manager, key);
      const found = await probe(runner.manager);
      await runner.commitTransaction();
      return found ? 'committed' : 'absent';
    } catch {
      await runner.query('ROLLBACK').catch(() => undefined);
      if (attempt < ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    } finally {
      await runner.release().catch(() => undefined);
    }
  }
  return 'unknown';
}
