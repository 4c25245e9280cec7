import fc from 'fast-check';
import { containsCredential, credentialFormat, findCredentials } from '../../functions/domain/credential-format';

/**
 * Finding keys and session tokens inside longer text (the scanner and the
 * wrong-field checks): prefix, length, alphabet and checksum, anywhere in the
 * text, and nothing for near misses.
 */
const keys = credentialFormat('kg');
const tokens = credentialFormat('kgs');
const custom = credentialFormat('acme2');

/** One base62 character of `value` at `at` replaced by another one. */
function changed(value: string, at: number): string {
  const replacement = value[at] === 'A' ? 'B' : 'A';
  return value.slice(0, at) + replacement + value.slice(at + 1);
}

describe('findCredentials', () => {
  test('finds keys, tokens and custom-prefix credentials with their offsets, anywhere in the text', () => {
    const key = keys.generate();
    const token = tokens.generate();
    const acme = custom.generate();
    const text = `export KEY=${key}\n{"authToken":"${token}"} x${acme}tail`;
    expect(findCredentials(text)).toEqual([
      { index: text.indexOf(key), prefix: 'kg', value: key },
      { index: text.indexOf(token), prefix: 'kgs', value: token },
      { index: text.indexOf(acme), prefix: 'acme2', value: acme },
    ]);
  });

  test('with prefixes, only credentials of those prefixes', () => {
    const key = keys.generate();
    const token = tokens.generate();
    const acme = custom.generate();
    const text = `${key} ${token} ${acme}`;
    expect(findCredentials(text, ['kg', 'kgs']).map((match) => match.value)).toEqual([key, token]);
    expect(findCredentials(text, ['acme2']).map((match) => match.value)).toEqual([acme]);
    expect(findCredentials(text, ['kgs']).map((match) => match.value)).toEqual([token]);
  });

  test('credentials back to back, and glued to letters on both sides, are each found', () => {
    const first = keys.generate();
    const second = keys.generate();
    const text = `zz${first}${second}99`;
    expect(findCredentials(text)).toEqual([
      { index: 2, prefix: 'kg', value: first },
      { index: 2 + first.length, prefix: 'kg', value: second },
    ]);
  });

  test.each([
    ['a bad checksum', (key: string) => changed(key, key.length - 1)],
    ['a changed secret character', (key: string) => changed(key, 20)],
    ['a dropped character (too short)', (key: string) => key.slice(0, 20) + key.slice(21)],
    ['an added character (too long)', (key: string) => `${key.slice(0, 20)}x${key.slice(20)}`],
    ['a character outside base62', (key: string) => `${key.slice(0, 20)}-${key.slice(21)}`],
    ['an upper-case prefix', (key: string) => `KG${key.slice(2)}`],
    ['another prefix in front of the same secret and checksum', (key: string) => `kh${key.slice(2)}`],
    ['the prefix cut off', (key: string) => key.slice(2)],
  ])('%s is not found', (_label, spoil) => {
    for (let i = 0; i < 200; i++) {
      const value = spoil(keys.generate());
      expect([findCredentials(` ${value} `), containsCredential(value)]).toEqual([[], false]);
    }
  });

  test('a credential of a prefix not asked for is not found', () => {
    expect(findCredentials(custom.generate(), ['kg', 'kgs'])).toEqual([]);
  });

  test('planted credentials in random text are found exactly, at their offsets', () => {
    const noise = fc.string({ unit: fc.constantFrom(...'ab_kgs0Z9 \n-'.split('')), maxLength: 60 });
    fc.assert(
      fc.property(fc.array(fc.tuple(noise, fc.constantFrom(keys, tokens, custom)), { maxLength: 5 }), noise, (parts, end) => {
        let text = '';
        const planted: { index: number; value: string }[] = [];
        for (const [before, format] of parts) {
          // A separator that no prefix can absorb, so each planted credential starts where it was put.
          text += `${before}.`;
          const value = format.generate();
          planted.push({ index: text.length, value });
          text += value;
        }
        text += end;
        expect(findCredentials(text).map(({ index, value }) => ({ index, value }))).toEqual(planted);
      }),
      { numRuns: 500 },
    );
  });

  test('arbitrary text yields no credential and never throws', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
        expect(findCredentials(text)).toEqual([]);
      }),
      { numRuns: 2000 },
    );
  });
});
