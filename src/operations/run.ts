import { ArgumentError, OperationAbortedError } from '../core/errors.ts';
import type { Blob } from '../records/Blob.ts';
import type { Runtime } from '../runtime.ts';
import { nextBatch, remaining, type BlobScope } from './blob-rows.ts';
import { Checkpoint, type RunState } from './checkpoint.ts';
import type { BlobProblem, OperationOptions, OperationProgress } from './types.ts';

export type OperationName = OperationProgress['operation'];

/** What a handler reports about the blob it handles. */
export interface BlobContext {
  /** Records a problem with this blob (the run goes on). */
  problem(problem: Omit<BlobProblem, 'blobId' | 'key' | 'service'> & { service?: string }): void;
  /** Adds to one of the operation's counters. */
  count(name: string): void;
}

/** What batch-level work (migrate's source deletions) reports. */
export interface BatchContext {
  count(name: string, by: number): void;
  problem(problem: BlobProblem): void;
}

export interface RunSpec {
  operation: OperationName;
  /** The blob rows walked, in id order. */
  scope: BlobScope;
  /** What else tells this run's checkpoint from another's (options that change what is done). */
  checkpointScope: Record<string, unknown>;
  options: OperationOptions;
  /** A fixed list instead of walking the scope (verify's sample); no checkpoint then. */
  fixed?: () => Promise<Blob[]>;
  /**
   * Handles one blob: per-blob problems go to `context.problem`; anything it throws (a database or
   * configuration failure) stops the run after the blobs in flight, with the checkpoint kept.
   */
  handle(blob: Blob, context: BlobContext): Promise<void>;
  /** After each finished batch, before the checkpoint moves past it. */
  afterBatch?(context: BatchContext): Promise<void>;
}

export interface RunResult {
  state: RunState;
  resumedFrom?: string;
}

const DEFAULT_CONCURRENCY = 4;
const DEFAULT_BATCH = 100;

/**
 * Runs an operation over blobs in bounded batches: keyset pagination on id, at most `concurrency`
 * blobs at once, the checkpoint saved after each batch and removed at the end. Resumes from the
 * checkpoint when one is there. Throws OperationAbortedError (signal), PersistenceError, ConfigurationError.
 */
export async function runOperation(rt: Runtime, spec: RunSpec): Promise<RunResult> {
  const { options } = spec;
  const concurrency = positive(options.concurrency ?? DEFAULT_CONCURRENCY, 'concurrency');
  const batchSize = positive(options.batchSize ?? DEFAULT_BATCH, 'batchSize');
  const checkpoint = await Checkpoint.for(spec.fixed ? false : options.checkpoint, spec.operation, { ...spec.scope, ...spec.checkpointScope }, rt.dataSource);
  const saved = await checkpoint.load();
  const state: RunState = saved?.state ?? { done: 0, bytes: 0, failed: 0, failures: [], counts: {} };
  let lastId = saved?.lastId ?? '0';
  const fixed = spec.fixed ? await spec.fixed() : undefined;
  const left = fixed ? { count: fixed.length, bytes: fixed.reduce((sum, b) => sum + Math.max(b.byteSize, 0), 0) } : await remaining(rt.dataSource, spec.scope, lastId);
  const progress = new Progress(rt, spec, state, { total: state.done + left.count, totalBytes: state.bytes + left.bytes });
  for (;;) {
    aborted(options.signal);
    const batch = fixed ?? (await nextBatch(rt.dataSource, spec.scope, lastId, batchSize));
    await eachLimited(batch, concurrency, options.signal, (blob) => handleOne(spec, blob, state, progress));
    await spec.afterBatch?.(batchContext(state, progress));
    if (fixed || batch.length < batchSize) break;
    lastId = batch.at(-1)!.id;
    await checkpoint.save(lastId, state);
  }
  await checkpoint.remove();
  return { state, ...(saved && { resumedFrom: saved.lastId }) };
}

async function handleOne(spec: RunSpec, blob: Blob, state: RunState, progress: Progress): Promise<void> {
  let failed = false;
  await spec.handle(blob, {
    problem: (p) => {
      const problem: BlobProblem = { blobId: blob.id, key: blob.key, service: p.service ?? blob.serviceName, problem: p.problem, detail: p.detail };
      state.failures.push(problem);
      if (!failed) state.failed += 1;
      failed = true;
      progress.failed(problem);
    },
    count: (name) => void (state.counts[name] = (state.counts[name] ?? 0) + 1),
  });
  state.done += 1;
  state.bytes += Math.max(blob.byteSize, 0);
  progress.advance();
}

/** Emits `operation:completed` for a finished run's report and returns the report. */
export function completed<R extends { ok: boolean; failures: readonly BlobProblem[] }>(rt: Runtime, operation: OperationName, done: number, report: R): R {
  rt.events.emit('operation:completed', { operation, ok: report.ok, done, failed: new Set(report.failures.map((f) => f.blobId || f.key)).size });
  return report;
}

function batchContext(state: RunState, progress: Progress): BatchContext {
  return {
    count: (name, by) => void (state.counts[name] = (state.counts[name] ?? 0) + by),
    problem: (problem) => {
      state.failures.push(problem);
      progress.failed(problem);
    },
  };
}

/** Reports progress to the caller and as events; a throwing onProgress never stops the run. */
class Progress {
  constructor(private readonly rt: Runtime, private readonly spec: RunSpec, private readonly state: RunState, private readonly totals: { total: number; totalBytes: number }) {}

  advance(): void {
    const { done, bytes, failed } = this.state;
    const progress: OperationProgress = { operation: this.spec.operation, done, total: Math.max(this.totals.total, done), bytes, totalBytes: Math.max(this.totals.totalBytes, bytes), failed };
    try {
      this.spec.options.onProgress?.(progress);
    } catch {
      // the caller's display failing is not the operation failing
    }
    this.rt.events.emit('operation:progress', progress);
  }

  failed(problem: BlobProblem): void {
    this.rt.events.emit('operation:failed', { operation: this.spec.operation, problem });
  }
}

/** Runs `fn` over the items with at most `limit` at once. Stops taking new items on abort or on the first error, waits for those in flight, then throws. */
async function eachLimited<T>(items: readonly T[], limit: number, signal: AbortSignal | undefined, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && !signal?.aborted && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
  aborted(signal);
}

function aborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new OperationAbortedError('The operation was aborted; rerun it to resume after the last finished batch.', { cause: signal.reason });
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new ArgumentError(`"${name}" must be a positive integer.`);
  return value;
}
