/**
 * How Rails' router carries signed ids and Disk tokens in URLs (ActionDispatch::Journey, the same in
 * 6.1 to 8.x): a `:param` segment is escaped with `escape_segment` (so base64's `/` becomes `%2F`,
 * while `+` and `=` stay), a `*glob` such as `*filename` with `escape_path` (`/` stays), and the
 * router hands the controller the segment with `%XX` decoded and `+` left as it is.
 */

// RFC 3986 unreserved, sub-delims, ':' and '@' (Journey::Router::Utils::UriEncoder::SEGMENT).
const SEGMENT_UNESCAPED = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;

/** `value` as Rails writes it into a `:signed_id`, `:encoded_key` or `:encoded_token` path segment. */
export function railsPathSegment(value: string): string {
  return escape(value, (c) => SEGMENT_UNESCAPED.test(c));
}

/** `value` as Rails writes it into a `*filename` glob (slashes kept). */
export function railsPathGlob(value: string): string {
  return escape(value, (c) => c === '/' || SEGMENT_UNESCAPED.test(c));
}

/** A path parameter as Rails' router gives it to the controller: `%XX` decoded (bytes as UTF-8), anything else as is. */
export function railsPathParam(segment: string): string {
  if (!segment.includes('%')) return segment;
  const bytes: number[] = [];
  for (let i = 0; i < segment.length; i++) {
    const hex = segment.slice(i + 1, i + 3);
    if (segment[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(segment[i]!, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function escape(value: string, keep: (c: string) => boolean): string {
  let out = '';
  for (const c of value) {
    if (keep(c)) out += c;
    else for (const b of Buffer.from(c, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
