import { credentialPrefixProblem } from '../../lib/shared/environment';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { BASE62 } from './ids';

/**
 * Key and session-token format: `<prefix>_<secret><checksum>`.
 *
 * - secret: 32 CSPRNG bytes in base62, fixed width 43 (62^43 > 2^256);
 * - checksum: CRC32 of `<prefix>_<secret>` in base62, fixed width 6 (62^6 > 2^32).
 *
 * The checksum lets the authorizer (and secret scanners) reject mistyped or
 * made-up values without touching the database: CRC32 catches every change
 * confined to 32 consecutive bits, so any single-character edit fails it.
 */
export const SECRET_BYTES = 32;
export const SECRET_LENGTH = 43;
export const CHECKSUM_LENGTH = 6;
/** Characters of the secret shown to admins to tell keys apart. */
export const DISPLAY_SECRET_CHARS = 8;

const BASE62_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE62.length; i++) BASE62_VALUE[BASE62.charCodeAt(i)] = i;

export function assertValidPrefix(prefix: string): void {
  const problem = credentialPrefixProblem(prefix);
  if (problem) throw new Error(problem);
}

function toFixedBase62(value: bigint, width: number): string {
  let out = '';
  for (let i = 0; i < width; i++) {
    out = BASE62[Number(value % 62n)] + out;
    value /= 62n;
  }
  return out;
}

function checksumOf(body: string): string {
  return toFixedBase62(BigInt(crc32(body)), CHECKSUM_LENGTH);
}

/** Decodes a fixed-width base62 string small enough for a double, or -1 if a character is outside base62. */
function decodeBase62Number(text: string): number {
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const digit = code < 128 ? BASE62_VALUE[code] : -1;
    if (digit < 0) return -1;
    value = value * 62 + digit;
  }
  return value;
}

/** True when `text[start..end)` is all base62. A range, not a slice: the authorizer and the scanner call it on every candidate. */
function isBase62(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code >= 128 || BASE62_VALUE[code] < 0) return false;
  }
  return true;
}

export interface CredentialFormat {
  readonly prefix: string;
  /** Total length of a well-formed value. */
  readonly length: number;
  /** A new random value; the plaintext exists only in the caller's hands. */
  generate(): string;
  /** True when the value has this prefix, the exact length, base62 characters and a matching checksum. No I/O. */
  isWellFormed(value: string): boolean;
  /** The non-secret display form, e.g. `kg_3fQ9xLmA`. */
  displayPrefix(value: string): string;
}

export function credentialFormat(prefix: string): CredentialFormat {
  assertValidPrefix(prefix);
  const head = `${prefix}_`;
  const length = head.length + SECRET_LENGTH + CHECKSUM_LENGTH;
  const bodyLength = head.length + SECRET_LENGTH;

  return {
    prefix,
    length,
    generate() {
      const secret = toFixedBase62(BigInt(`0x${randomBytes(SECRET_BYTES).toString('hex')}`), SECRET_LENGTH);
      const body = head + secret;
      return body + checksumOf(body);
    },
    isWellFormed(value) {
      if (value.length !== length || !value.startsWith(head)) return false;
      if (!isBase62(value, head.length, bodyLength)) return false;
      const checksum = decodeBase62Number(value.slice(bodyLength));
      return checksum === crc32(value.slice(0, bodyLength));
    },
    displayPrefix(value) {
      return value.slice(0, head.length + DISPLAY_SECRET_CHARS);
    },
  };
}

/** A well-formed credential found inside a longer text. */
export interface CredentialMatch {
  /** Offset of its first character (the prefix) in the text. */
  readonly index: number;
  readonly prefix: string;
  /** The whole credential: handle as a secret. */
  readonly value: string;
}

const MAX_PREFIX_LENGTH = 16;
const isLowerLetter = (code: number) => code >= 97 && code <= 122;
const isDigit = (code: number) => code >= 48 && code <= 57;

/** Where a prefix ending just before the `_` at `underscore` may start: the given prefixes, or any valid one. */
function prefixStarts(text: string, underscore: number, prefixes: readonly string[] | undefined): number[] {
  if (prefixes) return prefixes.filter((prefix) => underscore >= prefix.length && text.startsWith(prefix, underscore - prefix.length)).map((prefix) => underscore - prefix.length);
  const starts: number[] = [];
  for (let start = underscore - 1; start >= 0 && underscore - start <= MAX_PREFIX_LENGTH; start--) {
    const code = text.charCodeAt(start);
    if (!isLowerLetter(code) && !isDigit(code)) break;
    if (isLowerLetter(code)) starts.push(start);
  }
  return starts;
}

/**
 * Every well-formed credential inside `text`: a prefix, `_`, 43 base62
 * characters of secret and the 6-character checksum of all that. With
 * `prefixes`, only credentials with one of them; without, any valid prefix
 * (1-16 lowercase letters or digits, starting with a letter), so keys of a
 * deployment with custom prefixes are found too. The checksum covers the
 * prefix, so a near miss (one character off, a made-up prefix) has a 1 in
 * 2^32 chance of matching. Nothing around the credential matters: a key glued
 * to other text is still a key.
 */
export function findCredentials(text: string, prefixes?: readonly string[]): CredentialMatch[] {
  const found: CredentialMatch[] = [];
  const tail = SECRET_LENGTH + CHECKSUM_LENGTH;
  for (let underscore = text.indexOf('_'); underscore !== -1 && underscore + tail < text.length; underscore = text.indexOf('_', underscore + 1)) {
    const secretEnd = underscore + 1 + SECRET_LENGTH;
    if (!isBase62(text, underscore + 1, secretEnd)) continue;
    const end = secretEnd + CHECKSUM_LENGTH;
    const checksum = decodeBase62Number(text.slice(secretEnd, end));
    if (checksum < 0) continue;
    for (const start of prefixStarts(text, underscore, prefixes)) {
      if (crc32(text.slice(start, secretEnd)) !== checksum) continue;
      found.push({ index: start, prefix: text.slice(start, underscore), value: text.slice(start, end) });
      // A secret holds no '_': the next candidate starts after this credential.
      underscore = end - 1;
      break;
    }
  }
  return found;
}

/** True when `text` holds a well-formed key or session token of any prefix (see findCredentials). */
export function containsCredential(text: string): boolean {
  return findCredentials(text).length > 0;
}
