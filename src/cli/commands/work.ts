import type { DataSource } from 'typeorm';
import { ArgumentError, ConfigurationError } from '../../core/errors.ts';
import type { JobQueue } from '../../jobs/queue.ts';
import { runWorker } from '../../jobs/run-worker.ts';
import { openApp, withCommonOptions, type CommonOptions } from '../context.ts';
import { EXIT } from '../exit.ts';
import { printReport } from '../output.ts';
import type { Register } from '../program.ts';

interface WorkOptions extends CommonOptions {
  concurrency: string;
  schema: string;
  queue: string;
}

export const registerWork: Register = (program, action) => {
  withCommonOptions(program.command('work'))
    .description('run attache\'s background jobs (purges, mirrors, analysis, variants) from the shared pg-boss queue until SIGTERM')
    .option('--concurrency <n>', 'jobs run at once in this process', '1')
    .option('--schema <name>', 'pg-boss\'s schema (the app\'s pgBossQueue option)', 'attache_jobs')
    .option('--queue <name>', 'the queue\'s name (the app\'s pgBossQueue option)', 'attache')
    .action(action(work));
};

/** Runs jobs until SIGTERM or Ctrl-C; then takes no new job, lets the running ones finish and be recorded, and exits 0 (130 after Ctrl-C). */
async function work(options: WorkOptions): Promise<number> {
  const concurrency = Number(options.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new ArgumentError('--concurrency must be a whole number ≥ 1.');
  const { pgBossQueue } = await loadPgBoss();
  const queue = (dataSource: DataSource): JobQueue => pgBossQueue(dataSource, { schema: options.schema, queue: options.queue });
  const app = await openApp(options, { queue });
  const log = (line: string) => void (options.json ? process.stderr : process.stdout).write(`${line}\n`);
  const totals = { completed: 0, failed: 0 };
  app.attache.on('job:completed', ({ job, attempt, durationMs }) => {
    totals.completed += 1;
    log(`${job.type} done (attempt ${attempt}, ${Math.round(durationMs)} ms)`);
  });
  app.attache.on('job:failed', ({ job, attempt, error, willRetry }) => {
    totals.failed += 1;
    log(`${job.type} failed (attempt ${attempt}${willRetry === false ? ', now a dead letter' : ''}): ${error.message}`);
  });
  let stoppedBy: NodeJS.Signals | undefined;
  const record = (name: NodeJS.Signals) => (stoppedBy ??= name);
  process.once('SIGINT', record).once('SIGTERM', record);
  try {
    log(`attache worker ${process.pid}: taking jobs, ${concurrency} at a time`);
    await runWorker(app.attache, { concurrency });
    log(`attache worker ${process.pid}: stopped by ${stoppedBy ?? 'request'}; running jobs finished`);
  } finally {
    await app.close();
  }
  if (options.json) printReport({ json: true, tty: false, stdout: process.stdout, stderr: process.stderr }, { ok: true, stoppedBy, ...totals }, () => '');
  return stoppedBy === 'SIGINT' ? EXIT.sigint : EXIT.ok;
}

async function loadPgBoss(): Promise<typeof import('../../jobs/pg-boss/index.ts')> {
  try {
    return await import('../../jobs/pg-boss/index.ts');
  } catch (cause) {
    throw new ConfigurationError('`attache work` runs the jobs of the shared pg-boss queue: install pg-boss 10 (npm install pg-boss@10).', { cause });
  }
}
