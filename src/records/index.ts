import { Attachment } from './Attachment.ts';
import { Blob } from './Blob.ts';
import { VariantRecord } from './VariantRecord.ts';

export { Attachment, Blob, VariantRecord };

/** The entities to list in a DataSource's `entities`. */
export const attacheEntities = [Blob, Attachment, VariantRecord];
