import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { Blob } from '../records/Blob.ts';
import { ArgumentError, FileNotFoundError, StorageAccessError } from '../core/errors.ts';
import { assertValidKey } from '../core/keys.ts';

/** A new file described by its bytes: `{ io, filename }` (Rails' `attach(io:, filename:)`). */
export interface AttachIo {
  io: Readable | Uint8Array;
  filename: string;
  contentType?: string;
  metadata?: Record<string, unknown>;
  /** false: trust `contentType` instead of sniffing (markup is still never believed to be anything else). */
  identify?: boolean;
  /** Your own blob key instead of a random one; only with `trustKey: true`, and still validated. */
  key?: string;
  trustKey?: boolean;
}

export interface LocalFileOptions {
  filename?: string;
  contentType?: string;
  metadata?: Record<string, unknown>;
}

/**
 * A file on this machine to attach. Only `fromPath()` makes one, and JSON can never produce a
 * class instance, so a value parsed from a request body can never make attache read a server path.
 */
export class LocalFile {
  // A private field makes the type nominal: a plain `{ path }` object does not type-check as a LocalFile.
  readonly #local = true;

  /** @internal Use fromPath(). */
  constructor(readonly path: string, readonly options: LocalFileOptions = {}) {}

  /** Whether this is a LocalFile made by fromPath(). */
  static is(value: unknown): value is LocalFile {
    return typeof value === 'object' && value !== null && #local in value;
  }
}

/** A local file to attach: `user.avatar.attach(fromPath('ada.png'))`. Throws ArgumentError for a non-string path. */
export function fromPath(file: string, options: LocalFileOptions = {}): LocalFile {
  if (typeof file !== 'string' || file === '') throw new ArgumentError('fromPath() takes a file path.');
  return new LocalFile(file, options);
}

/**
 * What `attach` accepts: bytes, a stream, `{ io, filename }`, a `fromPath()` file, an existing
 * Blob, or a signed blob id (a string is only ever a signed id, never a path).
 */
export type AttachInput = Uint8Array | Readable | AttachIo | LocalFile | Blob | string;

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

/** An existing blob: a Blob instance, or one named by a signed id (attache's own direct uploads say which attachment they were made for). */
export interface ExistingBlob {
  kind: 'blob';
  blob?: Blob;
  signedId?: string;
}

export type NormalizedInput = NewFile | ExistingBlob;

/** Turns an AttachInput into one normalized shape. Throws ArgumentError for anything else. */
export async function normalizeInput(input: AttachInput): Promise<NormalizedInput> {
  if (input instanceof Blob) return { kind: 'blob', blob: input };
  if (typeof input === 'string') return { kind: 'blob', signedId: input };
  if (input instanceof Uint8Array) return file(input, 'file', { knownSize: input.byteLength });
  if (input instanceof Readable) return file(input, 'file');
  if (LocalFile.is(input)) return fromLocalFile(input);
  if (input && typeof input === 'object' && 'io' in input) return fromIo(input);
  if (input && typeof input === 'object' && 'path' in input) {
    throw new ArgumentError('attach does not read { path } objects (a request body could name a server file): pass fromPath(path) instead.');
  }
  throw new ArgumentError('attach takes a Buffer, a Readable, { io, filename }, fromPath(path), a Blob or a signed blob id.');
}

/** Normalizes every input before anything is uploaded; on a bad one, releases the others' streams. */
export async function normalizeAll(inputs: readonly AttachInput[]): Promise<NormalizedInput[]> {
  const normalized: NormalizedInput[] = [];
  try {
    for (const input of inputs) normalized.push(await normalizeInput(input));
    return normalized;
  } catch (error) {
    for (const input of normalized) if (input.kind === 'file' && input.body instanceof Readable) input.body.destroy();
    throw error;
  }
}

function fromIo(input: AttachIo): NewFile {
  const { io, filename, contentType, metadata, identify, key, trustKey } = input;
  if (key !== undefined) {
    if (trustKey !== true) throw new ArgumentError('A caller-chosen key needs `trustKey: true`: keys are generated unless you vouch for yours.');
    assertValidKey(key);
  }
  if (!(io instanceof Uint8Array) && !(io instanceof Readable)) throw new ArgumentError('{ io } must be a Readable or a Buffer.');
  if (typeof filename !== 'string' || filename === '') throw new ArgumentError('{ io } needs a filename.');
  return file(io, filename, { declaredType: contentType, metadata, identify, key, knownSize: io instanceof Uint8Array ? io.byteLength : undefined });
}

async function fromLocalFile(input: LocalFile): Promise<NewFile> {
  let size: number;
  try {
    const info = await stat(input.path);
    if (!info.isFile()) throw new ArgumentError('The path given to fromPath() is not a regular file.');
    size = info.size;
  } catch (error) {
    throw readError(error);
  }
  const { filename, contentType, metadata } = input.options;
  return file(readLocal(input.path), filename ?? path.basename(input.path), { declaredType: contentType, metadata, knownSize: size });
}

/** The file's bytes; a read failure (vanished, unreadable) errors the stream with a typed error. */
function readLocal(file: string): Readable {
  const out = new PassThrough();
  const source = createReadStream(file);
  source.once('error', (error) => out.destroy(readError(error)));
  out.once('close', () => source.destroy());
  return source.pipe(out);
}

function readError(error: unknown): Error {
  if (error instanceof ArgumentError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  // The path is the caller's; the message names neither it nor the OS message, which may echo it.
  if (code === 'ENOENT' || code === 'ENOTDIR') return new FileNotFoundError('The file given to fromPath() does not exist.', { cause: error });
  return new StorageAccessError(`The file given to fromPath() cannot be read (${typeof code === 'string' ? code : 'read error'}).`, { cause: error });
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
