/**
 * `npm run test:consumers [-- --tarball path/to/attache-x.y.z.tgz]`: installs the packed package
 * into fresh apps, as a user would from npm. Each app under test/consumers/<app>/ is copied to a
 * temporary directory outside the repo with the README's config/storage.yml and a PNG, gets
 * `npm install` (the tarball plus its pinned dependencies from the registry), `npm run build`
 * when it has one, and `npm start` against DATABASE_URL (else the dev database), in a schema of
 * its own. Every app prints PASS or FAIL; this prints a summary with timings and exits 1 on any FAIL.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { DatabaseStartError, startDatabase } from './database.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const APPS = path.join(REPO, 'test', 'consumers');
const STEP_TIMEOUT_MS = 5 * 60_000;

interface Outcome {
  app: string;
  ok: boolean;
  line: string;
  seconds: Record<string, number>;
  log: string;
}

async function main(): Promise<number> {
  const started = Date.now();
  const database = await startDatabase();
  const work = await mkdtemp(path.join(tmpdir(), 'attache-consumers-'));
  let failed = true;
  try {
    const tarball = await tarballInto(work);
    const contents = await checkContents(path.join(work, 'attache.tgz'));
    const apps = (await readdir(APPS, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
    // Two at a time: npm installs wait on the network and the disk more than on the two cores.
    const outcomes = await inBatches(apps, 2, (app) => runApp(app, work, database.url));
    outcomes.unshift(contents);
    failed = outcomes.some((outcome) => !outcome.ok);
    for (const outcome of outcomes) {
      if (!outcome.ok) console.log(`\n--- ${outcome.app}: output ---\n${outcome.log.trim()}\n---`);
    }
    console.log(`\nattache consumers (${path.basename(tarball)}), ${((Date.now() - started) / 1000).toFixed(1)} s in all:`);
    for (const { app, line, seconds } of outcomes) {
      const timing = Object.entries(seconds).map(([step, s]) => `${step} ${s.toFixed(1)} s`).join(', ');
      console.log(`  ${line}\n      (${app}: ${timing})`);
    }
    const passed = outcomes.filter((outcome) => outcome.ok).length;
    console.log(`consumers: ${passed} passed, ${outcomes.length - passed} failed`);
    return failed ? 1 : 0;
  } finally {
    if (failed) console.log(`The apps are kept in ${work} to look at.`);
    else await rm(work, { recursive: true, force: true });
    await database.stop();
  }
}

/** The tarball given with --tarball, or a fresh `npm pack` (which builds first), as work/attache.tgz. */
async function tarballInto(work: string): Promise<string> {
  const at = process.argv.indexOf('--tarball');
  const given = at >= 0 ? process.argv[at + 1] : undefined;
  let source: string;
  if (given) {
    source = path.resolve(given);
  } else {
    const packed = await run('npm', ['pack', '--pack-destination', work], REPO, process.env);
    const filename = (await readdir(work)).find((name) => name.endsWith('.tgz'));
    if (packed.code !== 0 || !filename) throw new Error(`npm pack failed:\n${packed.output}`);
    source = path.join(work, filename);
  }
  const target = path.join(work, 'attache.tgz');
  await copyFile(source, target);
  return source;
}

/** The tarball holds package.json, the README and dist/ only: no tests, no src/, no scripts/ (the dev database helper). */
async function checkContents(tarball: string): Promise<Outcome> {
  const begun = Date.now();
  const listed = await run('tar', ['tzf', tarball], REPO, process.env);
  const files = listed.output.split('\n').filter((name) => name !== '' && !name.endsWith('/'));
  const stray = files.filter((name) => !/^package\/(package\.json|README\.md|dist\/.+)$/.test(name));
  const ok = listed.code === 0 && files.length > 0 && stray.length === 0;
  const line = ok
    ? `PASS contents: ${files.length} files, only package.json, README.md and dist/`
    : `FAIL contents: ${listed.code === 0 ? `unexpected files: ${stray.slice(0, 10).join(', ')}` : 'tar could not list the tarball'}`;
  return { app: 'contents', ok, line, seconds: { list: (Date.now() - begun) / 1000 }, log: listed.output };
}

/** Copies, installs, builds and runs one app in its own schema; never throws. */
async function runApp(app: string, work: string, databaseUrl: string): Promise<Outcome> {
  const dir = path.join(work, app);
  const schema = `consumer_${app.replace(/\W/g, '_')}_${randomBytes(4).toString('hex')}`;
  const seconds: Record<string, number> = {};
  let log = '';
  const step = async (name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> => {
    const begun = Date.now();
    const result = await run(command, args, dir, env);
    seconds[name] = (Date.now() - begun) / 1000;
    log += `$ ${command} ${args.join(' ')}\n${result.output}\n`;
    if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.code}`);
    return result.output;
  };
  try {
    await cp(path.join(APPS, app), dir, { recursive: true });
    await mkdir(path.join(dir, 'config'));
    await copyFile(path.join(APPS, 'storage.yml'), path.join(dir, 'config', 'storage.yml'));
    await copyFile(path.join(REPO, 'examples', 'fixtures', 'ada.png'), path.join(dir, 'ada.png'));
    await sql(databaseUrl, `CREATE SCHEMA "${schema}"`);
    const env = appEnv(databaseUrl, schema);
    await step('install', 'npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock'], env);
    const scripts = (JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
    if (scripts['build']) await step('build', 'npm', ['run', '--silent', 'build'], env);
    const output = await step('run', 'npm', ['start', '--silent'], env);
    const line = output.split('\n').find((l) => l.startsWith('PASS ')) ?? `FAIL ${app}: printed no PASS line`;
    return { app, ok: line.startsWith('PASS '), line, seconds, log };
  } catch (error) {
    const line = log.split('\n').find((l) => l.startsWith('FAIL ')) ?? `FAIL ${app}: ${error instanceof Error ? error.message : String(error)}`;
    return { app, ok: false, line, seconds, log };
  } finally {
    await sql(databaseUrl, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  }
}

/**
 * What an app sees: a fresh environment as a user's shell has it, without the npm run and loader
 * variables this script runs under, and DATABASE_URL pointing its connections at its own schema.
 */
function appEnv(databaseUrl: string, schema: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('npm_') && key !== 'NODE_OPTIONS' && key !== 'INIT_CWD') env[key] = value;
  }
  const url = new URL(databaseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  env['DATABASE_URL'] = url.toString();
  env['ATTACHE_SECRET'] = randomBytes(32).toString('hex');
  return env;
}

async function sql(databaseUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** Runs a command to its end with stdout and stderr together; a timeout or spawn failure is a non-zero code. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => void (output += chunk.toString('utf8'));
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), STEP_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: 127, output: `${output}\n${error.message}` });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output: signal ? `${output}\n(killed by ${signal} after ${STEP_TIMEOUT_MS / 1000} s)` : output });
    });
  });
}

async function inBatches<T, R>(items: readonly T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let at = 0; at < items.length; at += size) results.push(...(await Promise.all(items.slice(at, at + size).map(work))));
  return results;
}

main().then(
  (code) => void (process.exitCode = code),
  (error: unknown) => {
    console.error(error instanceof DatabaseStartError ? error.message : error);
    process.exitCode = 1;
  },
);
