import type { AttacheJob } from '../jobs/queue.ts';
import { ArgumentError, InvariableError, UnpreviewableError, UnrepresentableError } from '../core/errors.ts';
import type { AnalysisSkipped, PreprocessFailed } from '../core/events.ts';
import type { Blob } from '../records/Blob.ts';
import type { AttacheRuntime, Representation, RepresentationPort } from '../records/runtime.ts';
import { analyzeBlob } from './analysis.ts';
import type { Analyzer, BlobFacts, ProcessingContext } from './analyzer.ts';
import { defaultVariantFormat, isVariable, RAILS_WEB_IMAGE_CONTENT_TYPES, type FormatChoice, type RailsTables } from './formats.ts';
import { GenerateOnce } from './generate-once.ts';
import { imageAnalyzer } from './image-analyzer.ts';
import { Later } from './Later.ts';
import { ImageMaker } from './maker.ts';
import { audioAnalyzer, videoAnalyzer } from './media-analyzers.ts';
import { pdfAnalyzer } from './pdf-analyzer.ts';
import { preloadImages } from './preload.ts';
import { Preview } from './Preview.ts';
import { pdfPreviewer, previewerAccepts, videoPreviewer, type Previewer } from './previewers.ts';
import { Tools, type ToolName } from './tools.ts';
import type { Transformations } from './transformations.ts';
import { Variant, type RepresentationKit } from './Variant.ts';
import { Variation } from './variation.ts';
import { preprocessedVariants } from './jobs.ts';

/** The analyzers attache runs, in order: images (sharp), video and audio (ffprobe), PDF (pdfinfo). */
export const defaultAnalyzers: readonly Analyzer[] = Object.freeze([imageAnalyzer, videoAnalyzer, audioAnalyzer, pdfAnalyzer]);
/** The previewers attache runs, in order: PDF (pdftoppm), video (ffmpeg). */
export const defaultPreviewers: readonly Previewer[] = Object.freeze([pdfPreviewer, videoPreviewer]);

/** `Attache.init({ representations })`: variants, previews and analysis. Every setting is optional. */
export interface RepresentationOptions {
  /** Largest image decoded, in pixels (width × height); larger ones are refused unread. Default 64 000 000. */
  maxInputPixels?: number;
  /** Seconds one transformation or external tool run may take. Default 30. */
  timeout?: number;
  /** Paths of ffprobe, ffmpeg, pdfinfo and pdftoppm (Rails' `config.active_storage.paths`); default: the PATH. */
  paths?: Partial<Record<ToolName, string>>;
  /** Images made at once by this process. Default 2; each holds two pool connections while it runs. */
  concurrency?: number;
  /** Seconds to wait for another process making the same image. Default 120. */
  waitForOthers?: number;
  /** The analyzers, in order (default `defaultAnalyzers`). */
  analyzers?: readonly Analyzer[];
  /** The previewers, in order (default `defaultPreviewers`). */
  previewers?: readonly Previewer[];
  /** Whose extension tables name a default variant format, for digests that match that Rails app: '6.1' (MiniMime, default) or '7.1' (Marcel). */
  rails?: RailsTables;
  /** Rails' `web_image_content_types`: images whose variants keep their format (default Rails 6.1's png, jpeg, jpg, gif). */
  webImageContentTypes?: readonly string[];
}

/** The events this module reports through its Attache. */
export interface RepresentationEvents {
  analysisSkipped(event: AnalysisSkipped): void;
  preprocessFailed(event: PreprocessFailed): void;
}

/** Variants, previews and analysis for one Attache: what `blob.variant()` and the accessors reach through the runtime. */
export class Representations implements RepresentationPort, RepresentationKit {
  readonly maker: ImageMaker;
  readonly context: ProcessingContext;
  private readonly analyzerList: Analyzer[];
  private readonly previewerList: Previewer[];
  private readonly rails: RailsTables;
  private readonly webImageTypes: readonly string[];

  constructor(readonly rt: AttacheRuntime, options: RepresentationOptions, readonly events: RepresentationEvents) {
    const maxInputPixels = positiveInteger(options.maxInputPixels ?? 64_000_000, 'maxInputPixels');
    const timeout = positiveInteger(options.timeout ?? 30, 'timeout');
    this.context = { tools: new Tools({ paths: options.paths, timeout }), limits: { maxInputPixels, timeout } };
    const generation = { concurrency: positiveInteger(options.concurrency ?? 2, 'concurrency'), wait: positiveInteger(options.waitForOthers ?? 120, 'waitForOthers') };
    this.analyzerList = [...(options.analyzers ?? defaultAnalyzers)];
    this.previewerList = [...(options.previewers ?? defaultPreviewers)];
    this.rails = options.rails ?? '6.1';
    if (this.rails !== '6.1' && this.rails !== '7.1') throw new ArgumentError("representations.rails must be '6.1' or '7.1'.");
    this.webImageTypes = [...(options.webImageContentTypes ?? RAILS_WEB_IMAGE_CONTENT_TYPES)];
    this.maker = new ImageMaker(rt, this.context, new GenerateOnce(rt, generation), (blob) => this.previewerFor(blob));
  }

  /** The analyzers, in the order they are asked. */
  get analyzers(): readonly Analyzer[] {
    return this.analyzerList;
  }

  /** The previewers, in the order they are asked. */
  get previewers(): readonly Previewer[] {
    return this.previewerList;
  }

  /** Adds an analyzer before the others (so it wins for the blobs it accepts). Returns this. */
  registerAnalyzer(analyzer: Analyzer): this {
    this.analyzerList.unshift(analyzer);
    return this;
  }

  /** Adds a previewer before the others. Returns this. */
  registerPreviewer(previewer: Previewer): this {
    this.previewerList.unshift(previewer);
    return this;
  }

  variant(blob: Blob, transformations: Transformations | Variation): Representation {
    if (!this.variable(blob)) throw new InvariableError(`Variants are made of PNG, JPEG, GIF, WebP, TIFF and AVIF images; this blob is ${blob.contentType ?? 'of no type'}.`);
    return new Variant(this, blob, asVariation(transformations));
  }

  preview(blob: Blob, transformations: Transformations | Variation): Representation {
    if (!this.previewable(blob)) throw new UnpreviewableError(`No previewer can draw a ${blob.contentType ?? 'file of no type'} here (a PDF needs pdftoppm, a video ffmpeg).`);
    return new Preview(this, blob, asVariation(transformations));
  }

  representation(blob: Blob, transformations: Transformations | Variation): Representation {
    if (this.previewable(blob)) return this.preview(blob, transformations);
    if (this.variable(blob)) return this.variant(blob, transformations);
    throw new UnrepresentableError(`A ${blob.contentType ?? 'file of no type'} is neither an image attache transforms nor a file it previews.`);
  }

  later(kind: 'variant' | 'preview' | 'representation', load: () => Promise<Blob>, transformations: Transformations): Representation {
    const variation = Variation.of(transformations, kind);
    return new Later(async () => this[kind](await load(), variation));
  }

  variable(blob: BlobFacts): boolean {
    return isVariable(blob.contentType);
  }

  previewable(blob: BlobFacts): boolean {
    return this.previewerFor(blob) !== undefined;
  }

  defaultFormat(blob: Blob): FormatChoice {
    return defaultVariantFormat(blob, this.rails, this.webImageTypes);
  }

  /** Analyzes the blob now (what the analyze job runs). See analyzeBlob. */
  analyze(blob: Blob): Promise<void> {
    return analyzeBlob(this.rt, blob, this.analyzers, this.context, (event) => this.events.analysisSkipped(event));
  }

  /**
   * The jobs an attach of `blobs` under `attachment` asks for: analysis of the blobs not analyzed
   * yet, and the attachment's preprocessed variants. The attach enqueues them inside its
   * transaction, so they exist if and only if it commits.
   */
  jobsAfterAttach(attachment: string | undefined, blobs: readonly Blob[]): AttacheJob[] {
    const preprocessed = preprocessedVariants(this.rt, attachment);
    const jobs: AttacheJob[] = [];
    for (const blob of blobs) {
      if (blob.metadata?.['analyzed'] !== true) jobs.push({ type: 'analyze', blobId: blob.id });
      if (!this.variable(blob) && !this.previewable(blob)) continue;
      for (const transformations of preprocessed) {
        jobs.push({ type: 'preprocess', blobId: blob.id, variation: Variation.of(transformations).sign(this.rt.verifier, blob.id) });
      }
    }
    return jobs;
  }

  preload(blobs: readonly Blob[]): Promise<void> {
    return preloadImages(this.rt, blobs);
  }

  private previewerFor(blob: BlobFacts): Previewer | undefined {
    return this.previewers.find((previewer) => previewerAccepts(previewer, blob, this.context.tools));
  }
}

function asVariation(transformations: Transformations | Variation): Variation {
  return transformations instanceof Variation ? transformations : Variation.of(transformations);
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new ArgumentError(`representations.${name} must be a positive whole number.`);
  return value;
}
