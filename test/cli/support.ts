import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { inject } from 'vitest';
import { Attache } from '../../src/index.ts';
import { openTestDataSource, type TestDataSource } from '../support/db.ts';
import { removeDir, tempRoot } from '../support/storage.ts';
import { TEST_SECRET } from '../support/attache.ts';
import { s3Endpoint } from '../support/s3.ts';

export const REPO = path.resolve(import.meta.dirname, '../..');
const TSX = path.join(REPO, 'node_modules', '.bin', 'tsx');
const MAIN = path.join(REPO, 'src', 'cli', 'main.ts');

/** A temp app folder with config/storage.yml, its own database schema with attache's tables, and an Attache on both. */
export interface CliApp {
  dir: string;
  db: TestDataSource;
  attache: Attache;
  /** DATABASE_URL for the CLI: the run's database, with the app's schema as search_path. */
  databaseUrl: string;
  /** The environment a CLI run gets (DATABASE_URL, ATTACHE_SECRET, S3_*). */
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

/** Makes a CliApp whose storage.yml is `yaml` (with `${ROOT}` replaced by a Disk folder inside the app). */
export async function openCliApp(yaml: string): Promise<CliApp> {
  const dir = await tempRoot('attache-cli-app');
  await mkdir(path.join(dir, 'config'));
  await writeConfig(dir, yaml);
  const db = await openTestDataSource();
  const attache = await Attache.init({ dataSource: db.dataSource, configFile: path.join(dir, 'config', 'storage.yml'), service: firstService(yaml), secret: TEST_SECRET });
  const url = new URL(inject('databaseUrl'));
  url.searchParams.set('options', `-c search_path=${db.schema}`);
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url.toString(), ATTACHE_SECRET: TEST_SECRET, NODE_ENV: 'development' };
  delete env['ATTACHE_SERVICE'];
  return {
    dir,
    db,
    attache,
    databaseUrl: url.toString(),
    env,
    async close() {
      await attache.close();
      await db.close();
      await removeDir(dir);
    },
  };
}

/** (Re)writes the app's config/storage.yml, `${ROOT}` replaced by the app's storage folder. */
export async function writeConfig(dir: string, yaml: string): Promise<void> {
  await writeFile(path.join(dir, 'config', 'storage.yml'), yaml.replaceAll('${ROOT}', path.join(dir, 'storage')));
}

function firstService(yaml: string): string {
  return /^([A-Za-z_][\w-]*):/m.exec(yaml)![1]!;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The shell command line of the CLI run from source (for tmux). */
export function cliCommandLine(args: readonly string[]): string {
  return [TSX, '--tsconfig', path.join(REPO, 'tsconfig.json'), MAIN, ...args].map(shellQuote).join(' ');
}

export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/** Starts `attache <args>` as a child process (tsx src/cli/main.ts), stdout and stderr piped. */
export function startCli(args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): { child: ChildProcess; done: Promise<CliResult>; output: () => string } {
  const child = spawn(TSX, ['--tsconfig', path.join(REPO, 'tsconfig.json'), MAIN, ...args], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done, output: () => stdout + stderr };
}

/** Runs `attache <args>` to its end. */
export function runCli(args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CliResult> {
  return startCli(args, options).done;
}

/** Resolves once `predicate(output)` holds, polling every 50 ms; rejects after `timeoutMs`. */
export async function waitFor(read: () => string, predicate: (text: string) => boolean, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = read();
    if (predicate(text)) return text;
    if (Date.now() > deadline) throw new Error(`timed out waiting; output so far:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `n` small random files as blobs of `service`. Returns their ids. */
export async function uploadBlobs(attache: Attache, n: number, service?: string, size = 2048): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const blob = await attache.createAndUpload({ io: randomBytes(size), filename: `file-${i}.bin`, contentType: 'application/octet-stream' }, { service });
    ids.push(blob.id);
  }
  return ids;
}

/** storage.yml of the walk in the README's Operations section: Disk, then SecureS3 under `kmsKeyId`. */
export function journeyYaml(bucket: string, kmsKeyId: string): string {
  const s3 = s3Endpoint();
  return [
    'local:', '  service: Disk', '  root: ${ROOT}/local',
    'secure:', '  service: SecureS3', `  bucket: ${bucket}`, `  endpoint: ${s3.endpoint}`, `  region: ${s3.region}`, '  force_path_style: true',
    "  access_key_id: <%= ENV['S3_ACCESS_KEY_ID'] %>", "  secret_access_key: <%= ENV['S3_SECRET_ACCESS_KEY'] %>", `  kms_key_id: ${kmsKeyId}`, '',
  ].join('\n');
}

