/** Receives one line of the HTTP debug log (no trailing newline). */
export type DebugLogger = (line: string) => void;

/** The default debug logger: stderr, like the seed's httplog. */
export const stderrLogger: DebugLogger = (line) => void process.stderr.write(`${line}\n`);

const PREFIX = '[attache:s3]';
const REDACTED = '[redacted]';

// Headers that carry credentials or an SSE-C key (or its fingerprint).
const SECRET_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-amz-security-token',
  'x-amz-server-side-encryption-customer-key',
  'x-amz-server-side-encryption-customer-key-md5',
  'x-amz-copy-source-server-side-encryption-customer-key',
  'x-amz-copy-source-server-side-encryption-customer-key-md5',
]);

// Query parameters that carry credentials or a signature (presigned-style requests).
const SECRET_QUERY = new Set(['x-amz-signature', 'x-amz-credential', 'x-amz-security-token', 'signature', 'awsaccesskeyid']);

/** The parts of a smithy HttpRequest the log reads. */
export interface LoggedRequest {
  method: string;
  protocol?: string;
  hostname?: string;
  port?: number;
  path?: string;
  query?: Record<string, string | string[] | null | undefined>;
  headers: Record<string, string>;
}

/** The parts of a smithy HttpResponse the log reads. */
export interface LoggedResponse {
  statusCode: number;
  headers: Record<string, string | undefined>;
}

/** The request line: method and URL, with secret query values redacted. */
export function describeRequest(request: LoggedRequest): string {
  const port = request.port === undefined ? '' : `:${request.port}`;
  const query = Object.entries(request.query ?? {}).flatMap(([name, value]) => {
    const values = Array.isArray(value) ? value : [value];
    return values.map((v) => {
      const shown = SECRET_QUERY.has(name.toLowerCase()) ? REDACTED : v;
      return shown === null || shown === undefined ? encodeURIComponent(name) : `${encodeURIComponent(name)}=${encodeURIComponent(shown)}`;
    });
  });
  const url = `${request.protocol ?? 'https:'}//${request.hostname ?? ''}${port}${request.path ?? '/'}${query.length ? `?${query.join('&')}` : ''}`;
  return `${request.method} ${url}`;
}

/** Header lines `name: value`, sorted, with credentials and SSE-C keys redacted. */
export function redactHeaders(headers: Record<string, string | undefined>): string[] {
  return Object.entries(headers)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${name.toLowerCase()}: ${SECRET_HEADERS.has(name.toLowerCase()) ? REDACTED : value}`)
    .sort();
}

/** Logs one request as sent (after signing, once per attempt) and its raw answer. Never logs bodies. */
export async function logExchange<T extends { response: unknown }>(
  log: DebugLogger,
  commandName: string,
  request: LoggedRequest,
  send: () => Promise<T>,
): Promise<T> {
  log(`${PREFIX} ${commandName}: ${describeRequest(request)}`);
  for (const line of redactHeaders(request.headers)) log(`${PREFIX} > ${line}`);
  const started = Date.now();
  try {
    const result = await send();
    const response = result.response as LoggedResponse;
    log(`${PREFIX} < ${response.statusCode} (${Date.now() - started} ms)`);
    for (const line of redactHeaders(response.headers)) log(`${PREFIX} < ${line}`);
    return result;
  } catch (error) {
    const name = error instanceof Error ? ((error as { code?: string }).code ?? error.name) : typeof error;
    log(`${PREFIX} ! ${name} (${Date.now() - started} ms)`);
    throw error;
  }
}

/** Whether the debug log is on: the `debug_http` setting, else ATTACHE_DEBUG_HTTP=1 (or true). */
export function debugHttpEnabled(setting: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (setting !== undefined) return setting;
  const value = env['ATTACHE_DEBUG_HTTP']?.trim().toLowerCase();
  return value === '1' || value === 'true';
}
