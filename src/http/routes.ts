import type { MessageVerifier } from '../signing/MessageVerifier.ts';
import type { DirectUploadOptions, UrlOptions } from '../services/Service.ts';
import { sanitizeFilename } from '../content/filename.ts';
import type { Disposition } from '../content/serving.ts';
import type { AppUrls, DirectUploadCompleteClaims } from '../records/runtime.ts';

/** What a Disk download token carries: the served headers come from the signature only. */
export interface DiskDownloadClaims {
  key: string;
  service: string;
  disposition: Disposition;
  contentType: string;
  filename: string;
}

/** What a Disk direct-upload token carries: the PUT must match every field. */
export interface DiskUploadClaims {
  key: string;
  service: string;
  contentType: string;
  contentLength: number;
  checksum: string;
}


export interface RoutesOptions {
  /** Origin put in front of every URL (`https://app.example.com`); '' gives path-only URLs. */
  baseUrl?: string;
  /** Path prefix of attache's routes; default `/attache`. */
  mount?: string;
}

export type Route =
  | { kind: 'disk'; token: string; filename?: string }
  | { kind: 'redirect' | 'proxy'; signedId: string; filename: string }
  | { kind: 'representation_redirect' | 'representation_proxy'; signedId: string; variationKey: string; filename: string }
  | { kind: 'direct_uploads' }
  | { kind: 'direct_upload_complete'; token: string }
  // Rails mode only (rails/RailsRoutes.ts): Rails' Disk route, GET with a filename, PUT without.
  | { kind: 'rails_disk'; message: string; filename?: string };

/** Builds and parses the URLs of attache's HTTP routes. Tokens come from the one MessageVerifier. */
export class Routes implements AppUrls {
  readonly baseUrl: string;
  readonly mount: string;

  constructor(readonly verifier: MessageVerifier, options: RoutesOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
    this.mount = `/${(options.mount ?? '/attache').replace(/^\/+|\/+$/g, '')}`.replace(/^\/$/, '');
  }

  /** A signed GET URL for a Disk object. */
  diskDownload(service: string, key: string, options: UrlOptions): string {
    const filename = sanitizeFilename(options.filename);
    const claims: DiskDownloadClaims = { key, service, disposition: options.disposition, contentType: options.contentType, filename };
    const token = this.verifier.sign(claims, 'disk_download', options.expiresIn);
    return `${this.baseUrl}${this.mount}/disk/${token}/${encodeURIComponent(filename)}`;
  }

  /** A signed PUT URL for a Disk direct upload. */
  diskUpload(service: string, key: string, options: DirectUploadOptions): string {
    const claims: DiskUploadClaims = { key, service, contentType: options.contentType, contentLength: options.contentLength, checksum: options.checksum };
    return `${this.baseUrl}${this.mount}/disk/${this.verifier.sign(claims, 'disk_upload', options.expiresIn)}`;
  }

  /** The Disk URL builder for one service (what DiskService's `urls` option takes). */
  forDisk(service: string): { download(key: string, options: UrlOptions): string; upload(key: string, options: DirectUploadOptions): string } {
    return { download: (key, options) => this.diskDownload(service, key, options), upload: (key, options) => this.diskUpload(service, key, options) };
  }

  /** The app URL that redirects to a fresh service URL for a signed blob id. */
  redirect(signedId: string, filename: string): string {
    return `${this.baseUrl}${this.mount}/blobs/redirect/${signedId}/${encodeURIComponent(sanitizeFilename(filename))}`;
  }

  /** The app URL that streams a signed blob through the app. */
  proxy(signedId: string, filename: string): string {
    return `${this.baseUrl}${this.mount}/blobs/proxy/${signedId}/${encodeURIComponent(sanitizeFilename(filename))}`;
  }

  /** Rails' representation routes: `{mount}/representations/{redirect|proxy}/:signedBlobId/:variationKey/:filename`. */
  representation(via: 'redirect' | 'proxy', signedId: string, variationKey: string, filename: string): string {
    return `${this.baseUrl}${this.mount}/representations/${via}/${signedId}/${variationKey}/${encodeURIComponent(sanitizeFilename(filename))}`;
  }

  /** Where the client POSTs to complete a multipart direct upload (the token names the blob and upload). */
  directUploadComplete(claims: DirectUploadCompleteClaims, expiresIn: number): string {
    return `${this.baseUrl}${this.mount}/direct_uploads/complete/${this.verifier.sign(claims, 'direct_upload_complete', expiresIn)}`;
  }

  /** Where the browser client POSTs to start a direct upload. */
  get directUploads(): string {
    return `${this.baseUrl}${this.mount}/direct_uploads`;
  }

  /** The route a request path addresses, or null when it is not one of attache's. */
  parse(pathname: string): Route | null {
    if (!pathname.startsWith(`${this.mount}/`)) return null;
    const parts = pathname.slice(this.mount.length + 1).split('/');
    const [first, second, third, fourth, fifth, ...rest] = parts;
    if (rest.length > 0) return null;
    if (first === 'representations' && (second === 'redirect' || second === 'proxy') && third && fourth && fifth) {
      return { kind: `representation_${second}`, signedId: third, variationKey: fourth, filename: fifth };
    }
    if (fifth !== undefined) return null;
    if (first === 'direct_uploads' && second === undefined) return { kind: 'direct_uploads' };
    if (first === 'direct_uploads' && second === 'complete' && third && fourth === undefined) return { kind: 'direct_upload_complete', token: third };
    if (first === 'disk' && second && fourth === undefined) return { kind: 'disk', token: second, filename: third };
    if (first === 'blobs' && (second === 'redirect' || second === 'proxy') && third && fourth) {
      return { kind: second, signedId: third, filename: fourth };
    }
    return null;
  }
}
