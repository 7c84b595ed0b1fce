import { parseMediaType } from '../content/content-type.ts';
import type { Blob } from '../records/Blob.ts';
import type { ImageLimits } from './image-processor.ts';
import type { Tools } from './tools.ts';

/** What analyzers and previewers get to work with. */
export interface ProcessingContext {
  /** Runs ffprobe, ffmpeg, pdfinfo and pdftoppm (no shell, timeouts, bounded output). */
  tools: Tools;
  limits: ImageLimits;
}

/** The blob facts an analyzer or previewer decides on. */
export type BlobFacts = Pick<Blob, 'contentType' | 'filename' | 'byteSize'>;

/**
 * Extracts metadata from a file (Rails' ActiveStorage::Analyzer). The first analyzer whose
 * `accept` is true analyzes a blob; its result is merged into `blob.metadata` under Rails' keys,
 * with `analyzed: true`. Register your own with `Attache.init({ analyzers: [mine, ...defaultAnalyzers] })`.
 */
export interface Analyzer {
  /** A name for events and logs (`image`, `video`, …). */
  readonly name: string;
  /** Whether this analyzer reads blobs like this one (decide on the content type). */
  accept(blob: BlobFacts): boolean;
  /**
   * The metadata of the file at `file`, a verified temporary copy of the blob. Throw a
   * ProcessingError when the tool is missing or the file cannot be read: the blob is then marked
   * analyzed with nothing extracted, and an `analysis:skipped` event says why.
   */
  metadata(file: string, blob: BlobFacts, context: ProcessingContext): Promise<Record<string, unknown>>;
}

/** The media type of a blob, or '' when it has none. */
export function mediaTypeOf(blob: BlobFacts): string {
  return parseMediaType(blob.contentType) ?? '';
}
