import { AttacheError } from '../core/errors.ts';
import type { Runtime } from '../runtime.ts';
import type { ReencryptOptions, ReencryptReport } from './types.ts';

/** Placeholder until the implementation lands (same signature). */
export async function runReencrypt(_rt: Runtime, _options: ReencryptOptions): Promise<ReencryptReport> {
  throw new AttacheError('reencryptBlobs is not implemented yet.');
}
