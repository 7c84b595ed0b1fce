import type { TestProject } from 'vitest/node';
import { startDatabase } from '../../scripts/database.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The postgres:// URL of the run's database; read it with `inject('databaseUrl')`. */
    databaseUrl: string;
  }
}

/** Starts one database for the run, provides its URL, and returns the teardown that stops it. */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const database = await startDatabase();
  console.log(`[attache] PostgreSQL from ${database.source} (${Date.now() - started} ms)`);
  project.provide('databaseUrl', database.url);
  return () => database.stop();
}
