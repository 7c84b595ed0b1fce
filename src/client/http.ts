/** The bits of a request the client sends; XMLHttpRequest because fetch has no upload progress. */
export interface SendOptions {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Blob | string | null;
  signal?: AbortSignal;
  onProgress?: (loaded: number) => void;
}

export interface SendResult {
  status: number;
  text: string;
  header(name: string): string | null;
}

/** Thrown for a non-2xx answer; `retryable` for network failures and 5xx answers. */
export class DirectUploadError extends Error {
  constructor(message: string, readonly status: number, readonly retryable: boolean) {
    super(message);
    this.name = 'DirectUploadError';
  }
}

/** Sends one request; rejects with DirectUploadError for network errors and non-2xx statuses, or the abort reason. */
export function send(options: SendOptions): Promise<SendResult> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(options.method, options.url);
    for (const [name, value] of Object.entries(options.headers ?? {})) xhr.setRequestHeader(name, value);
    const abort = () => xhr.abort();
    options.signal?.addEventListener('abort', abort, { once: true });
    xhr.upload.onprogress = (event) => options.onProgress?.(event.loaded);
    xhr.onload = () => {
      options.signal?.removeEventListener('abort', abort);
      const result = { status: xhr.status, text: xhr.responseText, header: (name: string) => xhr.getResponseHeader(name) };
      if (xhr.status >= 200 && xhr.status < 300) resolve(result);
      else reject(new DirectUploadError(`${options.method} ${options.url.split('?')[0]} answered ${xhr.status}${reason(xhr.responseText)}`, xhr.status, xhr.status >= 500));
    };
    xhr.onerror = () => reject(new DirectUploadError(`${options.method} failed: network error`, 0, true));
    xhr.onabort = () => reject(options.signal?.reason ?? new DOMException('Aborted', 'AbortError'));
    xhr.send(options.body ?? null);
  });
}

/** The server's `{ error, message }` explanation, when it sent one. */
function reason(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    return typeof body.error === 'string' ? `: ${body.error}${typeof body.message === 'string' ? `: ${body.message}` : ''}` : '';
  } catch {
    return '';
  }
}
