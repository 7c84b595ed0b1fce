import { contentDisposition } from '../../content/serving.ts';
import { sanitizeFilename } from '../../content/filename.ts';
import type { DirectUploadOptions, UrlOptions } from '../../services/Service.ts';
import type { MessageVerifier } from '../../signing/MessageVerifier.ts';
import { isRailsMessage, type RailsMode } from '../../signing/rails/RailsMode.ts';
import { railsPathGlob, railsPathParam, railsPathSegment } from '../../signing/rails/url.ts';
import { Routes, type Route, type RoutesOptions } from '../routes.ts';

/**
 * attache's routes in Rails mode. Besides attache's own, it parses ActiveStorage's routes
 * (config/routes.rb, the same in 6.1 to 8.x) when their id is a Rails message:
 * `blobs/redirect/:signed_id/*filename`, `blobs/proxy/:signed_id/*filename`, the older alias
 * `blobs/:signed_id/*filename`, `disk/:encoded_key/*filename` and `PUT disk/:encoded_token`.
 * With `urls: 'rails'` the URLs it builds are Rails', escaped as Rails' router escapes them.
 */
export class RailsRoutes extends Routes {
  constructor(verifier: MessageVerifier, readonly rails: RailsMode, options: RoutesOptions = {}) {
    super(verifier, options);
  }

  /** A Disk URL Rails' DiskController serves too: the signed `encoded_key` holds the whole Content-Disposition. */
  override diskDownload(service: string, key: string, options: UrlOptions): string {
    if (this.rails.urls !== 'rails') return super.diskDownload(service, key, options);
    const filename = sanitizeFilename(options.filename);
    const disposition = contentDisposition(options.disposition, filename);
    const encoded = this.rails.verifier.signDiskKey({ key, disposition, contentType: options.contentType, serviceName: service }, options.expiresIn);
    return `${this.baseUrl}${this.mount}/disk/${railsPathSegment(encoded)}/${railsPathGlob(filename)}`;
  }

  /** A Disk direct-upload URL with Rails' `encoded_token` (key, type, length, checksum, service). */
  override diskUpload(service: string, key: string, options: DirectUploadOptions): string {
    if (this.rails.urls !== 'rails') return super.diskUpload(service, key, options);
    const claims = { key, contentType: options.contentType, contentLength: options.contentLength, checksum: options.checksum, serviceName: service };
    return `${this.baseUrl}${this.mount}/disk/${railsPathSegment(this.rails.verifier.signDiskUpload(claims, options.expiresIn))}`;
  }

  override redirect(signedId: string, filename: string): string {
    return `${this.baseUrl}${this.mount}/blobs/redirect/${railsPathSegment(signedId)}/${railsPathGlob(sanitizeFilename(filename))}`;
  }

  override proxy(signedId: string, filename: string): string {
    return `${this.baseUrl}${this.mount}/blobs/proxy/${railsPathSegment(signedId)}/${railsPathGlob(sanitizeFilename(filename))}`;
  }

  override parse(pathname: string): Route | null {
    return this.#parseRails(pathname) ?? super.parse(pathname);
  }

  /** A Rails route whose id segment, decoded as Rails' router decodes it, is a Rails message; else null. */
  #parseRails(pathname: string): Route | null {
    if (!pathname.startsWith(`${this.mount}/`)) return null;
    const [first, second, third, ...more] = pathname.slice(this.mount.length + 1).split('/');
    if (first === 'disk' && second !== undefined) {
      const message = railsMessage(second);
      if (!message) return null;
      if (third === undefined) return { kind: 'rails_disk', message };
      const filename = [third, ...more].join('/');
      return filename ? { kind: 'rails_disk', message, filename } : null;
    }
    if (first !== 'blobs' || second === undefined || third === undefined) return null;
    if ((second === 'redirect' || second === 'proxy') && more.length > 0) {
      const signedId = railsMessage(third);
      const filename = more.join('/');
      if (signedId && filename) return { kind: second, signedId, filename };
    }
    const alias = railsMessage(second); // blobs/:signed_id/*filename, Rails' older redirect path
    const filename = [third, ...more].join('/');
    return alias && filename ? { kind: 'redirect', signedId: alias, filename } : null;
  }
}

function railsMessage(segment: string): string | null {
  const decoded = railsPathParam(segment);
  return isRailsMessage(decoded) ? decoded : null;
}
