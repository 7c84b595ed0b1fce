import type { JobWorker } from './queue.ts';

export interface RunWorkerOptions {
  /** Jobs run at once in this process (default 1). */
  concurrency?: number;
  /** Signals that stop the worker (default SIGTERM and SIGINT). */
  signals?: readonly NodeJS.Signals[];
  /** Also stops the worker when aborted (for embedding and tests). */
  signal?: AbortSignal;
}

/**
 * The worker entry point (examples/worker.ts): takes jobs with `attache.work({ concurrency })`
 * until SIGTERM or SIGINT, then takes no new job, lets the running ones finish and be recorded,
 * and resolves. Only the first signal is caught: a second one ends the process at once (Node's
 * default), and its unfinished jobs run again elsewhere after their expiration.
 * Throws what `attache.work()` throws (ConfigurationError with the in-process queue).
 */
export async function runWorker(attache: { work(options: { concurrency?: number }): Promise<JobWorker> }, options: RunWorkerOptions = {}): Promise<void> {
  const worker = await attache.work({ concurrency: options.concurrency ?? 1 });
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  for (const name of signals) process.once(name, stop);
  options.signal?.addEventListener('abort', stop, { once: true });
  if (options.signal?.aborted) stop();
  try {
    await stopped;
  } finally {
    for (const name of signals) process.removeListener(name, stop);
    options.signal?.removeEventListener('abort', stop);
  }
  await worker.stop();
}
