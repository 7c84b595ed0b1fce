import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Attache, type RailsOptions } from '../../../src/index.ts';
import { RailsVerifier } from '../../../src/signing/rails/RailsVerifier.ts';
import { openTestDataSource, type TestDataSource } from '../../support/db.ts';
import { TEST_SECRET } from '../../support/attache.ts';
import { Project, projectsTable, User, usersTable } from '../../support/entities.ts';
import { removeDir, tempRoot } from '../../support/storage.ts';

export const RAILS_SECRET = `rails-wire-test-${'0123456789abcdef'.repeat(7)}`;
export const PREFIX = '/rails/active_storage';

export interface RailsFixture {
  attache: Attache;
  db: TestDataSource;
  /** What the Rails app signs with (the same secret and format as attache's Rails mode). */
  rails: RailsVerifier;
  local: string;
  archive: string;
  close(): Promise<void>;
}

/**
 * An Attache in Rails mode on a fresh schema (users, projects): Disk services `local` (default)
 * and `archive`, plus `services` (e.g. S3). `rails` overrides the Rails options.
 */
export async function openRailsAttache(options: { rails?: Partial<RailsOptions>; services?: Record<string, Record<string, unknown>>; service?: string } = {}): Promise<RailsFixture> {
  const db = await openTestDataSource({ entities: [User, Project], sql: [usersTable, projectsTable] });
  const local = await tempRoot('rails-local');
  const archive = await tempRoot('rails-archive');
  const railsOptions: RailsOptions = { secretKeyBase: RAILS_SECRET, messageFormat: '6.1', ...options.rails };
  const attache = await Attache.init({
    dataSource: db.dataSource,
    services: { local: { service: 'Disk', root: local }, archive: { service: 'Disk', root: archive }, ...options.services },
    service: options.service ?? 'local',
    secret: TEST_SECRET,
    rails: railsOptions,
  });
  return {
    attache,
    db,
    rails: new RailsVerifier({ secretKeyBase: railsOptions.secretKeyBase, messageFormat: railsOptions.messageFormat }),
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

/** A blob row as a Rails app writes it (no attache metadata), and its bytes in Rails' Disk layout under `root`. */
export async function railsBlob(f: RailsFixture, bytes: Buffer, row: { key: string; filename: string; contentType: string; service?: string; id?: number }): Promise<string> {
  const service = row.service ?? 'local';
  const root = service === 'archive' ? f.archive : f.local;
  await mkdir(join(root, row.key.slice(0, 2), row.key.slice(2, 4)), { recursive: true });
  await writeFile(join(root, row.key.slice(0, 2), row.key.slice(2, 4), row.key), bytes);
  const [inserted] = (await f.db.dataSource.query(
    `INSERT INTO active_storage_blobs (${row.id ? 'id, ' : ''}key, filename, content_type, metadata, service_name, byte_size, checksum, created_at)
     VALUES (${row.id ? `${row.id}, ` : ''}$1, $2, $3, '{}', $4, $5, $6, now()) RETURNING id`,
    [row.key, row.filename, row.contentType, service, bytes.length, createHash('md5').update(bytes).digest('base64')],
  )) as Array<{ id: string }>;
  return inserted!.id;
}
