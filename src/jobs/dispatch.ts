import { ArgumentError } from '../core/errors.ts';
import type { StorageService } from '../services/Service.ts';
import type { AnalyzeJob, AttacheJob, PreprocessJob } from './queue.ts';

/** What job handlers need from an initialized Attache (implemented there; the jobs layer never imports records). */
export interface JobContext {
  /** Purges a blob unless something is attached to it; a blob already gone is a no-op. */
  purgeBlob(blobId: string): Promise<void>;
  /** Copies a blob from its Mirror service's primary to each mirror lacking it, verified; else a no-op. */
  mirrorBlob(blobId: string): Promise<void>;
  /** Analyzes a blob (width, height, duration, …) unless it is analyzed already; a blob gone is a no-op. */
  analyzeBlob(job: AnalyzeJob): Promise<void>;
  /** Makes one preprocessed variant of a blob unless it exists; a forged variation is refused. */
  preprocessBlob(job: PreprocessJob): Promise<void>;
  /** The named service. Throws ConfigurationError. */
  service(name: string): StorageService;
}

type Handlers = { [T in AttacheJob['type']]: (job: Extract<AttacheJob, { type: T }>, context: JobContext) => Promise<void> };

/**
 * Invariant: every job attache runs goes through this one table, keyed by the job's type. Each
 * handler is idempotent and safe to run twice at once, on two machines: a job may be retried
 * after a crash, or run again while an expired attempt is still going.
 */
const handlers: Handlers = {
  purge: (job, context) => context.purgeBlob(job.blobId),
  mirror: (job, context) => context.mirrorBlob(job.blobId),
  delete_prefixed: (job, context) => context.service(job.service).deletePrefixed(job.prefix),
  analyze: (job, context) => context.analyzeBlob(job),
  preprocess: (job, context) => context.preprocessBlob(job),
};

/** Runs one job. Throws ArgumentError for a value that is not an AttacheJob, else what its handler throws. */
export async function dispatch(context: JobContext, value: unknown): Promise<void> {
  const job = parseJob(value);
  await (handlers[job.type] as (job: AttacheJob, context: JobContext) => Promise<void>)(job, context);
}

/**
 * The job a queue handed over, checked field by field (a queue's payload is data from the
 * database or a broker, not a trusted object). Throws ArgumentError naming the first bad field.
 */
export function parseJob(value: unknown): AttacheJob {
  if (!value || typeof value !== 'object') throw new ArgumentError('A job must be an object with a `type`.');
  const fields = value as Record<string, unknown>;
  const { type } = fields;
  switch (type) {
    case 'purge':
    case 'analyze':
    case 'mirror':
      return { type, blobId: blobIdOf(fields) };
    case 'preprocess':
      return { type, blobId: blobIdOf(fields), variation: text(fields, 'variation') };
    case 'delete_prefixed':
      return { type, service: text(fields, 'service'), prefix: folderOf(fields) };
    default:
      throw new ArgumentError(`Unknown job type. Known: ${Object.keys(handlers).join(', ')}.`);
  }
}

/** A job's identity: the same job always gets the same key (pg-boss's singleton key). */
export function jobKey(job: AttacheJob): string {
  switch (job.type) {
    case 'preprocess':
      return `preprocess:${job.blobId}:${job.variation}`;
    case 'delete_prefixed':
      return `delete_prefixed:${job.service}:${job.prefix}`;
    default:
      return `${job.type}:${job.blobId}`;
  }
}

function blobIdOf(fields: Record<string, unknown>): string {
  const id = fields.blobId;
  if ((typeof id === 'string' && /^[1-9][0-9]{0,18}$/.test(id)) || (typeof id === 'number' && Number.isSafeInteger(id) && id > 0)) return String(id);
  throw new ArgumentError('A job\'s `blobId` must be a blob id (a positive integer).');
}

function text(fields: Record<string, unknown>, name: string): string {
  const value = fields[name];
  if (typeof value !== 'string' || value === '') throw new ArgumentError(`A job's \`${name}\` must be a non-empty string.`);
  return value;
}

/** A delete_prefixed prefix is a folder: never empty (that would be the whole service) and ending in `/`. */
function folderOf(fields: Record<string, unknown>): string {
  const prefix = text(fields, 'prefix');
  if (!prefix.endsWith('/') || prefix === '/') throw new ArgumentError('A delete_prefixed job\'s `prefix` must be a folder such as `variants/<key>/`.');
  return prefix;
}
