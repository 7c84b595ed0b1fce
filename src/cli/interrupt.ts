import { EXIT } from './exit.ts';

/**
 * Ctrl-C and SIGTERM during an operation: the first one aborts `signal`, so the operation takes no
 * new blob, finishes the ones in flight and writes its checkpoint; a second one exits at once
 * (130), and the checkpoint still holds what was committed.
 */
export class Interrupt {
  readonly #controller = new AbortController();
  #received: NodeJS.Signals | undefined;
  readonly #onSignal = (name: NodeJS.Signals): void => {
    if (this.#received !== undefined) process.exit(EXIT.sigint);
    this.#received = name;
    this.notify(name);
    this.#controller.abort(new Error(`stopped by ${name}`));
  };

  constructor(private readonly notify: (signal: NodeJS.Signals) => void = () => undefined) {
    process.on('SIGINT', this.#onSignal);
    process.on('SIGTERM', this.#onSignal);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The signal received, if any. */
  get received(): NodeJS.Signals | undefined {
    return this.#received;
  }

  /** 130 after SIGINT, 143 after SIGTERM, else `code`. */
  exitCode(code: number): number {
    if (this.#received === 'SIGINT') return EXIT.sigint;
    if (this.#received === 'SIGTERM') return EXIT.sigterm;
    return code;
  }

  dispose(): void {
    process.removeListener('SIGINT', this.#onSignal);
    process.removeListener('SIGTERM', this.#onSignal);
  }
}
