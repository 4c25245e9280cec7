import { randomBytes } from 'node:crypto';

/** The base62 alphabet of ids, key secrets and checksums. */
export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Characters allowed in app ids, external user ids and account ids: never a policy wildcard or a path separator. */
export const ID_CHARS = /^[A-Za-z0-9_-]+$/;
export const APP_UID_MAX_LENGTH = 128;
export const ID_RANDOM_CHARS = 20;

/** `<kind>_` + 20 uniformly drawn base62 characters (~119 bits): opaque, unguessable, not secret. */
export function randomId(kind: 'key' | 'usr' | 'ses' | 'evt'): string {
  let id = '';
  while (id.length < ID_RANDOM_CHARS) {
    for (const byte of randomBytes(32)) {
      // 248 is the largest multiple of 62 below 256: dropping bytes above it keeps the draw uniform.
      if (byte < 248 && id.length < ID_RANDOM_CHARS) id += BASE62[byte % 62];
    }
  }
  return `${kind}_${id}`;
}
