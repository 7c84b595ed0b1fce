export { Attache, type AttacheOptions } from './attache.ts';
export { Attachment, attacheEntities, Blob, VariantRecord } from './records/index.ts';
export { hasManyAttached, hasOneAttached } from './attached/decorators.ts';
export { AttachedOne } from './attached/AttachedOne.ts';
export { AttachedMany } from './attached/AttachedMany.ts';
export type { AttachmentOptions, Dependent } from './attached/definitions.ts';
export { fromPath, LocalFile, type AttachInput, type AttachIo, type LocalFileOptions } from './attached/input.ts';
export type { AttachOptions } from './attached/prepare.ts';
export type { SweepOptions, SweepReport } from './records/sweep.ts';
export type { AnalysisSkipped, AttacheEventMap, AttacheEventName, BackgroundFailure, PreprocessFailed } from './core/events.ts';
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
export type { JobCompleted, JobFailed, JobStarted } from './jobs/events.ts';
export { InProcessQueue } from './jobs/in-process.ts';
export { runWorker, type RunWorkerOptions } from './jobs/run-worker.ts';
export type { WithAttachedOptions } from './attached/with-attached.ts';
export type { Representation } from './records/runtime.ts';
export { defaultAnalyzers, defaultPreviewers, type RepresentationOptions } from './representations/representations.ts';
export type { NamedVariant, Size, FillCrop, Transformations } from './representations/transformations.ts';
export type { OutputFormat } from './representations/formats.ts';
export type { Analyzer, BlobFacts, ProcessingContext } from './representations/analyzer.ts';
export type { Previewer, PreviewImage } from './representations/previewers.ts';
export type { Tools, ToolName, ToolOutput } from './representations/tools.ts';
export {
  globalAdapters as adapters,
  type AdapterDefinition,
  type AdapterFactory,
  type LazyAdapterDefinition,
  type ServiceContext,
} from './services/registry.ts';
export type {
  StorageService,
  UploadBody,
  UploadOptions,
  UploadResult,
  UrlOptions,
  DirectUploadOptions,
  DirectUploadHeaderOptions,
  ComposeOptions,
  StoredObject,
  PendingWrite,
} from './services/Service.ts';
export type { StagedUpload } from './services/disk/staged.ts';
// The scrubbed `cause` of S3 errors; errors.ts imports no AWS SDK code.
export { S3Failure } from './services/s3/errors.ts';
export { DiskService } from './services/disk/DiskService.ts';
// Types only: the S3 classes import the AWS SDK, which `import 'attache'` must not load (builtins.ts loads it on demand).
export type { S3Service } from './services/s3/S3Service.ts';
export type { SecureS3Service } from './services/s3/SecureS3Service.ts';
export { MirrorService } from './services/mirror/MirrorService.ts';
export type { HandlerOptions, NodeHandler } from './http/handler.ts';
export type { BlobUrlOptions } from './records/blob-urls.ts';
export type { DirectUploadRequest, DirectUploadResponse } from './attached/direct-upload.ts';
export { MessageVerifier } from './signing/MessageVerifier.ts';
export { RailsVerifier, type RailsVerifierOptions } from './signing/rails/RailsVerifier.ts';
export type { RailsOptions } from './signing/rails/RailsMode.ts';
export type { RailsMessageFormat } from './signing/rails/envelope.ts';
export type { RailsDiskKeyClaims, RailsDiskUploadClaims } from './signing/rails/claims.ts';
export { createActiveStorageTablesMigration } from './migrations/active-storage-schema.ts';
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
  PersistenceError,
  ProcessingError,
  StorageAccessError,
  UnpreviewableError,
  UnrepresentableError,
  type ProcessingFailure,
} from './core/errors.ts';
