/**
 * SQL count bench: `npm run bench:sql` (also part of `npm run bench`).
 * Counts the statements attache sends (a TypeORM logger sees every query of the DataSource) for
 *   - one attach of a new file to a saved record (has-one, Disk), as the caller awaits it;
 *   - the same attach replacing the current file (the has-one swap);
 *   - `withAttached` on 1, 10 and 100 records (the goal: the same number for any count).
 * Background work after the commit (the in-process analyze job) is counted apart.
 * Uses DATABASE_URL, else a throw-away PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Column, DataSource, Entity, PrimaryGeneratedColumn, type Logger } from 'typeorm';
import { Attache, attacheEntities, hasOneAttached, type AttachedOne } from '../src/index.ts';
import { startDatabase } from '../scripts/database.ts';
import { CreateActiveStorageTables1700000000000 } from '../migrations/1700000000000-CreateActiveStorageTables.ts';
import { reportRows, type SummaryRow } from './summary.ts';

@Entity({ name: 'bench_sql_users' })
class SqlUser {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar' }) name!: string;
  @hasOneAttached() declare avatar: AttachedOne;
}

/** A TypeORM logger that records every statement while `recording`. */
class CountingLogger implements Logger {
  recording = false;
  readonly statements: string[] = [];
  logQuery(query: string): void {
    if (this.recording) this.statements.push(query.replace(/\s+/g, ' ').trim());
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}

  async count(operation: () => Promise<unknown>): Promise<string[]> {
    this.statements.length = 0;
    this.recording = true;
    try {
      await operation();
    } finally {
      this.recording = false;
    }
    return [...this.statements];
  }
}

export interface SqlCountRow {
  what: string;
  statements: number;
  /** Statements between BEGIN and COMMIT (0 when there is no transaction). */
  inTransaction: number;
  transactions: number;
  detail: string[];
}

/** Runs the counts; `print` lists each operation's statements. Returns one row per operation. */
export async function sqlCounts(options: { verbose?: boolean } = {}): Promise<SqlCountRow[]> {
  const database = await startDatabase();
  const root = await mkdtemp(path.join(tmpdir(), 'attache-bench-sql-'));
  const logger = new CountingLogger();
  const dataSource = new DataSource({
    type: 'postgres',
    url: database.url,
    entities: [...attacheEntities, SqlUser],
    migrations: [CreateActiveStorageTables1700000000000],
    logger,
  });
  const rows: SqlCountRow[] = [];
  try {
    await dataSource.initialize();
    await dataSource.runMigrations();
    await dataSource.query('CREATE TABLE IF NOT EXISTS bench_sql_users (id serial PRIMARY KEY, name varchar NOT NULL)');
    const attache = await Attache.init({ dataSource, services: { local: { service: 'Disk', root } }, secret: randomBytes(32).toString('hex') });
    const users = dataSource.getRepository(SqlUser);
    const created = await users.save(Array.from({ length: 100 }, (_, i) => users.create({ name: `u${i}` })));
    for (const user of created) await user.avatar.attach({ io: randomBytes(64), filename: 'a.bin' });
    await attache.drain();

    const fresh = await users.save(users.create({ name: 'fresh' }));
    const add = (what: string, statements: string[]): void => void rows.push(summarize(what, statements));
    add('attach (new file, record without one)', await logger.count(() => fresh.avatar.attach({ io: randomBytes(64), filename: 'b.bin' })));
    add('  its background work (analyze job)', await logger.count(() => attache.drain()));
    add('attach (new file, replacing one; purge_later)', await logger.count(() => fresh.avatar.attach({ io: randomBytes(64), filename: 'c.bin' })));
    add('    its background work (analyze job, purge job)', await logger.count(() => attache.drain()));
    for (const n of [1, 10, 100]) {
      const records = await users.find({ where: {}, order: { id: 'ASC' }, take: n });
      add(`withAttached on ${n} record${n === 1 ? '' : 's'}`, await logger.count(() => attache.withAttached(records, 'avatar')));
    }
    if (options.verbose) for (const row of rows) console.log(`${row.what}:\n${row.detail.map((s) => `    ${s}`).join('\n')}`);
    await users.remove(await users.find());
    await attache.drain();
    await attache.close();
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await database.stop();
    await rm(root, { recursive: true, force: true });
  }
  return rows;
}

function summarize(what: string, statements: string[]): SqlCountRow {
  const begins = statements.filter((s) => /^(START TRANSACTION|BEGIN)/i.test(s)).length;
  let inside = 0;
  let open = false;
  for (const s of statements) {
    if (/^(START TRANSACTION|BEGIN)/i.test(s)) open = true;
    else if (/^(COMMIT|ROLLBACK)/i.test(s)) open = false;
    else if (open) inside++;
  }
  return { what, statements: statements.length, inTransaction: inside, transactions: begins, detail: statements.map((s) => (s.length > 160 ? `${s.slice(0, 157)}...` : s)) };
}

/** Rows for `npm run bench`'s summary, marked against the goals: an attach in one transaction of at most 4 statements; withAttached constant. */
export function summaryRows(rows: SqlCountRow[]): SummaryRow[] {
  const loads = rows.filter((row) => row.what.startsWith('withAttached')).map((row) => row.statements);
  return rows
    .filter((row) => !row.what.startsWith(' '))
    .map((row) => {
      const attach = row.what.startsWith('attach');
      const ok = attach ? row.statements <= 4 && row.transactions === 1 : loads.every((n) => n === loads[0]);
      const value = `${row.statements} statements${row.transactions > 0 ? ` (${row.transactions} txn)` : ''} ${ok ? '✓' : attach ? '✗ goal ≤ 4 in 1 txn' : '✗ not constant'}`;
      return { bench: 'sql', case: row.what, path: '', ratios: [], value };
    });
}

/** The table the summary prints. */
export function printSqlCounts(rows: SqlCountRow[]): void {
  console.log('SQL statements (TypeORM logger; BEGIN and COMMIT count as statements)');
  console.log(`  ${'operation'.padEnd(48)} ${'statements'.padStart(10)} ${'in txn'.padStart(7)} ${'txns'.padStart(5)}`);
  for (const row of rows) console.log(`  ${row.what.padEnd(48)} ${String(row.statements).padStart(10)} ${String(row.inTransaction).padStart(7)} ${String(row.transactions).padStart(5)}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  sqlCounts({ verbose: process.argv.includes('--verbose') })
    .then((rows) => {
      printSqlCounts(rows);
      reportRows(summaryRows(rows));
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
