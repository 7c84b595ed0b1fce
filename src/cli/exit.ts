import { ArgumentError, AttacheError, ConfigurationError, InvalidKeyError } from '../core/errors.ts';

/**
 * The CLI's exit codes: 0 all is well; 1 problems were found (or a step failed); 2 the command
 * could not start (usage, configuration, the database); 130 stopped by Ctrl-C, 143 by SIGTERM.
 */
export const EXIT = { ok: 0, problems: 1, usage: 2, sigint: 130, sigterm: 143 } as const;

/** A command line that cannot run as given (a missing option, a bad value, no DATABASE_URL). Exit code 2. */
export class UsageError extends ArgumentError {}

/** Exit code 2 for errors that mean "fix the command or the config", else 1. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof ConfigurationError || error instanceof ArgumentError || error instanceof InvalidKeyError) return EXIT.usage;
  return EXIT.problems;
}

/** One line for the terminal: the error's message (attache's messages name settings, never values). */
export function describeError(error: unknown): string {
  if (error instanceof AttacheError) return `${error.name}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
