import { createActiveStorageTablesMigration } from '../src/migrations/active-storage-schema.ts';

/**
 * Creates Rails 7.1's ActiveStorage tables (bigint record ids). Idempotent: where a Rails app
 * already made them it changes nothing. For uuid or string record ids, write your own file with
 * `createActiveStorageTablesMigration({ recordIdType: 'uuid' })` instead of this one.
 */
export class CreateActiveStorageTables1700000000000 extends createActiveStorageTablesMigration() {
  // TypeORM records this name in its migrations table; spelled out so a bundler or minifier that
  // renames the class cannot make an applied migration look new.
  override readonly name = 'CreateActiveStorageTables1700000000000';
}
