import fc from 'fast-check';
import { CHECKSUM_LENGTH, SECRET_LENGTH, credentialFormat } from '../../functions/domain/credential-format';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const keys = credentialFormat('kg');
const sessions = credentialFormat('kgs');

describe('token format', () => {
  test('a generated key is prefix, 43-char base62 secret and 6-char base62 checksum', () => {
    const key = keys.generate();
    expect(key).toMatch(new RegExp(`^kg_[0-9A-Za-z]{${SECRET_LENGTH}}[0-9A-Za-z]{${CHECKSUM_LENGTH}}$`));
    expect(key).toHaveLength(keys.length);
    expect(keys.displayPrefix(key)).toBe(key.slice(0, 11));
  });

  test('every generated key and token parses; keys and session tokens do not parse as each other', () => {
    fc.assert(
      fc.property(fc.constant(null), () => {
        const key = keys.generate();
        const token = sessions.generate();
        return keys.isWellFormed(key) && sessions.isWellFormed(token) && !keys.isWellFormed(token) && !sessions.isWellFormed(key);
      }),
      { numRuns: 2000 },
    );
  });

  test('generated secrets do not repeat and use the whole alphabet', () => {
    const seen = new Set<string>();
    const chars = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const key = keys.generate();
      seen.add(key);
      for (const char of key.slice(3, 3 + SECRET_LENGTH)) chars.add(char);
    }
    expect(seen.size).toBe(2000);
    expect(chars.size).toBe(62);
  });

  test('any single-character substitution is rejected', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 61 }), fc.nat(), (position, shift, seed) => {
        const key = keys.generate();
        const at = position % key.length;
        const original = key[at];
        const index = BASE62.indexOf(original);
        const replacement = index >= 0 ? BASE62[(index + shift) % 62] : BASE62[seed % 62];
        const changed = key.slice(0, at) + replacement + key.slice(at + 1);
        return !keys.isWellFormed(changed);
      }),
      { numRuns: 5000 },
    );
  });

  test('any single-character insertion or deletion is rejected', () => {
    fc.assert(
      fc.property(fc.nat(), fc.constantFrom(...BASE62.split(''), '_', ' '), fc.boolean(), (position, char, insert) => {
        const key = keys.generate();
        const at = position % key.length;
        const changed = insert ? key.slice(0, at) + char + key.slice(at) : key.slice(0, at) + key.slice(at + 1);
        return !keys.isWellFormed(changed);
      }),
      { numRuns: 3000 },
    );
  });

  test('arbitrary strings are rejected without throwing', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), (value) => {
        expect(keys.isWellFormed(value)).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  test('the checksum of another key is rejected', () => {
    const key = keys.generate();
    const otherChecksum = keys.generate().slice(-CHECKSUM_LENGTH);
    expect(keys.isWellFormed(key.slice(0, -CHECKSUM_LENGTH) + otherChecksum)).toBe(false);
  });

  test('whitespace and case variants are rejected', () => {
    const key = keys.generate();
    for (const variant of [` ${key}`, `${key} `, `${key}\n`, key.toUpperCase(), `KG${key.slice(2)}`]) {
      expect(keys.isWellFormed(variant)).toBe(false);
    }
  });

  test.each([[''], ['KG'], ['1kg'], ['kg_x'], ['averyveryverylongprefix']])('prefix %p is refused', (prefix) => {
    expect(() => credentialFormat(prefix)).toThrow(`prefix must be 1-16 lowercase letters or digits starting with a letter, got '${prefix}'`);
  });
});
