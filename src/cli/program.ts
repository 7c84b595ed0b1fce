import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { registerDoctor } from './commands/doctor.ts';
import { registerInstall } from './commands/install.ts';
import { registerOperations } from './commands/operations.ts';
import { registerSweep } from './commands/sweep.ts';
import { registerWork } from './commands/work.ts';
import { EXIT, describeError, exitCodeFor } from './exit.ts';
import { toJson } from './output.ts';

/** What a command's action resolves to: its exit code. */
export type CommandResult = Promise<number>;

/** Registers a command's action so that its exit code (or its error's) becomes the program's. */
export type Register = (program: Command, action: <O>(run: (options: O) => CommandResult) => (options: O) => Promise<void>) => void;

/** Parses argv and runs the command; resolves to the exit code (0 ok, 1 problems, 2 usage/config, 130 Ctrl-C). */
export async function run(argv: readonly string[]): Promise<number> {
  let code: number = EXIT.ok;
  const action = <O>(runCommand: (options: O) => CommandResult) => async (options: O) => {
    try {
      code = await runCommand(options);
    } catch (error) {
      code = exitCodeFor(error);
      if ((options as { json?: boolean }).json) process.stdout.write(`${toJson({ ok: false, error })}\n`);
      else process.stderr.write(`attache: ${describeError(error)}\n`);
    }
  };
  const program = new Command('attache')
    .description('Operations on attache\'s storage: check services, verify, move and re-encrypt blobs, sweep leftovers.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .showHelpAfterError('(attache --help lists the commands and options)');
  for (const register of [registerDoctor, registerOperations, registerSweep, registerInstall, registerWork] satisfies Register[]) register(program, action);
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    process.stderr.write(`attache: ${describeError(error)}\n`);
    return exitCodeFor(error);
  }
  return code;
}

/** attache's version from its package.json (src/cli or dist/src/cli). */
function packageVersion(): string {
  for (let dir = import.meta.dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'attache') return pkg.version ?? '0.0.0';
    } catch {
      // not here: one level up
    }
  }
  return '0.0.0';
}
