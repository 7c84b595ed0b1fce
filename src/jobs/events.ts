import type { AttacheError } from '../core/errors.ts';
import type { AttacheJob, JobAttempt } from './queue.ts';

/** A job attempt began (`job:started`). */
export interface JobStarted {
  job: AttacheJob;
  /** The queue's id of the job, when it has one. */
  id?: string;
  /** 1 for the first run, 2 for the first retry, … */
  attempt: number;
}

/** A job attempt succeeded (`job:completed`). */
export interface JobCompleted extends JobStarted {
  durationMs: number;
}

/** A job attempt failed (`job:failed`). */
export interface JobFailed extends JobCompleted {
  error: AttacheError;
  /** Whether the queue runs the job again; false: out of retries (pg-boss: now a dead letter); undefined when the queue does not say. */
  willRetry?: boolean;
}

// The job layer's events join the one event map (core cannot import jobs, so they are added from here).
declare module '../core/events.ts' {
  interface AttacheEventMap {
    /** A job attempt began, in this process. */
    'job:started': [JobStarted];
    /** A job attempt succeeded. */
    'job:completed': [JobCompleted];
    /** A job attempt failed; when nobody listens, a one-line warning goes to stderr. */
    'job:failed': [JobFailed];
  }
}

/** The attempt a job runs as when nobody says otherwise (a direct `attache.perform(job)`). */
export const FIRST_ATTEMPT: JobAttempt = { attempt: 1 };
