import type { TestProject } from 'vitest/node';
import { DatabaseStartError, startDatabase, type StartedDatabase } from '../../scripts/database.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The postgres:// URL of the run's database; read it with `inject('databaseUrl')`. */
    databaseUrl: string;
  }
}

/** Starts one database for the run, provides its URL, and returns the teardown that stops it. */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  let database: StartedDatabase;
  try {
    database = await startDatabase();
  } catch (error) {
    if (!(error instanceof DatabaseStartError)) throw error;
    // Only the paragraph, then stop: vitest would bury what to do (set DATABASE_URL) under a stack.
    await new Promise<void>((resolve) => process.stderr.write(`\n${error.message}\n\n`, () => resolve()));
    process.exit(1);
  }
  console.log(`[attache] PostgreSQL from ${database.source} (${Date.now() - started} ms)`);
  project.provide('databaseUrl', database.url);
  return () => database.stop();
}
