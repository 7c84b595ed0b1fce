import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { DataSource } from 'typeorm';
import { Attache } from '../attache.ts';
import { ConfigurationError } from '../core/errors.ts';
import type { JobQueue } from '../jobs/queue.ts';
import { attacheEntities } from '../records/index.ts';
import { loadConfig, resolveConfigFile } from '../services/config.ts';
import { UsageError } from './exit.ts';
import type { OutputMode } from './progress.ts';

/** The options every command takes. */
export interface CommonOptions {
  config?: string;
  env?: string;
  databaseUrl?: string;
  secret?: string;
  json?: boolean;
}

/** Adds --config, --env, --database-url, --secret and --json to a command. */
export function withCommonOptions(command: Command): Command {
  return command
    .option('--config <file>', 'storage.yml to read (config/storage/<env>.yml beside it wins, as in Rails)', 'config/storage.yml')
    .option('--env <name>', 'the environment for config/storage/<env>.yml and ENV lookups (default: NODE_ENV, else development)')
    .option('--database-url <url>', 'the app\'s PostgreSQL (default: DATABASE_URL)')
    .option('--secret <secret>', 'the app\'s ATTACHE_SECRET (default: ATTACHE_SECRET; the commands sign nothing, so any is fine)')
    .option('--json', 'print one JSON report on stdout instead of tables and progress', false);
}

/** The output mode of a command: a terminal gets a progress bar, anything else lines. */
export function outputMode(options: CommonOptions): OutputMode {
  return { json: options.json === true, tty: process.stdout.isTTY === true, stdout: process.stdout, stderr: process.stderr };
}

/** The environment the config is read with: NODE_ENV set by --env. */
export function commandEnv(options: CommonOptions): NodeJS.ProcessEnv {
  return options.env === undefined ? process.env : { ...process.env, NODE_ENV: options.env };
}

export interface App {
  attache: Attache;
  dataSource: DataSource;
  close(): Promise<void>;
}

/**
 * An Attache for a command: the app's storage.yml and its database, with a DataSource of its own
 * that maps only attache's tables (the app's entities and migrations are not needed). Throws
 * UsageError (no database URL) or ConfigurationError (bad config, unreachable database, no tables).
 */
export async function openApp(options: CommonOptions, extra: { queue?: (dataSource: DataSource) => JobQueue; service?: string } = {}): Promise<App> {
  const env = commandEnv(options);
  const configFile = resolveConfigFile(options.config, env);
  const config = loadConfig(configFile); // a bad file fails before the database is dialled
  const url = options.databaseUrl ?? env['DATABASE_URL'];
  if (!url) throw new UsageError('No database: set DATABASE_URL or pass --database-url.');
  const dataSource = new DataSource({ type: 'postgres', url, entities: [...attacheEntities], logging: false });
  try {
    await dataSource.initialize();
  } catch (cause) {
    if ((cause as Error | null)?.name === 'DriverPackageNotInstalledError') {
      throw new ConfigurationError('The CLI talks to PostgreSQL through the `pg` package: install it (npm install pg).', { cause });
    }
    // The URL holds the password: the message names only the driver's code.
    const code = (cause as { code?: unknown } | null)?.code;
    throw new ConfigurationError(`Cannot connect to the database (${typeof code === 'string' ? code : 'connection failed'}): check DATABASE_URL.`, { cause });
  }
  try {
    await dataSource.query('SELECT 1 FROM active_storage_blobs LIMIT 0');
  } catch (cause) {
    await dataSource.destroy();
    throw new ConfigurationError('The database has no active_storage_blobs table: run `attache install` and your migrations first.', { cause });
  }
  let attache: Attache;
  try {
    // The commands sign no id or URL: without the app's secret a random one will do.
    const secret = options.secret ?? (env['ATTACHE_SECRET'] || randomBytes(32).toString('hex'));
    // Each command names its services; the default only has to exist (several services need no ATTACHE_SERVICE here).
    // The service a command is about is the default, so init checks its setting names first.
    const service = (extra.service !== undefined && Object.hasOwn(config.services, extra.service) ? extra.service : undefined) ?? (env['ATTACHE_SERVICE'] || Object.keys(config.services)[0]);
    attache = await Attache.init({ dataSource, configFile, env, secret, service, ...(extra.queue && { queue: extra.queue(dataSource) }) });
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
  return {
    attache,
    dataSource,
    async close() {
      await attache.close();
      await dataSource.destroy();
    },
  };
}
