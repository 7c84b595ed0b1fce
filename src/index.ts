export { Attache, type AttacheOptions } from './attache.ts';
export { Attachment, attacheEntities, Blob, VariantRecord } from './entities/index.ts';
export { hasManyAttached, hasOneAttached } from './model/decorators.ts';
export { AttachedOne } from './model/AttachedOne.ts';
export { AttachedMany } from './model/AttachedMany.ts';
export type { AttachmentOptions, Dependent } from './model/definitions.ts';
export type { AttachInput } from './model/input.ts';
export { InProcessQueue, type JobQueue, type PurgeJob } from './model/queue.ts';
export { globalAdapters as adapters, type AdapterDefinition, type AdapterFactory, type ServiceContext } from './services/registry.ts';
export type { StorageService, UploadBody, UploadOptions, UploadResult, UrlOptions, DirectUploadOptions, DirectUploadHeaderOptions } from './services/Service.ts';
export { DiskService } from './services/disk/DiskService.ts';
export { S3Service } from './services/s3/S3Service.ts';
export { SecureS3Service } from './services/s3/SecureS3Service.ts';
export { MirrorService } from './services/mirror/MirrorService.ts';
export type { HandlerOptions, NodeHandler } from './http/handler.ts';
export type { BlobUrlOptions } from './model/blob-urls.ts';
export type { DirectUploadRequest, DirectUploadResponse } from './model/direct-upload.ts';
export { MessageVerifier } from './signing/MessageVerifier.ts';
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
} from './errors.ts';
