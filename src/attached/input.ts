import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Blob } from '../records/Blob.ts';
import { ArgumentError, FileNotFoundError } from '../core/errors.ts';
import { assertValidKey } from '../core/keys.ts';

/** What `attach` accepts: bytes, a stream, a described io, a file path, an existing Blob or a signed blob id. */
export type AttachInput =
  | Uint8Array
  | Readable
  | {
      io: Readable | Uint8Array;
      filename: string;
      contentType?: string;
      metadata?: Record<string, unknown>;
      identify?: boolean;
      /** Your own blob key instead of a random one; only with `trustKey: true`, and still validated. */
      key?: string;
      trustKey?: boolean;
    }
  | { path: string; filename?: string; contentType?: string; metadata?: Record<string, unknown> }
  | Blob
  | string;

/** A new file to upload. */
export interface NewFile {
  kind: 'file';
  body: Readable | Uint8Array;
  filename: string;
  declaredType?: string;
  metadata: Record<string, unknown>;
  /** false: trust the declared type (still never lets markup pass as another type). */
  identify: boolean;
  /** Size known before reading (Buffer or file path), to fail fast against limits. */
  knownSize?: number;
  /** A caller-chosen key (validated, and only when marked trusted). */
  key?: string;
}

export type NormalizedInput = NewFile | { kind: 'blob'; blob: Blob } | { kind: 'signed'; signedId: string };

/** Turns an AttachInput into one normalized shape. Throws ArgumentError for anything else. */
export async function normalizeInput(input: AttachInput): Promise<NormalizedInput> {
  if (input instanceof Blob) return { kind: 'blob', blob: input };
  if (typeof input === 'string') return { kind: 'signed', signedId: input };
  if (input instanceof Uint8Array) return file(input, 'file', { knownSize: input.byteLength });
  if (input instanceof Readable) return file(input, 'file');
  if (input && typeof input === 'object') {
    if ('io' in input) return fromIo(input);
    if ('path' in input) return fromPath(input);
  }
  throw new ArgumentError('attach takes a Buffer, a Readable, { io, filename }, { path }, a Blob or a signed blob id.');
}

function fromIo(input: Extract<AttachInput, { io: unknown }>): NewFile {
  const { io, filename, contentType, metadata, identify, key, trustKey } = input;
  if (key !== undefined) {
    if (trustKey !== true) throw new ArgumentError('A caller-chosen key needs `trustKey: true`: keys are generated unless you vouch for yours.');
    assertValidKey(key);
  }
  if (!(io instanceof Uint8Array) && !(io instanceof Readable)) throw new ArgumentError('{ io } must be a Readable or a Buffer.');
  if (typeof filename !== 'string' || filename === '') throw new ArgumentError('{ io } needs a filename.');
  return file(io, filename, { declaredType: contentType, metadata, identify, key, knownSize: io instanceof Uint8Array ? io.byteLength : undefined });
}

async function fromPath(input: Extract<AttachInput, { path: string }>): Promise<NewFile> {
  if (typeof input.path !== 'string' || input.path === '') throw new ArgumentError('{ path } must be a file path.');
  let size: number;
  try {
    const info = await stat(input.path);
    if (!info.isFile()) throw new ArgumentError(`${input.path} is not a regular file.`);
    size = info.size;
  } catch (error) {
    if (error instanceof ArgumentError) throw error;
    throw new FileNotFoundError(`Cannot read ${input.path}.`, { cause: error });
  }
  return file(createReadStream(input.path), input.filename ?? path.basename(input.path), {
    declaredType: input.contentType,
    metadata: input.metadata,
    knownSize: size,
  });
}

function file(body: Readable | Uint8Array, filename: string, extra: Partial<Omit<NewFile, 'kind' | 'body' | 'filename'>> = {}): NewFile {
  return {
    kind: 'file',
    body,
    filename,
    declaredType: extra.declaredType,
    metadata: extra.metadata ?? {},
    identify: extra.identify ?? true,
    knownSize: extra.knownSize,
    key: extra.key,
  };
}
