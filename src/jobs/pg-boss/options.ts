import type { DataSource } from 'typeorm';
import { ConfigurationError } from '../../core/errors.ts';

/** How attache's pg-boss queue is set up. Every duration is in seconds. */
export interface PgBossQueueOptions {
  /** The PostgreSQL schema pg-boss creates and owns (default `attache_jobs`). */
  schema?: string;
  /** The queue's name (default `attache`); its dead letters go to `<queue>_dead_letter`. */
  queue?: string;
  /** Retries after the first attempt before a job becomes a dead letter (default 5). */
  retryLimit?: number;
  /** Seconds before the first retry (default 10); with `retryBackoff` it grows exponentially, with jitter. */
  retryDelay?: number;
  /** Exponential backoff between retries (default true). */
  retryBackoff?: boolean;
  /** Seconds an attempt may run before it is failed and retried elsewhere: a stuck or killed worker (default 900). */
  expireInSeconds?: number;
  /** Seconds between polls of an idle worker (default 2, at least 0.5). */
  pollingIntervalSeconds?: number;
  /** Seconds between pg-boss maintenance runs, which fail expired attempts (default 60). */
  maintenanceIntervalSeconds?: number;
  /** Days a job waits for a worker before pg-boss archives it unrun (default 14). */
  retentionDays?: number;
  /** Connections in pg-boss's own pool (default 4); jobs themselves use the DataSource's pool. */
  poolSize?: number;
}

export type ResolvedOptions = Required<PgBossQueueOptions> & { deadLetter: string };

const DEFAULTS: Required<PgBossQueueOptions> = {
  schema: 'attache_jobs',
  queue: 'attache',
  retryLimit: 5,
  retryDelay: 10,
  retryBackoff: true,
  expireInSeconds: 900,
  pollingIntervalSeconds: 2,
  maintenanceIntervalSeconds: 60,
  retentionDays: 14,
  poolSize: 4,
};

/** The options with defaults, checked. Throws ConfigurationError naming the option (never its value). */
export function resolveOptions(options: PgBossQueueOptions): ResolvedOptions {
  const resolved = { ...DEFAULTS, ...options };
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,49}$/.test(resolved.schema)) invalid('schema', 'a PostgreSQL name of letters, digits and underscores (at most 50)');
  if (!/^[A-Za-z0-9_-]{1,50}$/.test(resolved.queue)) invalid('queue', 'letters, digits, `_` and `-` (at most 50)');
  integer('retryLimit', resolved.retryLimit, 0, 1000);
  integer('retryDelay', resolved.retryDelay, 0, 86_400);
  if (typeof resolved.retryBackoff !== 'boolean') invalid('retryBackoff', 'true or false');
  integer('expireInSeconds', resolved.expireInSeconds, 1, 24 * 3600 - 1);
  if (typeof resolved.pollingIntervalSeconds !== 'number' || !(resolved.pollingIntervalSeconds >= 0.5 && resolved.pollingIntervalSeconds <= 3600)) {
    invalid('pollingIntervalSeconds', 'a number of seconds from 0.5 to 3600');
  }
  integer('maintenanceIntervalSeconds', resolved.maintenanceIntervalSeconds, 1, 24 * 3600 - 1);
  integer('retentionDays', resolved.retentionDays, 1, 3650);
  integer('poolSize', resolved.poolSize, 1, 100);
  return { ...resolved, deadLetter: `${resolved.queue}_dead_letter` };
}

/**
 * pg's connection settings of the app's DataSource (its primary, when replicated), as TypeORM
 * builds them, for pg-boss's own small pool: same database, same credentials and TLS, without
 * ever reading them out. Throws ConfigurationError for a DataSource that is not PostgreSQL.
 */
export function connectionSettings(dataSource: DataSource, poolSize: number): Record<string, unknown> {
  const options = dataSource.options;
  if (options.type !== 'postgres') throw new ConfigurationError('pgBossQueue needs a PostgreSQL DataSource (`type: \'postgres\'`).');
  const credentials = options.replication?.master ?? options;
  return {
    connectionString: credentials.url,
    host: credentials.host,
    user: credentials.username,
    password: credentials.password,
    database: credentials.database,
    port: credentials.port,
    ssl: credentials.ssl,
    connectionTimeoutMillis: options.connectTimeoutMS,
    ...(options.extra as Record<string, unknown> | undefined),
    application_name: 'attache-jobs',
    max: poolSize,
  };
}

function integer(name: string, value: unknown, min: number, max: number): void {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) invalid(name, `an integer from ${min} to ${max}`);
}

function invalid(name: string, expected: string): never {
  throw new ConfigurationError(`pgBossQueue has an invalid "${name}": expected ${expected}.`);
}
