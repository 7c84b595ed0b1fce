import type { EntitySubscriberInterface, QueryRunner, TransactionCommitEvent, TransactionRollbackEvent, TransactionStartEvent } from 'typeorm';

interface Pending {
  task: () => void;
  /** The (savepoint) depth the task was registered at: 1 is the outermost transaction. */
  depth: number;
}

/**
 * Runs tasks after the outermost commit of a query runner's transaction, and never when it rolls
 * back. A released savepoint is not a commit: its tasks move to the enclosing level, and a rolled
 * back savepoint drops the tasks registered inside it. Attache adds this subscriber to its
 * DataSource; the in-process queue and non-transactional queues defer their jobs through it.
 */
export class TransactionHooks implements EntitySubscriberInterface<object> {
  private readonly pending = new WeakMap<QueryRunner, Pending[]>();

  /** Runs `task` after `runner`'s outermost commit (now, when no transaction is active). `task` must not throw. */
  afterCommit(runner: QueryRunner, task: () => void): void {
    if (!runner.isTransactionActive) {
      task();
      return;
    }
    const tasks = this.pending.get(runner) ?? [];
    tasks.push({ task, depth: depthOf(runner) });
    this.pending.set(runner, tasks);
  }

  beforeTransactionStart(event: TransactionStartEvent): void {
    // A new outermost transaction: whatever an earlier one left (it ended without events, e.g. a raw ROLLBACK) never committed.
    if (!hasDepth(event.queryRunner)) this.pending.delete(event.queryRunner);
  }

  beforeTransactionCommit(event: TransactionCommitEvent): void {
    const tasks = this.pending.get(event.queryRunner);
    const depth = depthOf(event.queryRunner);
    if (!tasks || depth <= 1) return;
    for (const item of tasks) if (item.depth >= depth) item.depth = depth - 1;
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    if (event.queryRunner.isTransactionActive) return;
    const tasks = this.pending.get(event.queryRunner) ?? [];
    this.pending.delete(event.queryRunner);
    for (const { task } of tasks) task();
  }

  beforeTransactionRollback(event: TransactionRollbackEvent): void {
    const tasks = this.pending.get(event.queryRunner);
    if (!tasks) return;
    const depth = depthOf(event.queryRunner);
    const kept = tasks.filter((item) => item.depth < depth);
    if (depth <= 1 || kept.length === 0) this.pending.delete(event.queryRunner);
    else this.pending.set(event.queryRunner, kept);
  }
}

/** The query runner's transaction depth (1 = the outermost transaction; more inside savepoints). */
function depthOf(runner: QueryRunner): number {
  const depth = (runner as unknown as { transactionDepth?: unknown }).transactionDepth;
  return typeof depth === 'number' && depth > 0 ? depth : 1;
}

function hasDepth(runner: QueryRunner): boolean {
  const depth = (runner as unknown as { transactionDepth?: unknown }).transactionDepth;
  return typeof depth === 'number' && depth > 0;
}
