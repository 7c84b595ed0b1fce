import { runtimeOf, type Attache } from '../attache.ts';
import { runMigrate } from './migrate.ts';
import { runReencrypt } from './reencrypt.ts';
import type { MigrateOptions, MigrateReport, ReencryptOptions, ReencryptReport, VerifyOptions, VerifyReport } from './types.ts';
import { runVerify } from './verify.ts';

/** Same as `attache.verifyBlobs(options)`: checks every blob's object (size, encryption; MD5 with `deep`). Reads only. */
export function verifyBlobs(attache: Attache, options: VerifyOptions = {}): Promise<VerifyReport> {
  return runVerify(runtimeOf(attache), options);
}

/** Same as `attache.migrateBlobs(options)`: copies every blob of `from` to `to`, verified, then switches its row. */
export function migrateBlobs(attache: Attache, options: MigrateOptions): Promise<MigrateReport> {
  return runMigrate(runtimeOf(attache), options);
}

/** Same as `attache.reencryptBlobs(options)`: rewrites every object of a SecureS3 service under the target KMS key. */
export function reencryptBlobs(attache: Attache, options: ReencryptOptions): Promise<ReencryptReport> {
  return runReencrypt(runtimeOf(attache), options);
}
