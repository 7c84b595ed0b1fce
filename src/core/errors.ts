/**
 * Every failure attache reports is an AttacheError with a stable `code`.
 * Vendor errors (fs, pg, AWS) are wrapped at the boundary and kept as `cause`.
 */
export class AttacheError extends Error {
  readonly code: string = 'ATTACHE_ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class ConfigurationError extends AttacheError {
  override readonly code = 'E_CONFIGURATION';
  /** The setting the error is about (a dotted path such as `upload.ssekms_key_id`), when it is about one. Never its value. */
  readonly setting?: string;

  constructor(message: string, options?: { cause?: unknown; setting?: string }) {
    super(message, options);
    if (options?.setting !== undefined) this.setting = options.setting;
  }

  static unknownService(name: string, known: readonly string[]): ConfigurationError {
    return new ConfigurationError(`Unknown storage service "${name}". Configured services: ${list(known)}.`);
  }
  static unknownAdapter(service: string, adapter: string, known: readonly string[]): ConfigurationError {
    return new ConfigurationError(`Service "${service}" uses unknown adapter "${adapter}". Registered adapters: ${list(known)}.`);
  }
  static unknownSetting(service: string, setting: string, allowed: readonly string[]): ConfigurationError {
    return new ConfigurationError(`Service "${service}" has unknown setting "${setting}". Allowed settings: ${list(allowed)}.`);
  }
  static missingSetting(service: string, setting: string): ConfigurationError {
    return new ConfigurationError(`Service "${service}" is missing the required setting "${setting}".`, { setting });
  }
  static invalidSetting(service: string, setting: string, expected: string): ConfigurationError {
    return new ConfigurationError(`Service "${service}" has an invalid "${setting}": expected ${expected}.`, { setting });
  }
  /** An unset variable, named with the setting whose value needs it (when known). Never a value. */
  static unsetVariable(service: string, variable: string, setting?: string): ConfigurationError {
    const where = setting === undefined ? '' : ` for its setting "${setting}"`;
    return new ConfigurationError(`Service "${service}" needs the environment variable ${variable}${where}, which is not set.`, { setting });
  }
}

export class InvalidKeyError extends AttacheError {
  override readonly code = 'E_INVALID_KEY';
}

export class FileNotFoundError extends AttacheError {
  override readonly code = 'E_FILE_NOT_FOUND';
  static forKey(key: string, cause?: unknown): FileNotFoundError {
    return new FileNotFoundError(`No stored file for key "${key}".`, { cause });
  }
}

/** What an IntegrityError found: bytes other than the expected ones, or another number of them. */
export type IntegrityFailure = 'checksum' | 'size';
export class IntegrityError extends AttacheError {
  override readonly code = 'E_INTEGRITY';
  /** What did not match. Bytes refused for corruption in transit count as `checksum`. */
  readonly reason: IntegrityFailure;

  constructor(message: string, options?: { cause?: unknown; reason?: IntegrityFailure }) {
    super(message, options);
    this.reason = options?.reason ?? 'checksum';
  }

  static checksumMismatch(key: string, cause?: unknown): IntegrityError {
    return new IntegrityError(`Checksum mismatch for key "${key}": the bytes are not the ones expected.`, { cause });
  }
  static sizeMismatch(key: string, expected: number, actual: number): IntegrityError {
    return new IntegrityError(`Size mismatch for key "${key}": expected ${expected} bytes, got ${actual}.`, { reason: 'size' });
  }
}

export type SignatureFailure = 'tampered' | 'expired' | 'purpose';
export class InvalidSignatureError extends AttacheError {
  override readonly code = 'E_INVALID_SIGNATURE';
  constructor(readonly reason: SignatureFailure, options?: { cause?: unknown }) {
    super(`Invalid signature (${reason}).`, options);
  }
}

export class EncryptionError extends AttacheError {
  override readonly code = 'E_ENCRYPTION';
}

export class StorageAccessError extends AttacheError {
  override readonly code = 'E_STORAGE_ACCESS';
}

export class FileTooLargeError extends AttacheError {
  override readonly code = 'E_FILE_TOO_LARGE';
  static exceeds(limit: number, what = 'the limit'): FileTooLargeError {
    return new FileTooLargeError(`The file is larger than ${what} (${limit} bytes).`);
  }
}

export class ContentTypeNotAllowedError extends AttacheError {
  override readonly code = 'E_CONTENT_TYPE_NOT_ALLOWED';
}

/** A database failure while writing attachment rows; the pg error is the cause. */
export class PersistenceError extends AttacheError {
  override readonly code = 'E_PERSISTENCE';
}

/** An attachment or blob operation that is not allowed in the current state. */
export class AttachmentError extends AttacheError {
  override readonly code = 'E_ATTACHMENT';
}

/** A value that is not of the accepted form (expiresIn, an attach input, …). */
export class ArgumentError extends AttacheError {
  override readonly code = 'E_ARGUMENT';
}

/** `variant()` of a blob attache cannot transform (not a PNG, JPEG, GIF, WebP, TIFF or AVIF image): Rails' InvariableError. */
export class InvariableError extends AttacheError {
  override readonly code = 'E_INVARIABLE';
}

/** `preview()` of a blob no previewer accepts (not a PDF or video, or its tool is not installed): Rails' UnpreviewableError. */
export class UnpreviewableError extends AttacheError {
  override readonly code = 'E_UNPREVIEWABLE';
}

/** `representation()` of a blob that is neither variable nor previewable: Rails' UnrepresentableError. */
export class UnrepresentableError extends AttacheError {
  override readonly code = 'E_UNREPRESENTABLE';
}

/** Why a file could not be analyzed or transformed. */
export type ProcessingFailure = 'unreadable' | 'too_many_pixels' | 'transform_failed' | 'tool_missing' | 'tool_failed' | 'timeout' | 'output_too_large';

/** An image, PDF or video could not be processed: unreadable or truncated, a decompression bomb, an external tool missing, failing or too slow. */
export class ProcessingError extends AttacheError {
  override readonly code = 'E_PROCESSING';
  constructor(readonly reason: ProcessingFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

function list(names: readonly string[]): string {
  return names.length ? names.map((n) => `"${n}"`).join(', ') : '(none)';
}

// ---- Operations (verify, migrate, reencrypt) ----

/** An operation stopped by its AbortSignal; its checkpoint stays, so a rerun resumes after the last finished batch. */
export class OperationAbortedError extends AttacheError {
  override readonly code = 'E_OPERATION_ABORTED';
}
