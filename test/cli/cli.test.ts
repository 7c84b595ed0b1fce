import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Blob } from '../../src/index.ts';
import type { DiskService } from '../../src/services/disk/DiskService.ts';
import { openTestDataSource } from '../support/db.ts';
import { filesUnder, removeDir, tempRoot } from '../support/storage.ts';
import { openCliApp, runCli, uploadBlobs, type CliApp } from './support.ts';

const DISK_YML = `local:\n  service: Disk\n  root: \${ROOT}/local\narchive:\n  service: Disk\n  root: \${ROOT}/archive\n`;

describe('attache CLI (child process)', () => {
  let app: CliApp;
  beforeAll(async () => {
    app = await openCliApp(DISK_YML);
  });
  afterAll(() => app?.close());
  const cli = (...args: string[]) => runCli(args, { cwd: app.dir, env: app.env });

  it('--help lists every command and exits 0', async () => {
    const result = await cli('--help');
    expect(result.code).toBe(0);
    for (const command of ['doctor', 'verify', 'migrate', 'reencrypt', 'sweep', 'install', 'work']) expect(result.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it.each([
    [['frobnicate'], /unknown command/],
    [['verify', '--bogus'], /unknown option '--bogus'/],
    [['migrate', '--from', 'local'], /required option '--to <service>'/],
    [['verify', '--concurrency', 'zero'], /--concurrency must be a whole number/],
    [['sweep', '--older-than', 'soon'], /not a duration/],
    [['verify', '--config', 'nope/storage.yml'], /not found/],
    [['verify', '--service', 'nowhere'], /Unknown storage service "nowhere"/],
  ])('usage and config errors exit 2: %j', async (args, message) => {
    const result = await cli(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('exits 2 without a database, naming DATABASE_URL, never printing a URL', async () => {
    const { DATABASE_URL: _, ...env } = app.env;
    const result = await runCli(['verify'], { cwd: app.dir, env });
    expect([result.code, result.stderr]).toEqual([2, expect.stringMatching(/set DATABASE_URL or pass --database-url/)]);
    const wrong = await runCli(['verify', '--database-url', 'postgres://me:hunter2secret@127.0.0.1:1/x'], { cwd: app.dir, env });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/Cannot connect to the database \(ECONNREFUSED\)/);
    expect(wrong.stderr).not.toContain('hunter2secret');
  });

  it('exits 2 when the database has no attache tables, saying what to run', async () => {
    const empty = await openTestDataSource({ runMigrations: false });
    try {
      const url = new URL(app.databaseUrl);
      url.searchParams.set('options', `-c search_path=${empty.schema}`);
      const result = await runCli(['verify'], { cwd: app.dir, env: { ...app.env, DATABASE_URL: url.toString() } });
      expect([result.code, result.stderr]).toEqual([2, expect.stringMatching(/no active_storage_blobs table: run `attache install` and your migrations/)]);
    } finally {
      await empty.close();
    }
  });

  it('--json with an error prints one JSON document', async () => {
    const result = await cli('verify', '--service', 'nowhere', '--json');
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toEqual({ ok: false, error: { name: 'ConfigurationError', code: 'E_CONFIGURATION', message: expect.stringContaining('nowhere') } });
  });

  it('doctor passes on Disk services and prints one JSON report', async () => {
    const result = await cli('doctor', '--json');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.ok).toBe(true);
    expect(report.services.map((s: { service: string }) => s.service)).toEqual(['local', 'archive']);
    expect(report.services[0].checks.map((c: { check: string; status: string }) => `${c.check}:${c.status}`)).toEqual(
      expect.arrayContaining(['config:pass', 'probe write:pass', 'probe read:pass', 'probe delete:pass']),
    );
    expect(await filesUnder(path.join(app.dir, 'storage', 'local'))).toEqual([]); // the probe is gone
  });

  it('doctor fails (exit 1) when a Disk root is a file, with the reason', async () => {
    const bad = await openCliApp(`broken:\n  service: Disk\n  root: \${ROOT}/file\n`);
    try {
      await writeFile(path.join(bad.dir, 'storage-file'), 'x');
      await writeFile(path.join(bad.dir, 'config', 'storage.yml'), `broken:\n  service: Disk\n  root: ${path.join(bad.dir, 'storage-file')}\n`);
      const result = await runCli(['doctor'], { cwd: bad.dir, env: bad.env });
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/FAIL {2}root .* exists but is not a directory/);
      expect(result.stdout).toMatch(/fix: Point `root:` at a directory/);
    } finally {
      await bad.close();
    }
  });

  it('verify: exit 0 when every object is there, 1 with the missing one named', async () => {
    const ids = await uploadBlobs(app.attache, 3, 'local');
    const ok = await cli('verify', '--service', 'local', '--json', '--no-checkpoint');
    expect([ok.code, JSON.parse(ok.stdout).checked]).toEqual([0, 3]);
    const victim = (await app.db.dataSource.getRepository(Blob).findOneByOrFail({ id: ids[1]! }));
    await app.attache.service('local').delete(victim.key);
    const bad = await cli('verify', '--service', 'local', '--json', '--no-checkpoint');
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).failures).toEqual([expect.objectContaining({ blobId: ids[1], problem: 'missing' })]);
    const table = await cli('verify', '--service', 'local', '--no-checkpoint');
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(new RegExp(`${ids[1]} +local +${victim.key} +missing`));
    expect(table.stdout).toMatch(/^verify: 3\/3 blobs/m); // line-oriented progress when stdout is not a TTY
  });

  it('sweep is a dry run unless --apply: the dry run changes nothing', async () => {
    const [id] = await uploadBlobs(app.attache, 1, 'archive');
    await app.db.dataSource.query(`UPDATE active_storage_blobs SET created_at = now() - interval '3 days' WHERE id = $1`, [id]);
    const root = (app.attache.service('archive') as DiskService).root;
    const before = await filesUnder(root);
    const dry = await cli('sweep', '--json', '--service', 'archive');
    expect(dry.code).toBe(0);
    const report = JSON.parse(dry.stdout);
    expect([report.dryRun, report.unattachedBlobs.map((b: { id: string }) => b.id)]).toEqual([true, [id]]);
    expect(await app.db.dataSource.getRepository(Blob).existsBy({ id: id! })).toBe(true);
    expect(await filesUnder(root)).toEqual(before);
    const human = await cli('sweep', '--older-than', '1d', '--service', 'archive');
    expect(human.stdout).toMatch(/unattached blobs +1/);
    expect(human.stdout).toMatch(/run with --apply to remove them/);
    const applied = await cli('sweep', '--apply', '--older-than', '2d', '--json', '--service', 'archive');
    expect([applied.code, JSON.parse(applied.stdout).dryRun]).toEqual([0, false]);
    expect(await app.db.dataSource.getRepository(Blob).existsBy({ id: id! })).toBe(false);
    expect(await filesUnder(root)).toEqual([]);
  });
});

describe('attache install', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempRoot('attache-install');
  });
  afterAll(() => removeDir(dir));

  it('writes the migration and a starter storage.yml, and never overwrites either', async () => {
    await writeFile(path.join(dir, 'tsconfig.json'), '{}');
    const first = await runCli(['install', '--record-id-type', 'uuid'], { cwd: dir, env: process.env });
    expect(first.code).toBe(0);
    const [migration] = await readdir(path.join(dir, 'migrations'));
    expect(migration).toMatch(/^\d{13}-CreateActiveStorageTables\.ts$/);
    const source = await readFile(path.join(dir, 'migrations', migration!), 'utf8');
    expect(source).toContain("import { createActiveStorageTablesMigration } from 'attache';");
    expect(source).toContain("createActiveStorageTablesMigration({ recordIdType: 'uuid' })");
    expect(source).toContain(`override readonly name = 'CreateActiveStorageTables${migration!.slice(0, 13)}'`);
    const yml = await readFile(path.join(dir, 'config', 'storage.yml'), 'utf8');
    expect(yml).toMatch(/^local:\n {2}service: Disk$/m);
    await writeFile(path.join(dir, 'config', 'storage.yml'), 'mine: {service: Disk, root: x}\n');
    const again = await runCli(['install', '--json'], { cwd: dir, env: process.env });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ ok: true, written: [], skipped: [expect.objectContaining({ file: `migrations/${migration}` }), { file: 'config/storage.yml', reason: 'exists (not overwritten)' }] });
    expect(await readFile(path.join(dir, 'config', 'storage.yml'), 'utf8')).toBe('mine: {service: Disk, root: x}\n');
    expect(await readdir(path.join(dir, 'migrations'))).toEqual([migration]);
  });

  it('writes an ESM JavaScript migration into an existing src/migrations when there is no tsconfig', async () => {
    const js = await tempRoot('attache-install-js');
    try {
      await writeFile(path.join(js, 'package.json'), '{"type":"module"}');
      await mkdir(path.join(js, 'src', 'migrations'), { recursive: true });
      await runCli(['install'], { cwd: js, env: process.env });
      const [migration] = await readdir(path.join(js, 'src', 'migrations'));
      expect(migration).toMatch(/^\d{13}-CreateActiveStorageTables\.js$/);
      const source = await readFile(path.join(js, 'src', 'migrations', migration!), 'utf8');
      expect(source).toMatch(/^import \{ createActiveStorageTablesMigration \} from 'attache';/);
      expect(source).toMatch(/^export class CreateActiveStorageTables\d{13} extends/m);
      expect(existsSync(path.join(js, 'config', 'storage.yml'))).toBe(true);
    } finally {
      await removeDir(js);
    }
  });
});
