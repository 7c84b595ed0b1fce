import type { PgBossQueueOptions } from '../../../src/jobs/pg-boss/index.ts';

/** Fast settings for tests: short expirations and polls, quick retries without backoff. */
export const FAST_BOSS: PgBossQueueOptions = { retryLimit: 2, retryDelay: 1, retryBackoff: false, expireInSeconds: 3, pollingIntervalSeconds: 0.5, maintenanceIntervalSeconds: 1 };

/** The roots of the Disk services of a test (the test process and its worker processes share them). */
export interface TestRoots {
  local: string;
  archive: string;
  /** The `broken` service: a Disk whose deletes always fail. */
  broken: string;
}

/** The services every test process and worker process uses; `localSettings` go to the `local` TestDisk. */
export function testServices(roots: TestRoots, localSettings: Record<string, unknown> = {}): Record<string, Record<string, unknown>> {
  return {
    local: { service: 'TestDisk', root: roots.local, ...localSettings },
    archive: { service: 'Disk', root: roots.archive },
    mirrored: { service: 'Mirror', primary: 'local', mirrors: ['archive'] },
    broken: { service: 'TestDisk', root: roots.broken, fail_deletes: true },
  };
}
