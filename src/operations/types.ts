// The operations API (verify, migrate, reencrypt): the contract shared by src/operations and the CLI.

/** Where a long operation stands; given to `onProgress` and emitted as `operation:progress` after each blob. */
export interface OperationProgress {
  operation: 'verify' | 'migrate' | 'reencrypt';
  /** Blobs handled so far (a resumed run counts those of the runs before it). */
  done: number;
  /** Blobs the whole run handles (done + still to do when it started). */
  total: number;
  /** Recorded byte sizes of the blobs done. */
  bytes: number;
  totalBytes: number;
  /** Blobs with a problem so far. */
  failed: number;
}

/** What every operation takes. */
export interface OperationOptions {
  /** Blobs handled at once (default 4). */
  concurrency?: number;
  /** Blobs read per query (keyset pagination on id; default 100). The checkpoint advances once per batch. */
  batchSize?: number;
  /** Aborting stops after the blobs in flight; the operation rejects with OperationAbortedError and its checkpoint stays. */
  signal?: AbortSignal;
  onProgress?: (progress: OperationProgress) => void;
  /**
   * The checkpoint file (resume after a crash or SIGKILL: a rerun continues after the last finished
   * batch). Default: a file under os.tmpdir() keyed by operation, services and database; `false`: none.
   * Removed when the run completes.
   */
  checkpoint?: string | false;
}

/** One blob that failed a check or could not be handled. Never holds key material or URLs. */
export interface BlobProblem {
  blobId: string;
  key: string;
  service: string;
  /**
   * `missing`: no object; `size`: its size differs from byte_size; `checksum`: its MD5 differs;
   * `encryption`: what the server reports differs from the configuration or the recorded metadata;
   * `unreadable`: it could not be read (or its service is not configured); `copy-failed`: a migrate
   * or reencrypt step failed and the blob was left as it was.
   */
  problem: 'missing' | 'size' | 'checksum' | 'encryption' | 'unreadable' | 'copy-failed';
  detail: string;
}

export interface VerifyReport {
  /** True when no blob has a problem. */
  ok: boolean;
  /** Blobs checked (in this run and the runs it resumed). */
  checked: number;
  /** Blobs not checked: key reservations whose upload never finished (byte_size < 0). */
  skipped: number;
  failures: BlobProblem[];
  /** The blob id this run resumed after, when it continued a checkpoint. */
  resumedFrom?: string;
}

export interface MigrateReport {
  ok: boolean;
  dryRun: boolean;
  /** Blobs copied to the target and switched to it (in a dry run: that would be). */
  moved: number;
  /** Blobs whose object was already on the target (a resumed run), verified and switched without copying. */
  alreadyOnTarget: number;
  /** Source objects deleted (deleteSource). */
  deletedSources: number;
  failures: BlobProblem[];
}

export interface ReencryptReport {
  ok: boolean;
  /** Objects rewritten under the target key (inPlace + streamed). */
  rewritten: number;
  /** Objects the server already reported under the target key. */
  alreadyUnderKey: number;
  /** Rewritten without moving the bytes through attache (UpdateObjectEncryption or CopyObject in place). */
  inPlace: number;
  /** Rewritten by downloading and uploading again to the same key. */
  streamed: number;
  failures: BlobProblem[];
}

export interface VerifyOptions extends OperationOptions {
  /** Only this service's blobs (default: every blob). */
  service?: string;
  /** Also download every object and compare its MD5 with the blob's checksum. */
  deep?: boolean;
  /** Check only this many blobs, picked at random (no checkpoint). */
  sample?: number;
}

export interface MigrateOptions extends OperationOptions {
  /** The service whose blobs move. */
  from: string;
  /** The service they move to. */
  to: string;
  /** Delete each source object once its row points at the target (refused when both services share one storage). */
  deleteSource?: boolean;
  /** Change nothing; report what would move. */
  dryRun?: boolean;
}

export interface ReencryptOptions extends OperationOptions {
  /** A SecureS3 service with SSE-KMS. */
  service: string;
  /** The KMS key to rewrite under (default: the service's configured kms_key_id). */
  toKey?: string;
}

/** A blob an operation could not handle (also in the report's `failures`). */
export interface OperationFailed {
  operation: OperationProgress['operation'];
  problem: BlobProblem;
}

/** An operation ran to its end (also when some blobs had problems). */
export interface OperationCompleted {
  operation: OperationProgress['operation'];
  ok: boolean;
  done: number;
  failed: number;
}
