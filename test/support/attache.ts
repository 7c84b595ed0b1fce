import { Attache } from '../../src/index.ts';
import type { RecordIdType } from '../../src/migrations/active-storage-schema.ts';
import { openTestDataSource, type TestDataSource } from './db.ts';
import { projectsTable, Project, User, usersTable } from './entities.ts';
import { removeDir, tempRoot } from './storage.ts';

/** The secret every test Attache signs with. */
export const TEST_SECRET = 'attache-test-secret-0123456789abcdef';

export interface AttacheFixture {
  attache: Attache;
  db: TestDataSource;
  local: string;
  archive: string;
  close(): Promise<void>;
}

/** A schema with users/projects, two Disk services (`local` default, `archive`) and an Attache. */
export async function openAttache(options: { recordIdType?: RecordIdType } = {}): Promise<AttacheFixture> {
  const db = await openTestDataSource({ entities: [User, Project], sql: [usersTable, projectsTable], recordIdType: options.recordIdType ?? 'bigint' });
  const local = await tempRoot('local');
  const archive = await tempRoot('archive');
  const attache = await Attache.init({
    dataSource: db.dataSource,
    services: { local: { service: 'Disk', root: local }, archive: { service: 'Disk', root: archive } },
    service: 'local',
    secret: TEST_SECRET,
  });
  return {
    attache,
    db,
    local,
    archive,
    async close() {
      await attache.close();
      await db.close();
      await removeDir(local);
      await removeDir(archive);
    },
  };
}
