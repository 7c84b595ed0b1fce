import { ConfigurationError } from '../../core/errors.ts';
import type { RailsMessageFormat } from './envelope.ts';
import { RailsVerifier } from './RailsVerifier.ts';

/** What `Attache.init({ rails })` takes: Rails wire compatibility, off unless given. */
export interface RailsOptions {
  /** The Rails app's `secret_key_base` (credentials or SECRET_KEY_BASE); at least 32 characters. */
  secretKeyBase: string;
  /** The format the app signs with, from its `load_defaults`: '6.1' (5.2–6.1), '7.0' or '7.1' (7.1–8.x). */
  messageFormat: RailsMessageFormat;
  /** Older formats still accepted (never signed), for an app mid-upgrade. */
  alsoAccept?: readonly RailsMessageFormat[];
  /**
   * What the URLs attache makes look like. `'rails'` (default): Disk URLs, Disk direct-upload
   * URLs and the redirect and proxy links carry Rails' tokens in Rails' paths, so a Rails app
   * serves them too (their ids are Rails' `blob_id`s: attachable). `'attache'`: attache's own
   * tokens, which only attache serves. Either way, Rails' ids and tokens are accepted.
   */
  urls?: 'rails' | 'attache';
}

const KNOWN = new Set(['secretKeyBase', 'messageFormat', 'alsoAccept', 'urls']);

/** Rails mode, resolved: the Rails verifier (the one choke point for Rails messages) and the URL choice. */
export class RailsMode {
  readonly verifier: RailsVerifier;
  readonly urls: 'rails' | 'attache';

  /** Throws ConfigurationError for an unknown option, a bad `urls`, a short secret or an unknown format. */
  constructor(options: RailsOptions) {
    if (options === null || typeof options !== 'object') throw new ConfigurationError('`rails` must be an object: { secretKeyBase, messageFormat }.');
    for (const name of Object.keys(options)) {
      if (!KNOWN.has(name)) throw new ConfigurationError(`Unknown rails option "${name}". Allowed: ${[...KNOWN].join(', ')}.`);
    }
    const urls = options.urls ?? 'rails';
    if (urls !== 'rails' && urls !== 'attache') throw new ConfigurationError('rails.urls must be "rails" or "attache".');
    this.urls = urls;
    this.verifier = new RailsVerifier({ secretKeyBase: options.secretKeyBase, messageFormat: options.messageFormat, alsoAccept: options.alsoAccept });
  }

  toJSON(): string {
    return `[RailsMode ${this.verifier.messageFormat}]`;
  }
}

/**
 * Whether a token is in Rails' message shape (`base64--hexdigest`) rather than attache's
 * (`base64url.base64url`): Rails' messages never hold a '.', attache's always do.
 */
export function isRailsMessage(token: unknown): token is string {
  return typeof token === 'string' && token.includes('--') && !token.includes('.');
}
