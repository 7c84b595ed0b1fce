import { computeChecksums } from './checksum.ts';
import { DirectUploadError, send } from './http.ts';

export interface DirectUploadOptions {
  /** `Entity#attachment` (e.g. `User#avatar`): the server decides the service and the limits from it. */
  attachment: string;
  /** Extra headers for the request to your app (e.g. a CSRF token). */
  headers?: Record<string, string>;
  metadata?: Record<string, unknown>;
  /** Files of at least this many bytes are uploaded in parts (default 100 MiB), when the service supports it. */
  multipartThreshold?: number;
  /** Part size for multipart uploads (default 16 MiB; S3 needs at least 5 MiB). */
  partSize?: number;
  /** Tries per request after a network error or a 5xx answer (default 4). */
  retries?: number;
}

export interface DirectUploadProgress {
  phase: 'checksum' | 'upload';
  loaded: number;
  total: number;
}

interface Target {
  url: string;
  headers: Record<string, string>;
}

interface CreateAnswer {
  signedId: string;
  directUpload: Target | { parts: Array<Target & { partNumber: number }>; complete: Target };
}

/**
 * Uploads a file straight to storage: asks your app (`POST {mount}/direct_uploads`) where to, then
 * PUTs the bytes there with the exact headers it was given. `start()` resolves to the signed blob id
 * to attach. Emits `progress` events (CustomEvent<DirectUploadProgress>); `abort()` stops it.
 */
export class DirectUpload extends EventTarget {
  private readonly controller = new AbortController();

  constructor(readonly file: File | Blob, readonly url: string, readonly options: DirectUploadOptions) {
    super();
  }

  /** Uploads the file and resolves to its signed blob id. Rejects with DirectUploadError, or the abort reason. */
  async start(): Promise<string> {
    const { signal } = this.controller;
    const partSize = this.file.size >= (this.options.multipartThreshold ?? 100 * 1024 * 1024) ? (this.options.partSize ?? 16 * 1024 * 1024) : null;
    this.progress('checksum', 0);
    const sums = await computeChecksums(this.file, partSize, signal);
    this.progress('checksum', this.file.size);
    const answer = await this.create(sums.checksum, partSize ? sums.parts : undefined);
    const target = answer.directUpload;
    if ('parts' in target) await this.uploadParts(target.parts, partSize!, target.complete);
    else await this.withRetries(() => send({ method: 'PUT', url: target.url, headers: target.headers, body: this.file, signal, onProgress: (n) => this.progress('upload', n) }));
    this.progress('upload', this.file.size);
    return answer.signedId;
  }

  /** Stops the upload; `start()` rejects with an AbortError. */
  abort(): void {
    this.controller.abort(new DOMException('The upload was aborted.', 'AbortError'));
  }

  private async create(checksum: string, parts?: Array<{ byteSize: number; checksum: string }>): Promise<CreateAnswer> {
    const file = this.file as Partial<File> & Blob;
    const body = JSON.stringify({
      attachment: this.options.attachment,
      filename: file.name ?? 'file',
      byteSize: this.file.size,
      checksum,
      contentType: this.file.type || 'application/octet-stream',
      metadata: this.options.metadata ?? {},
      ...(parts ? { parts } : {}),
    });
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json', ...this.options.headers };
    const result = await send({ method: 'POST', url: this.url, headers, body, signal: this.controller.signal });
    return JSON.parse(result.text) as CreateAnswer;
  }

  private async uploadParts(parts: Array<Target & { partNumber: number }>, partSize: number, complete: Target): Promise<void> {
    const loaded = new Map<number, number>();
    const report = () => this.progress('upload', [...loaded.values()].reduce((a, b) => a + b, 0));
    let next = 0;
    const worker = async () => {
      while (next < parts.length) {
        const part = parts[next++]!;
        const body = this.file.slice((part.partNumber - 1) * partSize, part.partNumber * partSize);
        await this.withRetries(() =>
          send({ method: 'PUT', url: part.url, headers: part.headers, body, signal: this.controller.signal, onProgress: (n) => (loaded.set(part.partNumber, n), report()) }),
        );
        loaded.set(part.partNumber, body.size);
        report();
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    const headers = { 'Content-Type': 'application/json', ...this.options.headers, ...complete.headers };
    await this.withRetries(() => send({ method: 'POST', url: complete.url, headers, body: '{}', signal: this.controller.signal }));
  }

  /** Retries a request after network errors and 5xx answers, with a growing pause (resumes a lost connection). */
  private async withRetries<T>(request: () => Promise<T>): Promise<T> {
    const tries = this.options.retries ?? 4;
    for (let attempt = 1; ; attempt++) {
      try {
        return await request();
      } catch (error) {
        if (!(error instanceof DirectUploadError) || !error.retryable || attempt >= tries || this.controller.signal.aborted) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
      }
    }
  }

  private progress(phase: DirectUploadProgress['phase'], loaded: number): void {
    this.dispatchEvent(new CustomEvent<DirectUploadProgress>('progress', { detail: { phase, loaded, total: this.file.size } }));
  }
}
