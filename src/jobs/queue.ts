import type { QueryRunner } from 'typeorm';

/** Purge a blob (row and object) unless something is attached to it again: purge_later. */
export interface PurgeJob {
  type: 'purge';
  blobId: string;
}

/** Extract a blob's metadata (width, height, duration, …) after its attach committed. */
export interface AnalyzeJob {
  type: 'analyze';
  blobId: string;
}

/** Generate and store one variant of a blob (`preprocessed: true` variants, after attach). */
export interface PreprocessJob {
  type: 'preprocess';
  blobId: string;
  /** The variation, as its signed/encoded key (see the representations module). */
  variation: string;
}

/** Copy a blob to the mirrors of its Mirror service (Rails' MirrorJob, after a direct upload). */
export interface MirrorJob {
  type: 'mirror';
  blobId: string;
}

/** Delete every object under a prefix of a service (Rails' purge of legacy variant folders). */
export interface DeletePrefixedJob {
  type: 'delete_prefixed';
  service: string;
  /** A folder: non-empty and ending in `/`, taken literally. */
  prefix: string;
}

/** Every unit of background work attache asks for: a closed union, dispatched by `attache.perform(job)`. */
export type AttacheJob = PurgeJob | AnalyzeJob | PreprocessJob | MirrorJob | DeletePrefixedJob;

export interface EnqueueOptions {
  /**
   * The query runner of the transaction this job follows. A transactional queue writes the job in
   * that transaction, so the job exists if and only if the transaction commits (savepoints: only
   * the outermost commit counts).
   */
  transaction?: QueryRunner;
}

/** One attempt of a job, as the queue that hands it over knows it. */
export interface JobAttempt {
  /** The queue's id of the job, when it has one. */
  id?: string;
  /** 1 for the first run, 2 for the first retry, … */
  attempt: number;
  /** Whether the queue runs the job again if this attempt fails; undefined when the queue does not say. */
  willRetry?: boolean;
}

/** Runs one job a queue handed over (validates it first); rejects when the job failed. */
export type JobHandler = (job: unknown, attempt: JobAttempt) => Promise<void>;

export interface WorkOptions {
  /** How many jobs run at once in this process (an integer ≥ 1). */
  concurrency: number;
}

/** A running worker (`attache.work()`). */
export interface JobWorker {
  /** How many jobs are running now. */
  readonly running: number;
  /** Stops taking jobs, waits for the running ones to finish and be recorded. Idempotent. */
  stop(): Promise<void>;
}

/** What attache gives a queue when it starts it. */
export interface QueueContext {
  /** Reports work the queue could not do in the background (a `background:failed` event). Never throws. */
  report(action: string, error: unknown): void;
}

/**
 * Where attache sends background work. A queue implements `enqueue`; a shared queue (pg-boss from
 * `attache/pg-boss`, or your own) also implements `work`, so `attache.work()` takes jobs from it
 * on any machine. A queue library without these can still be used: enqueue there and call
 * `attache.perform(job)` in its worker.
 */
export interface JobQueue {
  /**
   * True when `enqueue` honours `options.transaction` (writes the job in that transaction). A queue
   * without it is handed the job only after the outermost commit: at most once, since a crash
   * between the commit and the hand-over loses it (the sweeper reclaims a lost purge's blob).
   */
  readonly transactional?: boolean;
  /** Adds a job. Throws an AttacheError when it could not (inside a transaction, that rolls it back). */
  enqueue(job: AttacheJob, options?: EnqueueOptions): void | Promise<void>;
  /** Optional: prepares the queue; `Attache.init` awaits it. */
  start?(context: QueueContext): Promise<void>;
  /** Optional (shared queues): takes jobs and runs each with `handler` until stopped. */
  work?(handler: JobHandler, options: WorkOptions): Promise<JobWorker>;
  /** Optional: resolves when the jobs this process runs itself have finished (`attache.drain()`). */
  drain?(): Promise<void>;
  /** Optional: releases connections; `attache.close()` awaits it. */
  close?(): Promise<void>;
}
