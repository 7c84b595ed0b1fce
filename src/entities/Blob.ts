import { Column, CreateDateColumn, Entity, Index, OneToMany, PrimaryGeneratedColumn } from 'typeorm';
import type { Attachment } from './Attachment.ts';
import { bigintNumber, jsonText } from './json-text.ts';

/** A stored file: Rails' `active_storage_blobs` row. */
@Entity({ name: 'active_storage_blobs' })
export class Blob {
  /** bigint ids come back as strings from pg. */
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;

  @Index('index_active_storage_blobs_on_key', { unique: true })
  @Column({ type: 'varchar' })
  key!: string;

  @Column({ type: 'varchar' }) filename!: string;

  @Column({ name: 'content_type', type: 'varchar', nullable: true }) contentType!: string | null;

  /** Rails' metadata (identified, analyzed, …) plus attache's own facts (encryption). */
  @Column({ type: 'text', nullable: true, transformer: jsonText }) metadata!: Record<string, unknown>;

  @Column({ name: 'service_name', type: 'varchar' }) serviceName!: string;

  @Column({ name: 'byte_size', type: 'bigint', transformer: bigintNumber }) byteSize!: number;

  /** base64 MD5 of the bytes (Rails' format). */
  @Column({ type: 'varchar', nullable: true }) checksum!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamp', precision: 6 }) createdAt!: Date;

  @OneToMany('Attachment', (attachment: Attachment) => attachment.blob) attachments?: Attachment[];
}
