import type { Command } from 'commander';
import type { DoctorCheck, DoctorReport } from '../../operations/doctor.ts';
import { openApp, outputMode, withCommonOptions, type CommonOptions } from '../context.ts';
import { EXIT } from '../exit.ts';
import { printReport } from '../output.ts';
import { createSpinner } from '../progress.ts';
import type { Register } from '../program.ts';

interface DoctorCommandOptions extends CommonOptions {
  service?: string;
  strict?: boolean;
}

const SYMBOL: Record<DoctorCheck['status'], string> = { pass: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

export const registerDoctor: Register = (program, action) => {
  withCommonOptions(program.command('doctor'))
    .description('check each service for real: config, credentials, bucket or root, a probe object written, read, checked and deleted, KMS key, bucket encryption, policy, CORS')
    .option('--service <name>', 'only this service')
    .option('--strict', 'exit 1 on warnings too', false)
    .action(action(doctorCommand));
};

async function doctorCommand(options: DoctorCommandOptions): Promise<number> {
  const mode = outputMode(options);
  const app = await openApp(options, { service: options.service });
  try {
    const spinner = createSpinner('attache doctor: checking services', mode);
    const report = await app.attache.doctor({ service: options.service, onService: (d) => spinner.message(`attache doctor: ${d.service} checked`) });
    const counts = count(report);
    spinner.finish(`doctor: ${report.services.length} service(s), ${counts.fail} failed, ${counts.warn} warning(s)`, report.ok);
    printReport(mode, report, () => human(report));
    if (!report.ok) return EXIT.problems;
    return options.strict && counts.warn > 0 ? EXIT.problems : EXIT.ok;
  } finally {
    await app.close();
  }
}

function count(report: DoctorReport): Record<DoctorCheck['status'], number> {
  const counts = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const service of report.services) for (const check of service.checks) counts[check.status] += 1;
  return counts;
}

function human(report: DoctorReport): string {
  const lines: string[] = [];
  for (const service of report.services) {
    lines.push('', `${service.service} (${service.adapter}): ${service.ok ? 'ok' : 'FAILED'}`);
    const width = Math.max(...service.checks.map((c) => c.check.length));
    for (const check of service.checks) {
      lines.push(`  ${SYMBOL[check.status]}  ${check.check.padEnd(width)}  ${check.reason}`);
      if (check.fix && (check.status === 'warn' || check.status === 'fail')) lines.push(`        ${' '.repeat(width)}  fix: ${check.fix}`);
    }
  }
  return lines.join('\n').trimStart();
}
