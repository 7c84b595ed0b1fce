import { AttacheError, PersistenceError } from '../core/errors.ts';

/**
 * Invariant: every database failure leaves attache's records and attached layers here, as a
 * PersistenceError with the driver or TypeORM error as `cause`. The message names the action and
 * the error's code (a SQLSTATE or a socket code), never a query or a value.
 */
export function asPersistenceError(error: unknown, action: string): AttacheError {
  if (error instanceof AttacheError) return error;
  return new PersistenceError(`Could not ${action}: the database failed (${errorCode(error)}).`, { cause: error });
}

/** Runs a database step; any non-attache error becomes a PersistenceError (see asPersistenceError). */
export async function database<T>(action: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw asPersistenceError(error, action);
  }
}

/** The SQLSTATE or socket code of a driver error ('' when it has none). */
export function errorCode(error: unknown): string {
  const seen = new Set<unknown>();
  for (let e: unknown = error; e && typeof e === 'object' && !seen.has(e); e = (e as { driverError?: unknown; cause?: unknown }).driverError ?? (e as { cause?: unknown }).cause) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
  }
  return error instanceof Error ? error.name : 'unknown error';
}

/** PostgreSQL's unique_violation. */
export const UNIQUE_VIOLATION = '23505';
/** PostgreSQL's foreign_key_violation. */
export const FOREIGN_KEY_VIOLATION = '23503';
