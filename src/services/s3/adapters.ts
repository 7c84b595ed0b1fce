import { ConfigurationError } from '../../core/errors.ts';
import type { AdapterDefinition, ServiceContext } from '../adapters.ts';
import type { StorageService } from '../Service.ts';
import { S3Service } from './S3Service.ts';
import { SecureS3Service } from './SecureS3Service.ts';
import { encryptionFrom, s3Options, S3_SETTINGS, SECURE_S3_SETTINGS, uploadEncryption } from './settings.ts';

// This module imports the AWS SDK: builtins.ts loads it only when a configuration uses S3 or SecureS3.

/**
 * `service: S3`. With Rails' `upload: { server_side_encryption: … }` it is a SecureS3Service with that
 * algorithm and key: the encryption goes on every write path through sseParams, and every write is
 * checked and fails closed, rather than being applied only where Rails' put options reach.
 */
export const s3Adapter: AdapterDefinition = {
  settings: S3_SETTINGS,
  required: ['bucket'],
  create(settings: Record<string, unknown>, context: ServiceContext): StorageService {
    const options = s3Options(context.name, settings);
    const encryption = uploadEncryption(context.name, settings, context.unset);
    if (encryption === undefined) return new S3Service(options);
    if (options.public) {
      throw new ConfigurationError(`Service "${context.name}" encrypts with upload.server_side_encryption, so it cannot be public: encrypted objects are served only through signed URLs.`, { setting: 'public' });
    }
    return new SecureS3Service({ ...options, encryption });
  },
};

/** `service: SecureS3`: S3's settings plus kms_key_id, server_side_encryption, bucket_key_enabled, encryption_context, sse_customer_key. */
export const secureS3Adapter: AdapterDefinition = {
  settings: SECURE_S3_SETTINGS,
  required: ['bucket'],
  create(settings: Record<string, unknown>, context: ServiceContext): StorageService {
    const encryption = encryptionFrom(context.name, settings, context.unset);
    return new SecureS3Service({ ...s3Options(context.name, settings), encryption });
  },
};
