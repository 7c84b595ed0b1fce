import { setTimeout as sleep } from 'node:timers/promises';
import { ProcessingError } from '../core/errors.ts';
import { database } from '../records/database.ts';
import type { AttacheRuntime } from '../records/runtime.ts';

/** How generation is bounded in one process. */
export interface GenerationLimits {
  /** Images made at once in this process (each holds two pool connections while it runs). */
  concurrency: number;
  /** Seconds to wait for another process making the same image before giving up. */
  wait: number;
}

/**
 * Makes each image once. Invariant: every variant and preview is generated through `once`:
 * - in this process, concurrent requests for one key share one promise;
 * - across processes, the maker holds the transaction-scoped advisory lock `key` (released by
 *   its COMMIT, its ROLLBACK, or its connection dying with it), and the others poll without
 *   holding a connection until the image is found or the lock is theirs;
 * - the store itself is upload-then-rows with the unique index as the last word (see image-store.ts),
 *   so a lock lost early (a server's idle_in_transaction_session_timeout) costs duplicate work only.
 */
export class GenerateOnce {
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly queue: Array<() => void> = [];
  private active = 0;

  constructor(private readonly rt: AttacheRuntime, private readonly limits: GenerationLimits) {}

  /** `find()`'s result, else `make()`'s, made at most once at a time for `key` anywhere. Throws what make throws, or ProcessingError (timeout). */
  once<T>(key: string, find: () => Promise<T | null>, make: () => Promise<T>): Promise<T> {
    const running = this.running.get(key) as Promise<T> | undefined;
    if (running) return running;
    const started = this.acrossProcesses(key, find, make).finally(() => this.running.delete(key));
    this.running.set(key, started);
    return started;
  }

  private async acrossProcesses<T>(key: string, find: () => Promise<T | null>, make: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.limits.wait * 1000;
    for (let attempt = 0; ; attempt++) {
      const found = await find();
      if (found !== null) return found;
      // A slot is held only while this process tries the lock and, holding it, makes the image.
      const outcome = await this.slot(() => this.underLock(key, async () => (await find()) ?? (await make())));
      if (outcome.locked) return outcome.value;
      if (Date.now() > deadline) throw new ProcessingError('timeout', `Another process has been making this image for more than ${this.limits.wait} s.`);
      await sleep(Math.min(1000, 25 * 2 ** attempt) * (0.5 + Math.random()));
    }
  }

  /** Runs `work` holding the advisory lock, or returns `{ locked: false }` at once when another session holds it. */
  private async underLock<T>(key: string, work: () => Promise<T>): Promise<{ locked: true; value: T } | { locked: false }> {
    const runner = this.rt.dataSource.createQueryRunner();
    try {
      const locked = await database('lock an image being made', async () => {
        await runner.connect();
        await runner.startTransaction();
        const [row] = (await runner.query('SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked', [key])) as Array<{ locked?: boolean }>;
        return row?.locked === true;
      });
      return locked ? { locked: true, value: await work() } : { locked: false };
    } finally {
      // Ending the transaction releases the lock; a dead connection released it on the server already.
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      await runner.release().catch(() => undefined);
    }
  }

  /** At most `concurrency` makers at once in this process; the rest wait their turn. */
  private async slot<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limits.concurrency) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}
