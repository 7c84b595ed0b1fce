import { performance } from 'node:perf_hooks';
import { AttacheError } from '../core/errors.ts';
import type { AttacheEvents } from '../core/events.ts';
import { dispatch, parseJob, type JobContext } from './dispatch.ts';
import type { JobStarted } from './events.ts';
import type { JobAttempt } from './queue.ts';

/**
 * Invariant: every job attempt, from any queue or a direct `attache.perform`, runs here, so
 * `job:started` is followed by exactly one of `job:completed` or `job:failed`. Throws the job's
 * failure as an AttacheError (a value that is not a job: ArgumentError, without events).
 */
export async function runJob(events: AttacheEvents, context: JobContext, value: unknown, attempt: JobAttempt): Promise<void> {
  const job = parseJob(value);
  const started: JobStarted = { job, attempt: attempt.attempt, ...(attempt.id !== undefined && { id: attempt.id }) };
  events.emit('job:started', started);
  const start = performance.now();
  try {
    await dispatch(context, job);
  } catch (cause) {
    const error = cause instanceof AttacheError ? cause : new AttacheError(`The ${job.type} job failed.`, { cause });
    const failed = { ...started, durationMs: performance.now() - start, error, ...(attempt.willRetry !== undefined && { willRetry: attempt.willRetry }) };
    if (events.listenerCount('job:failed') > 0) events.emit('job:failed', failed);
    else console.warn(`[attache] ${job.type} job failed (attempt ${attempt.attempt}): ${error.message}`);
    throw error;
  }
  events.emit('job:completed', { ...started, durationMs: performance.now() - start });
}
