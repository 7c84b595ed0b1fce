import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ArgumentError } from '../../core/errors.ts';
import type { RecordIdType } from '../../migrations/active-storage-schema.ts';
import type { CommonOptions } from '../context.ts';
import { EXIT } from '../exit.ts';
import { printReport } from '../output.ts';
import type { Register } from '../program.ts';
import { starterStorageYml } from './starter-config.ts';

interface InstallOptions extends Pick<CommonOptions, 'json'> {
  config: string;
  migrationsDir?: string;
  recordIdType: string;
  language?: string;
}

export interface InstallReport {
  ok: boolean;
  written: string[];
  skipped: Array<{ file: string; reason: string }>;
}

const MIGRATION_NAME = 'CreateActiveStorageTables';
const MIGRATION_DIRS = ['src/migrations', 'migrations', 'src/database/migrations', 'db/migrations'];
const RECORD_ID_TYPES: readonly RecordIdType[] = ['bigint', 'uuid', 'string'];

export const registerInstall: Register = (program, action) => {
  program
    .command('install')
    .description('write attache\'s migration into the app\'s migrations folder and a starter config/storage.yml (like Rails\' active_storage:install); never overwrites a file')
    .option('--migrations-dir <dir>', `where the migration goes (default: the first of ${MIGRATION_DIRS.join(', ')} that exists, else migrations)`)
    .option('--record-id-type <type>', 'the type of active_storage_attachments.record_id: your records\' primary keys (bigint, uuid, string)', 'bigint')
    .option('--language <ts|js>', 'the migration\'s language (default: ts when tsconfig.json exists)')
    .option('--config <file>', 'where the starter storage.yml goes', 'config/storage.yml')
    .option('--json', 'print one JSON report', false)
    .action(action(install));
};

async function install(options: InstallOptions): Promise<number> {
  const recordIdType = options.recordIdType as RecordIdType;
  if (!RECORD_ID_TYPES.includes(recordIdType)) throw new ArgumentError(`--record-id-type must be one of ${RECORD_ID_TYPES.join(', ')}.`);
  const language = options.language ?? (existsSync('tsconfig.json') ? 'ts' : 'js');
  if (language !== 'ts' && language !== 'js') throw new ArgumentError('--language must be ts or js.');
  const report: InstallReport = { ok: true, written: [], skipped: [] };
  const dir = options.migrationsDir ?? MIGRATION_DIRS.find((d) => existsSync(d)) ?? 'migrations';
  const existing = existsSync(dir) ? (await readdir(dir)).find((name) => name.includes(MIGRATION_NAME)) : undefined;
  if (existing !== undefined) {
    report.skipped.push({ file: path.join(dir, existing), reason: 'attache\'s migration is already there' });
  } else {
    const stamp = Date.now();
    await writeNew(path.join(dir, `${stamp}-${MIGRATION_NAME}.${language}`), migrationSource(stamp, recordIdType, language), report);
  }
  await writeNew(options.config, starterStorageYml(), report);
  printReport({ json: options.json === true, tty: false, stdout: process.stdout, stderr: process.stderr }, report, () => human(report));
  return EXIT.ok;
}

/** Creates the file; one that exists is reported as skipped and left untouched ('wx' refuses to open it). */
async function writeNew(file: string, contents: string, report: InstallReport): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  try {
    await writeFile(file, contents, { flag: 'wx' });
    report.written.push(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    report.skipped.push({ file, reason: 'exists (not overwritten)' });
  }
}

function migrationSource(stamp: number, recordIdType: RecordIdType, language: 'ts' | 'js'): string {
  const className = `${MIGRATION_NAME}${stamp}`;
  const doc = `/**
 * Rails' ActiveStorage tables (written by \`attache install\`): active_storage_blobs,
 * active_storage_attachments (record_id ${recordIdType}) and active_storage_variant_records.
 * Idempotent: where a Rails app already made them it changes nothing.
 */`;
  const nameComment = '  // TypeORM records this name; spelled out so a minifier that renames the class cannot make an applied migration look new.';
  const base = `createActiveStorageTablesMigration({ recordIdType: '${recordIdType}' })`;
  if (language === 'ts') {
    return `import { createActiveStorageTablesMigration } from 'attache';\n\n${doc}\nexport class ${className} extends ${base} {\n${nameComment}\n  override readonly name = '${className}';\n}\n`;
  }
  const esm = isEsmPackage();
  const load = esm ? `import { createActiveStorageTablesMigration } from 'attache';` : `const { createActiveStorageTablesMigration } = require('attache');`;
  const declaration = `${esm ? 'export ' : ''}class ${className} extends ${base} {\n${nameComment}\n  name = '${className}';\n}\n`;
  return `${load}\n\n${doc}\n${declaration}${esm ? '' : `\nmodule.exports = { ${className} };\n`}`;
}

function isEsmPackage(): boolean {
  try {
    return (JSON.parse(readFileSync('package.json', 'utf8')) as { type?: string }).type === 'module';
  } catch {
    return false;
  }
}

function human(report: InstallReport): string {
  const lines = [...report.written.map((file) => `created  ${file}`), ...report.skipped.map((s) => `skipped  ${s.file}: ${s.reason}`)];
  if (report.written.some((file) => file.includes(MIGRATION_NAME))) lines.push('', 'Next: add the migration to your DataSource\'s `migrations` and run them (typeorm migration:run).');
  return lines.join('\n');
}
