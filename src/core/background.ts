import { AttacheError } from './errors.ts';

/**
 * Tasks attache runs without making the caller wait (cleanup whose outcome must first be
 * confirmed, purges after a commit). `drain()` waits for them; a failure goes to `onFailure`.
 */
export class BackgroundTasks {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly onFailure: (action: string, error: AttacheError) => void) {}

  /** Starts `task` now; its failure is reported, never thrown. */
  run(action: string, task: () => Promise<void>): void {
    const running: Promise<void> = Promise.resolve()
      .then(task)
      .catch((error: unknown) => this.report(action, error))
      .finally(() => this.pending.delete(running));
    this.pending.add(running);
  }

  /** Reports work that did not complete (as an AttacheError). Never throws. */
  report(action: string, error: unknown): void {
    try {
      this.onFailure(action, error instanceof AttacheError ? error : new AttacheError(`Could not ${action}.`, { cause: error }));
    } catch {
      // A failing listener must not break the work that reported.
    }
  }

  /** Whether tasks are still running. */
  get busy(): boolean {
    return this.pending.size > 0;
  }

  /** Resolves when every task started so far (and any they start) has finished. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
