import { ProcessingError } from '../core/errors.ts';
import type { AnalysisSkipped } from '../core/events.ts';
import { sanitizeMetadata } from '../content/metadata.ts';
import { Blob, blobValues } from '../records/Blob.ts';
import { openAsFile } from '../records/blob-io.ts';
import { database } from '../records/database.ts';
import type { AttacheRuntime } from '../records/runtime.ts';
import type { Analyzer, ProcessingContext } from './analyzer.ts';

/**
 * Analyzes a blob (Rails' Blob#analyze): the first accepting analyzer reads a verified temporary
 * copy, and its result is merged into the stored metadata with `analyzed: true`. A missing tool
 * or an unreadable file marks the blob analyzed with nothing extracted and emits
 * `analysis:skipped`; it never fails. Storage and database failures throw (the job may retry).
 * Idempotent: an analyzed blob is left as it is.
 */
export async function analyzeBlob(rt: AttacheRuntime, blob: Blob, analyzers: readonly Analyzer[], context: ProcessingContext, skipped: (event: AnalysisSkipped) => void): Promise<void> {
  if (blob.metadata?.['analyzed'] === true) return;
  const analyzer = analyzers.find((candidate) => candidate.accept(blob));
  let extracted: Record<string, unknown> = {};
  if (analyzer) {
    try {
      // Analyzers are pluggable: their result is kept to JSON values and may not set attache's own flags.
      extracted = sanitizeMetadata(await openAsFile(rt, blob, (file) => analyzer.metadata(file, blob, context)));
    } catch (error) {
      if (!(error instanceof ProcessingError)) throw error;
      skipped({ blobId: blob.id, analyzer: analyzer.name, reason: error.reason, error });
    }
  }
  await saveAnalysis(rt, blob, extracted);
}

/** Merges the facts into the row's current metadata under a row lock, so concurrent writers keep theirs. */
async function saveAnalysis(rt: AttacheRuntime, blob: Blob, extracted: Record<string, unknown>): Promise<void> {
  const metadata = await database(`save the analysis of blob ${blob.id}`, () =>
    rt.dataSource.transaction(async (manager) => {
      const row = await manager.getRepository(Blob).findOne({ where: { id: blob.id }, lock: { mode: 'pessimistic_write' } });
      if (!row) return null;
      const merged = { ...row.metadata, ...extracted, analyzed: true };
      await manager.getRepository(Blob).update({ id: blob.id }, blobValues({ metadata: merged }));
      return merged;
    }),
  );
  if (metadata) blob.metadata = metadata;
}
