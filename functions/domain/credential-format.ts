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

function isBase62(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
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
      const body = value.slice(0, bodyLength);
      if (!isBase62(body.slice(head.length))) return false;
      const checksum = decodeBase62Number(value.slice(bodyLength));
      return checksum === crc32(body);
    },
    displayPrefix(value) {
      return value.slice(0, head.length + DISPLAY_SECRET_CHARS);
    },
  };
}
