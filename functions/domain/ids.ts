import { randomBytes } from 'node:crypto';

/** The base62 alphabet of ids, key secrets and checksums. */
export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Characters allowed in app ids, external user ids and account ids: never a policy wildcard or a path separator. */
export const ID_CHARS = /^[A-Za-z0-9_-]+$/;
export const APP_UID_MAX_LENGTH = 128;
export const ID_RANDOM_CHARS = 20;

/** `length` uniformly drawn base62 characters. */
function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(32)) {
      // 248 is the largest multiple of 62 below 256: dropping bytes above it keeps the draw uniform.
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

/** `<kind>_` + 20 uniformly drawn base62 characters (~119 bits): opaque, unguessable, not secret. */
export function randomId(kind: 'key' | 'usr' | 'ses' | 'evt'): string {
  return `${kind}_${randomBase62(ID_RANDOM_CHARS)}`;
}

/** Characters of a gateway API key's value (API Gateway wants at least 20). */
export const GATEWAY_KEY_VALUE_CHARS = 40;

/**
 * The value of an app's gateway API key: random, and derived from no
 * customer key. It is no credential: with the key source AUTHORIZER, API
 * Gateway takes it only from keygate's authorizer, never from a client.
 */
export function randomGatewayKeyValue(): string {
  return randomBase62(GATEWAY_KEY_VALUE_CHARS);
}
