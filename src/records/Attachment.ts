import { BeforeInsert, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import type { Blob } from './Blob.ts';
import { utcTimestamp } from './json-text.ts';

/** Joins a record (by entity name and id) to a blob: Rails' `active_storage_attachments` row. */
@Entity({ name: 'active_storage_attachments' })
@Index('index_active_storage_attachments_uniqueness', ['recordType', 'recordId', 'name', 'blobId'], { unique: true })
export class Attachment {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;

  /** The attachment's name on the record (`avatar`). */
  @Column({ type: 'varchar' }) name!: string;

  /** The entity's name (`User`), as Rails stores the class name. */
  @Column({ name: 'record_type', type: 'varchar' }) recordType!: string;

  /** The record's primary key as text: bigint by default, uuid or string by migration option. */
  @Column({ name: 'record_id', type: 'bigint' }) recordId!: string;

  @Index('index_active_storage_attachments_on_blob_id')
  @Column({ name: 'blob_id', type: 'bigint' })
  blobId!: string;

  @ManyToOne('Blob', (blob: Blob) => blob.attachments, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'blob_id' })
  blob?: Relation<Blob>;

  @Column({ name: 'created_at', type: 'timestamp', precision: 6, transformer: utcTimestamp }) createdAt!: Date;

  @BeforeInsert()
  protected stampCreatedAt(): void {
    this.createdAt ??= new Date();
  }
}
