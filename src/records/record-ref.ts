import type { DataSource } from 'typeorm';
import { ArgumentError } from '../core/errors.ts';

/** How an attachment row points at a record: Rails' polymorphic (record_type, record_id). */
export interface RecordRef {
  type: string;
  id: string;
}

/** The record's reference, or null while it has no primary key (unsaved). Composite keys are refused. */
export function recordRef(dataSource: DataSource, record: object): RecordRef | null {
  const metadata = dataSource.getMetadata(record.constructor);
  const [primary, ...others] = metadata.primaryColumns;
  if (!primary || others.length > 0) {
    throw new ArgumentError(`${metadata.name} needs exactly one primary key column to have attachments.`);
  }
  const id: unknown = primary.getEntityValue(record);
  if (id === undefined || id === null || id === '') return null;
  return { type: metadata.name, id: String(id) };
}
