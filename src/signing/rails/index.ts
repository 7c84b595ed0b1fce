export { RailsVerifier, type RailsPurpose, type RailsVerifierOptions } from './RailsVerifier.ts';
export type { RailsMessageFormat } from './envelope.ts';
export type { RailsDiskKeyClaims, RailsDiskUploadClaims, RailsRecordId } from './claims.ts';
export { railsPathGlob, railsPathParam, railsPathSegment } from './url.ts';
export { dump as marshalDump, load as marshalLoad } from './marshal.ts';
export { RubyHash, RubyString, RubySymbol, type RubyEncoding, type RubyValue } from './values.ts';
export { isRailsMessage, RailsMode, type RailsOptions } from './RailsMode.ts';
