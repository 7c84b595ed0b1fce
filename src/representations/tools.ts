import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { ProcessingError } from '../core/errors.ts';

/** The external programs attache's analyzers and previewers use. */
export type ToolName = 'ffprobe' | 'ffmpeg' | 'pdfinfo' | 'pdftoppm';

/** Where the tools are and how long they may run. */
export interface ToolOptions {
  /** Paths of the tools (Rails' `config.active_storage.paths`); default: looked up on the PATH. */
  paths?: Partial<Record<ToolName, string>>;
  /** Seconds one run may take before it is killed; default 30. */
  timeout?: number;
}

/** The output one run produced. */
export interface ToolOutput {
  stdout: Buffer;
  stderr: string;
}

/** Most bytes a tool may write to stdout (a preview image, JSON) before it is killed. */
export const MAX_TOOL_OUTPUT = 64 * 1024 * 1024;
const MAX_STDERR = 4096;

/**
 * Runs external tools. Invariant: every external process attache starts is started here: no
 * shell (an argument array), stdin closed, a timeout that kills it, stdout and stderr bounded.
 */
export class Tools {
  private readonly available = new Map<ToolName, boolean>();
  readonly timeout: number;

  constructor(private readonly options: ToolOptions = {}) {
    this.timeout = options.timeout ?? 30;
  }

  /** Whether `tool` is installed: its configured path, or an executable of that name on the PATH. Looked up once. */
  hasSync(tool: ToolName): boolean {
    let found = this.available.get(tool);
    if (found === undefined) {
      const configured = this.options.paths?.[tool];
      const candidates = configured ? [configured] : (process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, tool));
      found = candidates.some(isExecutable);
      this.available.set(tool, found);
    }
    return found;
  }

  /**
   * Runs `tool` with `args` and resolves to its output when it exits 0. Throws ProcessingError:
   * tool_missing (not installed), timeout, output_too_large, tool_failed (non-zero exit; the
   * message names the tool and the exit status, and the stderr tail is in the cause).
   */
  run(tool: ToolName, args: readonly string[], limits: { timeout?: number; maxOutput?: number } = {}): Promise<ToolOutput> {
    const command = this.options.paths?.[tool] ?? tool;
    const timeoutMs = (limits.timeout ?? this.timeout) * 1000;
    const maxOutput = limits.maxOutput ?? MAX_TOOL_OUTPUT;
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { shell: false, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
      const stdout: Buffer[] = [];
      let stdoutBytes = 0;
      let stderr = '';
      let failure: ProcessingError | undefined;
      const stop = (error: ProcessingError): void => {
        failure ??= error;
        child.kill('SIGKILL');
      };
      const timer = setTimeout(() => stop(new ProcessingError('timeout', `${tool} took longer than ${timeoutMs / 1000} s and was stopped.`)), timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => {
        stdoutBytes += chunk.length;
        if (stdoutBytes > maxOutput) return stop(new ProcessingError('output_too_large', `${tool} wrote more than ${maxOutput} bytes and was stopped.`));
        stdout.push(chunk);
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString('utf8')).slice(-MAX_STDERR);
      });
      child.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const missing = error.code === 'ENOENT' || error.code === 'EACCES';
        reject(new ProcessingError(missing ? 'tool_missing' : 'tool_failed', missing ? `${tool} is not installed (or not executable).` : `${tool} could not be started.`, { cause: error }));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        if (failure) return reject(failure);
        if (code === 0) return resolve({ stdout: Buffer.concat(stdout), stderr });
        const status = code === null ? `signal ${signal}` : `status ${code}`;
        reject(new ProcessingError('tool_failed', `${tool} failed (${status}).`, { cause: new Error(stderr.trim() || `${tool} exited with ${status}`) }));
      });
    });
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
