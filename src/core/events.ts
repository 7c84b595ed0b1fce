import { EventEmitter } from 'node:events';
import type { AttacheError, ProcessingError, ProcessingFailure } from './errors.ts';
import type { OperationCompleted, OperationFailed, OperationProgress } from '../operations/types.ts';

/** Work attache could not finish in the background; the sweeper reclaims what it left. */
export interface BackgroundFailure {
  /** What was being done, e.g. "remove the objects of a failed attach". */
  action: string;
  error: AttacheError;
}

/** A blob marked analyzed with nothing extracted: its analyzer's tool is missing, or the file cannot be read. */
export interface AnalysisSkipped {
  blobId: string;
  /** The analyzer that accepted the blob (`image`, `video`, `audio`, `pdf`, or yours). */
  analyzer: string;
  reason: ProcessingFailure;
  error: ProcessingError;
}

/** A preprocessed variant that could not be made after attach (the file cannot be processed). */
export interface PreprocessFailed {
  blobId: string;
  reason: ProcessingFailure;
  error: ProcessingError;
}

/**
 * The events an Attache emits (`attache.on(name, listener)`). The job layer adds `job:started`,
 * `job:completed` and `job:failed` (src/jobs/events.ts).
 */
export interface AttacheEventMap {
  /** Cleanup after a failure, or work after a commit (purging a replaced blob), did not complete. */
  'background:failed': [BackgroundFailure];
  /** A blob was analyzed without result (see AnalysisSkipped); it is marked analyzed all the same. */
  'analysis:skipped': [AnalysisSkipped];
  /** A preprocessed variant could not be made (see PreprocessFailed); it is not retried. */
  'preprocess:failed': [PreprocessFailed];

  // ---- Operations (attache.verifyBlobs / migrateBlobs / reencryptBlobs) ----
  /** An operation handled one more blob (see OperationProgress). */
  'operation:progress': [OperationProgress];
  /** An operation found a problem with a blob, or could not handle it (it goes on with the next). */
  'operation:failed': [OperationFailed];
  /** An operation ran to its end (not emitted when it throws or is aborted). */
  'operation:completed': [OperationCompleted];
}

export type AttacheEventName = keyof AttacheEventMap;

/** Attache's event hub: typed names and payloads; a throwing listener never breaks attache's own work. */
export class AttacheEvents extends EventEmitter<AttacheEventMap> {
  override emit<K extends AttacheEventName>(name: K, ...payload: AttacheEventMap[K]): boolean {
    try {
      return super.emit(name, ...(payload as never));
    } catch {
      return true;
    }
  }
}
