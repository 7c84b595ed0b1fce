import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { cliCommandLine, shellQuote, waitFor } from './support.ts';

const exec = promisify(execFile);

/** A real terminal (tmux, 120×30) running one CLI command; the pane shows what a user sees. */
export class TmuxRun {
  private screen = '';

  private constructor(readonly session: string) {}

  /** Starts `attache <args>` in a new detached tmux session, in `cwd`, with `env`'s variables exported. */
  static async start(args: readonly string[], options: { cwd: string; env: Record<string, string | undefined> }): Promise<TmuxRun> {
    const session = `attache-${randomBytes(4).toString('hex')}`;
    const script = path.join(options.cwd, `${session}.sh`);
    const exports = Object.entries(options.env).filter(([, v]) => v !== undefined).map(([k, v]) => `export ${k}=${shellQuote(v!)}`);
    await writeFile(script, [...exports, `cd ${shellQuote(options.cwd)}`, cliCommandLine(args), 'echo "EXIT=$?"', 'sleep 600', ''].join('\n'));
    // Right after the last session was killed the tmux server may still be exiting: retry then.
    for (let attempt = 1; ; attempt++) {
      try {
        await exec('tmux', ['new-session', '-d', '-s', session, '-x', '120', '-y', '30', `bash ${shellQuote(script)}`]);
        return new TmuxRun(session);
      } catch (error) {
        if (attempt >= 5 || !/server exited unexpectedly|no server running|lost server/.test(String(error))) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  /**
   * The pane's text now, with up to 300 lines of scrollback (no escapes). Lines the terminal
   * wrapped are joined (`-J`), so a sentence reads whole wherever the 120th column fell.
   */
  async capture(): Promise<string> {
    const { stdout } = await exec('tmux', ['capture-pane', '-p', '-J', '-S', '-300', '-t', this.session]);
    this.screen = stdout.replace(/[ \t]+$/gm, '');
    return this.screen;
  }

  /** Polls the pane until `predicate` holds; returns that screen. */
  async waitFor(predicate: (screen: string) => boolean, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = await this.capture();
      if (predicate(screen)) return screen;
      if (Date.now() > deadline) return waitFor(() => screen, predicate, 0);
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  }

  /** Waits for the command's end; returns its exit code and the final screen. */
  async exit(timeoutMs = 120_000): Promise<{ code: number; screen: string }> {
    const screen = await this.waitFor((s) => /^EXIT=\d+$/m.test(s), timeoutMs);
    return { code: Number(/^EXIT=(\d+)$/m.exec(screen)![1]), screen };
  }

  async keys(...keys: string[]): Promise<void> {
    await exec('tmux', ['send-keys', '-t', this.session, ...keys]);
  }

  async kill(): Promise<void> {
    await exec('tmux', ['kill-session', '-t', this.session]).catch(() => undefined);
  }
}
