// The setting names of the S3 adapters, apart from their code: builtins.ts declares them without
// loading the AWS SDK, so a typo is found at boot.

/** Settings of `service: S3` with Rails' spelling (Active Storage Overview, Rails 6.1–8), then attache's own. */
export const S3_SETTINGS = [
  'access_key_id', 'secret_access_key', 'session_token', 'region', 'bucket', 'endpoint', 'force_path_style',
  'http_open_timeout', 'http_read_timeout', 'retry_limit', 'upload', 'public',
  'default_digest_type', 'request_checksum_calculation', 'response_checksum_validation',
  'multipart_threshold', 'part_size', 'debug_http',
] as const;

/** Settings of `service: SecureS3`: S3's plus the encryption ones. */
export const SECURE_S3_SETTINGS = [
  ...S3_SETTINGS, 'kms_key_id', 'server_side_encryption', 'bucket_key_enabled', 'encryption_context', 'sse_customer_key',
] as const;
