import { execFileSync, spawnSync } from 'node:child_process';

const printed = new Set<string>();

/** Why Ruby checks cannot run here (undefined when they can); printed once, for `describe.skipIf`. */
export function rubyMissing(needs: 'ruby' | 'activestorage' = 'ruby'): string | undefined {
  const probe = needs === 'ruby' ? 'print RUBY_VERSION' : 'require "active_record"; require "active_storage"; require "pg"; print ActiveStorage::VERSION::STRING';
  const result = spawnSync('ruby', ['-e', probe], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const reason = result.error ? '`ruby` is not on the PATH' : result.status !== 0 ? `ruby cannot load ${needs} (apt-get install ruby-activestorage ruby-activerecord ruby-pg)` : undefined;
  if (reason && !printed.has(needs)) {
    printed.add(needs);
    console.warn(`[attache] skipping the Ruby ${needs} checks: ${reason}`);
  }
  return reason;
}

/** Runs a Ruby script (no shell) with `args` and returns its stdout. Throws with Ruby's stderr on failure. */
export function ruby(script: string, args: readonly string[] = [], env: Record<string, string> = {}): string {
  return execFileSync('ruby', ['-e', script, '--', ...args], { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 * 1024 * 1024 });
}
