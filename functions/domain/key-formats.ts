import { createHash } from 'node:crypto';
import { legacyKeyRegExp, type LegacyKeyPattern } from '../../lib/shared/auth-settings';
import type { CredentialFormat } from './credential-format';

/**
 * The API-key formats the authorizer accepts: keygate's own and, when
 * configured, a legacy pattern for keys imported from another system. The
 * format decides what is hashed (HMAC with the pepper) into the item key:
 *
 * - a keygate key: the key itself, as create-key stores it;
 * - a legacy key: `sha256:<hex SHA-256 of the key>`. A key imported as
 *   plaintext and one imported as the SHA-256 hash another system exported
 *   end up under the same item key, so one GetItem finds either without
 *   knowing how it was imported, and both are peppered: a table writer
 *   without the pepper can mint neither.
 *
 * A value of neither format is refused before any hashing or I/O.
 */
export interface LegacyKeyFormat {
  /** Length bounds first (cheap, and they cap the regular expression's input), then the whole-value pattern. */
  matches(value: string): boolean;
  /** Enough to tell keys apart in a list: legacy keys may be short, so only 4 characters. */
  displayPrefix(value: string): string;
}

export const LEGACY_DISPLAY_CHARS = 4;
/** display prefix of a key imported from its hash: no character of it is known. */
export const HASH_IMPORT_DISPLAY_PREFIX = '(sha256 import)';

export function legacyKeyFormat(pattern: LegacyKeyPattern): LegacyKeyFormat {
  const regExp = legacyKeyRegExp(pattern);
  return {
    matches: (value) => value.length >= pattern.minLength && value.length <= pattern.maxLength && regExp.test(value),
    displayPrefix: (value) => `${value.slice(0, LEGACY_DISPLAY_CHARS)}...`,
  };
}

/** Domain separation: no keygate key starts with this (a prefix is followed by '_'). */
const SHA256_HASH_INPUT_PREFIX = 'sha256:';

/** What a legacy key is hashed as, given the hex SHA-256 of the key (any case). */
export function sha256HashInput(sha256Hex: string): string {
  return `${SHA256_HASH_INPUT_PREFIX}${sha256Hex.toLowerCase()}`;
}

export function legacyKeyHashInput(key: string): string {
  return sha256HashInput(createHash('sha256').update(key, 'utf8').digest('hex'));
}

export interface ApiKeyFormats {
  readonly keyFormat: CredentialFormat;
  readonly legacyKeyFormat?: LegacyKeyFormat;
}

/** The value to hash for a presented key, or undefined when it matches neither format. */
export function apiKeyHashInput(formats: ApiKeyFormats, presented: string): string | undefined {
  if (formats.keyFormat.isWellFormed(presented)) return presented;
  if (formats.legacyKeyFormat?.matches(presented)) return legacyKeyHashInput(presented);
  return undefined;
}
