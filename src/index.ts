export { Attache, type AttacheOptions } from './attache.ts';
export { Attachment, attacheEntities, Blob, VariantRecord } from './records/index.ts';
export { hasManyAttached, hasOneAttached } from './attached/decorators.ts';
export { AttachedOne } from './attached/AttachedOne.ts';
export { AttachedMany } from './attached/AttachedMany.ts';
export type { AttachmentOptions, Dependent } from './attached/definitions.ts';
export { fromPath, LocalFile, type AttachInput, type AttachIo, type LocalFileOptions } from './attached/input.ts';
export type { AttachOptions } from './attached/prepare.ts';
export type { SweepOptions, SweepReport } from './records/sweep.ts';
export type { AttacheEventMap, AttacheEventName, BackgroundFailure } from './core/events.ts';
export { InProcessQueue, type JobQueue, type PurgeJob } from './jobs/queue.ts';
export { globalAdapters as adapters, type AdapterDefinition, type AdapterFactory, type ServiceContext } from './services/registry.ts';
export type { StorageService, UploadBody, UploadOptions, UploadResult, UrlOptions, DirectUploadOptions, DirectUploadHeaderOptions } from './services/Service.ts';
export { DiskService } from './services/disk/DiskService.ts';
export { S3Service } from './services/s3/S3Service.ts';
export { SecureS3Service } from './services/s3/SecureS3Service.ts';
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
  PersistenceError,
  StorageAccessError,
} from './core/errors.ts';
