// attache's public API. Everything else is internal and may change without notice.
// Subpaths: attache/client (browser direct uploads), attache/testing (contract suite, Memory),
// attache/nest (NestJS module), attache/pg-boss (shared job queue), attache/migrations/*.

/** The entry point: `await Attache.init({ dataSource, secret })`, then services, URLs, jobs, sweeps. */
export { Attache, type AttacheOptions } from './attache.ts';

/** Rails' tables as TypeORM entities: put `...attacheEntities` in your DataSource's `entities`. */
export { Attachment, attacheEntities, Blob, VariantRecord } from './records/index.ts';
/** A migration class for Rails' tables with uuid or string record ids (the bundled one is bigint). */
export { createActiveStorageTablesMigration, type ActiveStorageMigrationClass, type ActiveStorageMigrationOptions, type RecordIdType } from './migrations/active-storage-schema.ts';

/** Declares attachments on an entity: `@hasOneAttached() declare avatar: AttachedOne;`. */
export { hasManyAttached, hasOneAttached } from './attached/decorators.ts';
/** The accessors behind the declared fields (`user.avatar`, `user.documents`). */
export { AttachedOne } from './attached/AttachedOne.ts';
export { AttachedMany } from './attached/AttachedMany.ts';
/** Attachment options, and what authorizeDirectUpload is given about an attachment. */
export type { AttachmentDefinition, AttachmentOptions, DeclaredVariant, Dependent } from './attached/definitions.ts';
/** What `attach` takes: bytes, a stream, `{ io, filename }`, `fromPath(path)`, a Blob or a signed id. */
export { fromPath, LocalFile, type AttachInput, type AttachIo, type LocalFileOptions } from './attached/input.ts';
/** `attach(input, { copy: true })`: copy a blob from another service instead of refusing it. */
export type { AttachOptions } from './attached/prepare.ts';
/** `withAttached(records, 'avatar', { variants: true })`. */
export type { WithAttachedOptions } from './attached/with-attached.ts';
/** Browser direct uploads, server side: `attache.createDirectUpload(request)`. */
export type { DirectUploadRequest, DirectUploadResponse, DirectUploadTarget } from './attached/direct-upload.ts';

/** URLs of a blob: `blob.url(options)`. */
export type { BlobUrlOptions } from './records/blob-urls.ts';
/** `attache.sweep(options)` and its report. */
export type { SweepOptions, SweepReport } from './records/sweep.ts';
/** `attache.doctor(options)` (`npx attache doctor`) and its report. */
export type { CheckStatus, DoctorCheck, DoctorOptions, DoctorReport, ServiceDiagnosis } from './operations/doctor.ts';

/** Operations: `attache.verifyBlobs()`, `migrateBlobs()`, `reencryptBlobs()` (or these functions), their options, reports and events. */
export { migrateBlobs, reencryptBlobs, verifyBlobs } from './operations/api.ts';
export type {
  BlobProblem,
  MigrateOptions,
  MigrateReport,
  OperationCompleted,
  OperationFailed,
  OperationOptions,
  OperationProgress,
  ReencryptOptions,
  ReencryptReport,
  VerifyOptions,
  VerifyReport,
} from './operations/types.ts';

/** Variants, previews and analysis: what `variant()`, `preview()` and `representation()` return, and the options. */
export type { Representation } from './records/runtime.ts';
export { defaultAnalyzers, defaultPreviewers, type RepresentationOptions } from './representations/representations.ts';
export type { FillCrop, NamedVariant, Size, Transformations } from './representations/transformations.ts';
export type { OutputFormat } from './representations/formats.ts';
/** Your own analyzers and previewers (`attache.registerAnalyzer`, `registerPreviewer`). */
export type { Analyzer, BlobFacts, ProcessingContext } from './representations/analyzer.ts';
export type { Previewer, PreviewImage } from './representations/previewers.ts';
export type { ImageLimits } from './representations/image-processor.ts';
export type { ToolName, ToolOptions, ToolOutput, Tools } from './representations/tools.ts';

/** Events: `attache.on(name, listener)`. */
export type { AnalysisSkipped, AttacheEventMap, AttacheEventName, BackgroundFailure, PreprocessFailed } from './core/events.ts';
export type { JobCompleted, JobFailed, JobStarted } from './jobs/events.ts';

/** Background jobs: the queue port (bring your own queue), the jobs, and the worker loop. */
export type {
  AnalyzeJob,
  AttacheJob,
  DeletePrefixedJob,
  EnqueueOptions,
  JobAttempt,
  JobHandler,
  JobQueue,
  JobWorker,
  MirrorJob,
  PreprocessJob,
  PurgeJob,
  QueueContext,
  WorkOptions,
} from './jobs/queue.ts';
/** Runs jobs until SIGTERM, then finishes the running ones (the worker entry point). */
export { runWorker, type RunWorkerOptions } from './jobs/run-worker.ts';

/** Storage adapters: `Attache.adapters.register(name, definition)` before init. */
export type { AdapterDefinition, AdapterFactory, AdapterRegistry, LazyAdapterDefinition, ServiceContext, ServiceCreator, ServiceDirectory } from './services/adapters.ts';
/** The contract every storage service fulfils (for your own adapter; see attache/testing). */
export type {
  ComposeOptions,
  DirectUploadHeaderOptions,
  DirectUploadOptions,
  DiskUrlBuilder,
  DiskUrlPort,
  MultipartDirectUpload,
  MultipartDirectUploadOptions,
  PendingWrite,
  StorageService,
  StoredObject,
  UploadBody,
  UploadOptions,
  UploadResult,
  UrlOptions,
} from './services/Service.ts';
/** The Disk service, for tests and adapters built on a local folder. */
export { DiskService, type DiskServiceOptions } from './services/disk/DiskService.ts';
export type { StagedUpload } from './services/disk/staged.ts';
/** The scrubbed `cause` of S3 errors (no headers, no keys); importing it loads no AWS SDK code. */
export { S3Failure } from './services/s3/errors.ts';

/** HTTP serving: `attache.handler(options)` and `attache.fetch(request, options)`. */
export type { HandlerOptions, NodeHandler } from './http/handler.ts';

/** Rails' signed ids and tokens from a Rails app's secret_key_base (`Attache.init({ rails })`). */
export { RailsVerifier, type RailsVerifierOptions } from './signing/rails/RailsVerifier.ts';
export type { RailsOptions } from './signing/rails/RailsMode.ts';
export type { RailsMessageFormat } from './signing/rails/envelope.ts';
export type { RailsDiskKeyClaims, RailsDiskUploadClaims } from './signing/rails/claims.ts';

/** Every failure is an AttacheError with a stable `code`; the vendor error is its `cause`. */
export {
  AttacheError,
  ArgumentError,
  AttachmentError,
  ConfigurationError,
  ContentTypeNotAllowedError,
  EncryptionError,
  FileNotFoundError,
  FileTooLargeError,
  IntegrityError,
  InvalidKeyError,
  InvalidSignatureError,
  InvariableError,
  OperationAbortedError,
  PersistenceError,
  ProcessingError,
  StorageAccessError,
  UnpreviewableError,
  UnrepresentableError,
  type IntegrityFailure,
  type ProcessingFailure,
  type SignatureFailure,
} from './core/errors.ts';
