import { EventEmitter } from 'node:events';
import type { AttacheError } from './errors.ts';

/** Work attache could not finish in the background; the sweeper reclaims what it left. */
export interface BackgroundFailure {
  /** What was being done, e.g. "remove the objects of a failed attach". */
  action: string;
  error: AttacheError;
}

/**
 * The events an Attache emits (`attache.on(name, listener)`). The job layer adds `job:started`,
 * `job:completed` and `job:failed` (src/jobs/events.ts).
 */
export interface AttacheEventMap {
  /** Cleanup after a failure, or work after a commit (purging a replaced blob), did not complete. */
  'background:failed': [BackgroundFailure];
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
