import { startEmbedded } from './embedded-postgres.ts';

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

/**
 * The database could not be started. Its message is one paragraph for a person: what failed, why,
 * and what to do (set DATABASE_URL); print `message`, not the stack. The underlying error is `cause`.
 */
export class DatabaseStartError extends Error {
  override readonly name = 'DatabaseStartError';

  constructor(what: string, cause: unknown) {
    super(
      `Could not start ${what}: ${reasons(cause)}. ` +
        'attache\'s examples and tests need a PostgreSQL (11 or newer): set DATABASE_URL to one you run, ' +
        'for example DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres, and run the command again.',
      { cause },
    );
  }
}

/**
 * Returns a PostgreSQL to run against: DATABASE_URL when set; else a testcontainers container
 * when a container engine answers; else an embedded-postgres cluster in a temporary directory.
 * Throws DatabaseStartError (with the cause) when the chosen one cannot start.
 */
export async function startDatabase(): Promise<StartedDatabase> {
  const fromEnv = process.env['DATABASE_URL'];
  if (fromEnv) return { url: fromEnv, source: 'env', stop: async () => {} };
  if (await containerRuntimeAnswers()) return startContainer();
  return startEmbeddedDatabase();
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
    throw new DatabaseStartError(`a PostgreSQL container (${CONTAINER_IMAGE}) with testcontainers`, cause);
  }
}

async function startEmbeddedDatabase(): Promise<StartedDatabase> {
  try {
    const cluster = await startEmbedded();
    return { url: cluster.url, source: 'embedded', stop: cluster.stop };
  } catch (cause) {
    throw new DatabaseStartError('a throwaway PostgreSQL from the embedded-postgres package', cause);
  }
}

/** The messages of an error and its causes, as one line: "could not copy …: EACCES: permission denied, …". */
function reasons(error: unknown): string {
  const parts: string[] = [];
  for (let at = error, depth = 0; at !== undefined && depth < 4; depth += 1) {
    const message = at instanceof Error ? at.message : String(at);
    if (!parts.some((part) => part.includes(message))) parts.push(message);
    at = at instanceof Error ? at.cause : undefined;
  }
  return parts.join(': ').replace(/\s+/g, ' ').replace(/[.\s]+$/, '').trim();
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}
