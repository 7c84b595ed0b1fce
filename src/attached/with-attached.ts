import { findAttachmentsOfMany } from '../records/attachment-store.ts';
import { database } from '../records/database.ts';
import { recordRef } from '../records/record-ref.ts';
import type { AttacheRuntime } from '../records/runtime.ts';
import { accessorOf } from './decorators.ts';
import { definitionOf, definitionsOf } from './definitions.ts';

/** Options of `withAttached`, given after the names. */
export interface WithAttachedOptions {
  /** Also load the attached blobs' stored variants and previews (three more queries, whatever the number of records). */
  variants?: boolean;
}

/**
 * Loads the named attachments (default: all) of many records of one entity in one query;
 * afterwards their accessors answer without querying. Returns the records. Throws PersistenceError.
 */
export async function withAttached<T extends object>(rt: AttacheRuntime, records: readonly T[], args: ReadonlyArray<string | WithAttachedOptions>): Promise<readonly T[]> {
  const first = records[0];
  if (!first) return records;
  const names = args.filter((arg): arg is string => typeof arg === 'string');
  const options = args.find((arg): arg is WithAttachedOptions => typeof arg === 'object' && arg !== null) ?? {};
  const definitions = names.length > 0 ? names.map((n) => definitionOf(first.constructor, n)) : [...definitionsOf(first.constructor).values()];
  const refs = records.map((record) => ({ record, ref: recordRef(rt.dataSource, record) }));
  const ids = refs.flatMap(({ ref }) => (ref ? [ref.id] : []));
  const type = rt.dataSource.getMetadata(first.constructor).name;
  const rows = await database(`load the attachments of ${ids.length} ${type} records`, () =>
    findAttachmentsOfMany(rt.dataSource.manager, type, ids, definitions.map((d) => d.name)),
  );
  for (const { record, ref } of refs) {
    if (!ref) continue;
    for (const definition of definitions) {
      accessorOf(record, definition).preload(rows.filter((row) => row.recordId === ref.id && row.name === definition.name));
    }
  }
  if (options.variants) await rt.representations.preload(rows.flatMap((row) => (row.blob ? [row.blob] : [])));
  return records;
}
