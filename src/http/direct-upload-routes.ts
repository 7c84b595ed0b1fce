import { AttacheError, ConfigurationError, InvalidSignatureError } from '../core/errors.ts';
import { completeDirectUpload, createDirectUpload, resolveAttachment, startDirectUpload, type DirectUploadRequest } from '../attached/direct-upload.ts';
import { railsDirectUploadJson, railsDirectUploadRequest } from './rails/direct-uploads.ts';
import { forbidden, methodNotAllowed, type CoreRequest, type CoreResponse, type RouteContext } from './core.ts';

/** Largest JSON body accepted by the direct-upload routes (a request with 10,000 parts fits). */
const MAX_JSON_BYTES = 1024 * 1024;

type AuthorizeDirectUpload = NonNullable<RouteContext['authorizeDirectUpload']>;

/**
 * `POST {mount}/direct_uploads`: the server resolves the service and the limits from the
 * attachment's definition, never from the client, and answers `{ signedId, directUpload }`
 * (or, to Rails' body `{ blob: … }`, Rails' answer; see rails/direct-uploads.ts).
 * Refusals (limits, malformed requests) are 422 with `{ error, message }`.
 */
export async function directUploadCreate(ctx: RouteContext, req: CoreRequest, authorize: AuthorizeDirectUpload | undefined): Promise<CoreResponse> {
  const refused = methodNotAllowed(req.method, ['POST']);
  if (refused) return refused;
  return refusalsAs422(async () => {
    const body = await readJson(req);
    const rails = railsDirectUploadRequest(body, req.query); // @rails/activestorage's shape, answered in Rails' shape
    const request = rails ?? (body as DirectUploadRequest);
    const definition = resolveAttachment(ctx.rt, request?.attachment);
    if (authorize && !(await authorize(req.raw, definition))) return forbidden();
    if (rails) {
      const { blob, response } = await startDirectUpload(ctx.rt, rails);
      return json(200, railsDirectUploadJson(blob, response));
    }
    return json(200, await createDirectUpload(ctx.rt, request));
  });
}

/** `POST {mount}/direct_uploads/complete/:token`: completes a multipart direct upload (204). */
export async function directUploadComplete(ctx: RouteContext, req: CoreRequest, token: string): Promise<CoreResponse> {
  const refused = methodNotAllowed(req.method, ['POST']);
  if (refused) return refused;
  return refusalsAs422(async () => {
    await completeDirectUpload(ctx.rt, token);
    return { status: 204, headers: { 'cache-control': 'no-store' }, body: null };
  });
}

/** AttacheErrors the client caused become 422 with their name; signature errors and bugs go on (404 / 500). */
async function refusalsAs422(run: () => Promise<CoreResponse>): Promise<CoreResponse> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof AttacheError && !(error instanceof InvalidSignatureError) && !(error instanceof ConfigurationError)) {
      return json(422, { error: error.name, message: error.message });
    }
    throw error;
  }
}

async function readJson(req: CoreRequest): Promise<unknown> {
  const type = req.headers.get('content-type') ?? '';
  if (!/^application\/json\b/i.test(type)) throw new JsonError('Send the request as application/json.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req.body ?? []) {
    size += (chunk as Buffer).length;
    if (size > MAX_JSON_BYTES) throw new JsonError('The request body is too large.');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (cause) {
    throw new JsonError('The request body is not valid JSON.', { cause });
  }
}

class JsonError extends AttacheError {
  override readonly code = 'E_BAD_REQUEST';
}

function json(status: number, value: unknown): CoreResponse {
  const body = Buffer.from(JSON.stringify(value));
  return { status, headers: { 'content-type': 'application/json', 'content-length': String(body.length), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }, body };
}

