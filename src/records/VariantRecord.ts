import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import type { Blob } from './Blob.ts';

/** Rails' `active_storage_variant_records`: one row per processed variant of a blob. */
@Entity({ name: 'active_storage_variant_records' })
@Index('index_active_storage_variant_records_uniqueness', ['blobId', 'variationDigest'], { unique: true })
export class VariantRecord {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;

  @Column({ name: 'blob_id', type: 'bigint' }) blobId!: string;

  @ManyToOne('Blob')
  @JoinColumn({ name: 'blob_id' })
  blob?: Relation<Blob>;

  @Column({ name: 'variation_digest', type: 'varchar' }) variationDigest!: string;
}
