import type { Readable } from 'node:stream';
import type { QueryDeepPartialEntity } from 'typeorm';
import { BeforeInsert, Column, Entity, Index, OneToMany, PrimaryGeneratedColumn } from 'typeorm';
import type { Attachment } from './Attachment.ts';
import { blobMethods } from './blob-methods.ts';
import type { BlobUrlOptions } from './blob-urls.ts';
import type { Representation } from './runtime.ts';
import type { Transformations } from '../representations/transformations.ts';
import { bigintNumber, jsonText, utcTimestamp } from './json-text.ts';

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

  @Column({ name: 'created_at', type: 'timestamp', precision: 6, transformer: utcTimestamp }) createdAt!: Date;

  @BeforeInsert()
  protected stampCreatedAt(): void {
    this.createdAt ??= new Date();
  }

  @OneToMany('Attachment', (attachment: Attachment) => attachment.blob) attachments?: Attachment[];

  /** The bytes, verified against the checksum (IntegrityError if they were altered). */
  download(): Promise<Buffer> {
    return blobMethods.download(this);
  }

  /** Downloads to a temporary file (verified), calls `fn(path)`, then removes the file. Returns fn's result. */
  open<T>(fn: (file: string) => T | Promise<T>): Promise<T> {
    return blobMethods.open(this, fn);
  }

  /** A stream of the bytes; errors with IntegrityError at the end if they were altered. */
  stream(): Readable {
    return blobMethods.stream(this);
  }

  /** Deletes the row and the stored file. Refused (AttachmentError) while attachments remain. Idempotent. */
  purge(): Promise<void> {
    return blobMethods.purge(this);
  }

  /** A URL serving the file for `expiresIn` seconds (default 300, at most 604800); see BlobUrlOptions. */
  url(options?: BlobUrlOptions): Promise<string> {
    return blobMethods.url(this, options);
  }

  /**
   * A signed id for this blob (`attache.findSigned`, `attach(signedId)`): permanent unless `expiresIn`
   * seconds. `format: 'rails'` (Rails mode only) makes Rails' `blob_id`, which a Rails app attaches too.
   */
  signedId(options: { expiresIn?: number; format?: 'attache' | 'rails' } = {}): string {
    return blobMethods.signedId(this, options.expiresIn, options.format);
  }

  /** The app's proxy URL for this blob: the bytes stream through your app (see `attache.handler()`). */
  proxyUrl(options?: { expiresIn?: number; filename?: string }): string {
    return blobMethods.proxyUrl(this, options);
  }

  /** The app's redirect URL for this blob: a 302 to a fresh, short-lived service URL (see `attache.handler()`). */
  redirectUrl(options?: { expiresIn?: number; filename?: string }): string {
    return blobMethods.redirectUrl(this, options);
  }

  /** Enqueues the purge on the job queue. */
  purgeLater(): Promise<void> {
    return blobMethods.purgeLater(this);
  }

  /** A variant of this image (`await blob.variant({ resizeToLimit: [100, 100] }).url()`). Throws InvariableError, ArgumentError. */
  variant(transformations: Transformations): Representation {
    return blobMethods.representations(this).variant(this, transformations);
  }

  /** A preview of this PDF or video, transformed. Throws UnpreviewableError, ArgumentError. */
  preview(transformations: Transformations): Representation {
    return blobMethods.representations(this).preview(this, transformations);
  }

  /** A preview when this blob is previewable, else a variant. Throws UnrepresentableError, ArgumentError. */
  representation(transformations: Transformations): Representation {
    return blobMethods.representations(this).representation(this, transformations);
  }

  /** Whether variants of this blob can be made (an image attache decodes). */
  variable(): boolean {
    return blobMethods.representations(this).variable(this);
  }

  /** Whether a preview of this blob can be made (a PDF or video, with its tool installed). */
  previewable(): boolean {
    return blobMethods.representations(this).previewable(this);
  }

  /** Whether this blob is variable or previewable. */
  representable(): boolean {
    return this.variable() || this.previewable();
  }
}

/** A blob's column values for insert/update (TypeORM's partial type cannot describe a free-form JSON column). */
export function blobValues(values: Partial<Blob>): QueryDeepPartialEntity<Blob> {
  return values as QueryDeepPartialEntity<Blob>;
}
