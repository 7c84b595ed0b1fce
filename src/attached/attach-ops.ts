import type { AttacheRuntime } from '../records/runtime.ts';
import type { RecordRef } from '../records/record-ref.ts';
import { AttacheError } from '../core/errors.ts';
import { AttachChange } from './change.ts';
import { serviceFor, type AttachmentDefinition } from './definitions.ts';
import type { NormalizedInput } from './input.ts';
import type { AttachOptions, ChangeTarget } from './prepare.ts';

/** The target of an attach to `record` under `definition`: its service, limits and binding name. */
export function attachTarget(rt: AttacheRuntime, definition: AttachmentDefinition, record: object, ref?: RecordRef): ChangeTarget {
  return {
    ref,
    attachment: `${rt.dataSource.getMetadata(definition.target).name}#${definition.name}`,
    kind: definition.kind,
    service: serviceFor(rt, definition, record),
    limits: definition,
  };
}

/** Attaches to a saved record: the change runs in a transaction of its own. See runChange. */
export async function attachToSaved(rt: AttacheRuntime, ref: RecordRef, definition: AttachmentDefinition, record: object, inputs: readonly NormalizedInput[], options: AttachOptions): Promise<void> {
  await runChange(rt, new AttachChange(rt, attachTarget(rt, definition, record, ref), inputs, options, definition.dependent));
}

/**
 * Prepares a change, writes its rows in one transaction and runs its after-commit work. When the
 * transaction fails, what the change stored is removed once its rows are confirmed absent; when a
 * lost COMMIT turns out to have committed, this resolves as if nothing had gone wrong.
 * Throws the typed error of the step that failed (PersistenceError for the database).
 */
export async function runChange(rt: AttacheRuntime, change: AttachChange): Promise<void> {
  await change.prepare();
  const runner = rt.dataSource.createQueryRunner();
  let commitSent = false;
  try {
    await runner.connect();
    await runner.startTransaction();
    await change.writeRows(runner.manager);
    commitSent = true;
    await runner.commitTransaction();
  } catch (error) {
    // Ends this transaction (and frees its lock) when the connection still lives; a dead one has ended on the server.
    if (runner.isTransactionActive) await endTransaction(runner);
    const outcome = await change.discard(commitSent);
    if (outcome !== 'committed') throw error instanceof AttacheError && !commitSent ? error : change.failure(error, outcome);
  } finally {
    await runner.release().catch(() => undefined);
  }
  await change.afterCommit();
}

/** Sends ROLLBACK, waiting at most a few seconds: a half-open connection must not hang the cleanup. */
async function endTransaction(runner: { query(sql: string): Promise<unknown> }): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, ROLLBACK_WAIT_MS)));
  try {
    await Promise.race([runner.query('ROLLBACK').catch(() => undefined), gaveUp]);
  } finally {
    clearTimeout(timer);
  }
}

const ROLLBACK_WAIT_MS = 3_000;
