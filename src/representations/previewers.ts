import { mediaTypeOf, type BlobFacts, type ProcessingContext } from './analyzer.ts';
import { ffmpegInput } from './media-analyzers.ts';
import type { ToolName, Tools } from './tools.ts';

/** A preview image a previewer drew. */
export interface PreviewImage {
  data: Buffer;
  contentType: string;
  /** The extension of the preview image's filename (`png`, `jpg`), as Rails names it. */
  extension: string;
}

/**
 * Draws an image of a non-image file (Rails' ActiveStorage::Previewer): the first page of a PDF,
 * a frame of a video. The first previewer that accepts a blob, and whose tools are installed,
 * makes its preview. Register your own with `Attache.init({ previewers: [mine, ...defaultPreviewers] })`.
 */
export interface Previewer {
  readonly name: string;
  /** The external tools it needs: without them the blob is not previewable. */
  readonly tools: readonly ToolName[];
  /** Whether it previews blobs like this one (decide on the content type). */
  accept(blob: BlobFacts): boolean;
  /** Draws the preview of the file at `file`, a verified temporary copy. Throws ProcessingError. */
  preview(file: string, blob: BlobFacts, context: ProcessingContext): Promise<PreviewImage>;
}

/** Largest preview edge in pixels: a PDF page or video frame is cut (PDF) or scaled (video) to fit, so no tool output is a pixel bomb. */
export const MAX_PREVIEW_EDGE = 4096;

/** Rails' PopplerPDFPreviewer: the first page at 72 dpi as PNG, through `pdftoppm`, cut to 4096 × 4096 at most. */
export const pdfPreviewer: Previewer = {
  name: 'pdf',
  tools: ['pdftoppm'],
  accept: (blob) => mediaTypeOf(blob) === 'application/pdf',
  async preview(file, _blob, context) {
    const edge = String(MAX_PREVIEW_EDGE);
    const args = ['-singlefile', '-f', '1', '-l', '1', '-cropbox', '-r', '72', '-W', edge, '-H', edge, '-png', file];
    const { stdout } = await context.tools.run('pdftoppm', args);
    return { data: stdout, contentType: 'image/png', extension: 'png' };
  },
};

/** Rails' VideoPreviewer: the first frame as JPEG, through `ffmpeg` (allowed demuxers only), scaled to 4096 px at most. */
export const videoPreviewer: Previewer = {
  name: 'video',
  tools: ['ffmpeg'],
  accept: (blob) => mediaTypeOf(blob).startsWith('video/'),
  async preview(file, _blob, context) {
    const fit = `scale='min(${MAX_PREVIEW_EDGE},iw)':'min(${MAX_PREVIEW_EDGE},ih)':force_original_aspect_ratio=decrease`;
    const args = ['-nostdin', '-v', 'error', ...ffmpegInput(file), '-frames:v', '1', '-vf', fit, '-f', 'image2', '-c:v', 'mjpeg', 'pipe:1'];
    const { stdout } = await context.tools.run('ffmpeg', args);
    return { data: stdout, contentType: 'image/jpeg', extension: 'jpg' };
  },
};

/** Whether a previewer takes the blob and can run here. */
export function previewerAccepts(previewer: Previewer, blob: BlobFacts, tools: Tools): boolean {
  return previewer.accept(blob) && previewer.tools.every((tool) => tools.hasSync(tool));
}
