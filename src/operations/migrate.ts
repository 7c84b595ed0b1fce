import { AttacheError } from '../core/errors.ts';
import type { Runtime } from '../runtime.ts';
import type { MigrateOptions, MigrateReport } from './types.ts';

/** Placeholder until the implementation lands (same signature). */
export async function runMigrate(_rt: Runtime, _options: MigrateOptions): Promise<MigrateReport> {
  throw new AttacheError('migrateBlobs is not implemented yet.');
}
