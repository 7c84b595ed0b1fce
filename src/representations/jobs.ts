import { InvariableError, ProcessingError, UnpreviewableError, UnrepresentableError } from '../core/errors.ts';
import { definitionsOf } from '../attached/definitions.ts';
import type { AnalyzeJob, PreprocessJob } from '../jobs/queue.ts';
import { Blob } from '../records/Blob.ts';
import { database } from '../records/database.ts';
import type { AttacheRuntime } from '../records/runtime.ts';
import type { Representations } from './representations.ts';
import type { Transformations } from './transformations.ts';
import { Variation } from './variation.ts';

/** What the jobs need: a runtime with attache's own representations module. */
export interface RepresentationsRuntime extends AttacheRuntime {
  readonly representations: Representations;
}

/** The analyze job: analyzes the blob unless it is gone or analyzed already. Idempotent. Throws storage and database errors (retry). */
export async function performAnalyze(rt: RepresentationsRuntime, job: AnalyzeJob): Promise<void> {
  const blob = await findBlob(rt, job.blobId);
  if (blob) await rt.representations.analyze(blob);
}

/**
 * The preprocess job: makes one variant (or preview) of a blob right after its attach, unless
 * the blob is gone. The variation comes signed for that blob, so a queue entry cannot be forged
 * into other transformations (InvalidSignatureError). A file that cannot be processed emits
 * `preprocess:failed` and is not retried; storage and database errors throw. Idempotent.
 */
export async function performPreprocess(rt: RepresentationsRuntime, job: PreprocessJob): Promise<void> {
  const blob = await findBlob(rt, job.blobId);
  if (!blob) return;
  const variation = Variation.verify(rt.verifier, job.variation, blob.id);
  try {
    await rt.representations.representation(blob, variation).processed();
  } catch (error) {
    if (error instanceof InvariableError || error instanceof UnpreviewableError || error instanceof UnrepresentableError) return;
    if (!(error instanceof ProcessingError)) throw error;
    rt.representations.events.preprocessFailed({ blobId: blob.id, reason: error.reason, error });
  }
}

/** The transformations of the preprocessed named variants of `Entity#attachment` (none for attache's own records or an unknown name). */
export function preprocessedVariants(rt: AttacheRuntime, attachment: string | undefined): Transformations[] {
  const [entity, name] = (attachment ?? '').split('#');
  const metadata = rt.dataSource.entityMetadatas.find((m) => m.name === entity);
  const definition = metadata && typeof metadata.target === 'function' && name ? definitionsOf(metadata.target).get(name) : undefined;
  return [...(definition?.namedVariants.values() ?? [])].filter((v) => v.preprocessed).map((v) => v.transformations);
}

function findBlob(rt: AttacheRuntime, id: string): Promise<Blob | null> {
  return database(`load blob ${id}`, () => rt.dataSource.getRepository(Blob).findOneBy({ id }));
}
