import { randomBytes } from 'node:crypto';

const ID_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const ID_RANDOM_CHARS = 20;

/** `<kind>_` + 20 uniformly drawn base62 characters (~119 bits): opaque, unguessable, not secret. */
export function randomId(kind: 'key' | 'usr' | 'ses'): string {
  let id = '';
  while (id.length < ID_RANDOM_CHARS) {
    for (const byte of randomBytes(32)) {
      // 248 is the largest multiple of 62 below 256: dropping bytes above it keeps the draw uniform.
      if (byte < 248 && id.length < ID_RANDOM_CHARS) id += ID_ALPHABET[byte % 62];
    }
  }
  return `${kind}_${id}`;
}
