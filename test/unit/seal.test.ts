import { createHmac } from 'node:crypto';
import { createHasher } from '../../functions/domain/hashing';
import { createSealer, sealedKey, sealedSession, sealEncoding } from '../../functions/domain/seal';

const PEPPER = 'p'.repeat(40);
const sealer = createSealer(async () => PEPPER);
const seal = (record: Parameters<typeof sealer.seal>[0]) => sealer.seal(record);

const KEY_ITEM = { appUid: 'app-1', keyId: 'key_1', expiresAt: '2030-01-01T00:00:00.000Z', enabled: true };
const KEY = sealedKey('HASH', KEY_ITEM);
const SESSION_ITEM = {
  sessionId: 'ses_1',
  appUid: 'app-1',
  userId: 'usr_1',
  userKey: 'ext#u1',
  expiresAt: '2030-01-01T00:00:00.000Z',
  createdByKeyId: 'key_1',
};
const SESSION = sealedSession('THASH', SESSION_ITEM);
const key = (changes: Record<string, unknown>) => sealedKey('HASH', { ...KEY_ITEM, ...changes });

describe('seal encoding', () => {
  test('a JSON array: scheme, version, kind, the item\'s hash, then name and value of each sealed field present, in a fixed order', () => {
    expect(sealEncoding(KEY)).toBe('["keygate-seal","v1","key","HASH","appUid","app-1","keyId","key_1","expiresAt","2030-01-01T00:00:00.000Z","enabled",true]');
    expect(sealEncoding(key({ expiresAt: undefined, enabled: undefined }))).toBe('["keygate-seal","v1","key","HASH","appUid","app-1","keyId","key_1"]');
    expect(sealEncoding(SESSION)).toBe(
      '["keygate-seal","v1","session","THASH","sessionId","ses_1","appUid","app-1","userId","usr_1","userKey","ext#u1","expiresAt","2030-01-01T00:00:00.000Z","createdByKeyId","key_1"]',
    );
  });

  test('an absent field is named nowhere: a field added to the list later leaves the seals of items without it as they were', () => {
    const { enabled: _enabled, ...withoutEnabled } = KEY_ITEM;
    expect(sealEncoding(sealedKey('HASH', withoutEnabled))).toBe('["keygate-seal","v1","key","HASH","appUid","app-1","keyId","key_1","expiresAt","2030-01-01T00:00:00.000Z"]');
    // Which field is absent still matters: the names are sealed with the values, and a value cannot pass for a name.
    expect(sealEncoding(key({ expiresAt: undefined, enabled: 'x' }))).not.toBe(sealEncoding(key({ expiresAt: 'x', enabled: undefined })));
    expect(sealEncoding(key({ expiresAt: 'enabled', enabled: undefined }))).not.toBe(sealEncoding(key({ expiresAt: undefined, enabled: 'enabled' })));
  });

  test('the order is fixed whatever order the item lists its attributes in; unsealed attributes are left out', () => {
    const reordered = { name: 'not sealed', enabled: true, lastUsedAt: 'x', expiresAt: KEY_ITEM.expiresAt, keyId: 'key_1', appUid: 'app-1' };
    expect(sealEncoding(sealedKey('HASH', reordered))).toBe(sealEncoding(KEY));
    expect(sealEncoding(sealedSession('THASH', { ...SESSION_ITEM, createdAt: 'x', expiresAtEpoch: 1 }))).toBe(sealEncoding(SESSION));
  });

  test('absent, empty, false, "false", 0 and "0" all encode differently; absent and null (a DynamoDB NULL) alike', () => {
    const encodings = [undefined, '', false, 'false', 0, '0'].map((enabled) => sealEncoding(key({ enabled })));
    expect(new Set(encodings).size).toBe(encodings.length);
    expect(sealEncoding(key({ enabled: null }))).toBe(sealEncoding(key({ enabled: undefined })));
  });

  test('no value can spill into its neighbour: moving characters across a field boundary changes the encoding', () => {
    expect(sealEncoding(key({ appUid: 'app-1","key', keyId: '1' }))).not.toBe(sealEncoding(key({ appUid: 'app-1', keyId: 'key","1' })));
    expect(sealEncoding(key({ appUid: 'ab', keyId: 'c' }))).not.toBe(sealEncoding(key({ appUid: 'a', keyId: 'bc' })));
  });

  test('a key and a session with the same values never share an encoding: the kind is sealed', () => {
    const values = { appUid: 'a', keyId: 'b', expiresAt: 'c', enabled: 'd', sessionId: 'a', userId: 'c', userKey: 'd' };
    expect(sealEncoding(sealedKey('h', values))).not.toBe(sealEncoding(sealedSession('h', values)));
  });
});

describe('seals', () => {
  test('v1 is HMAC-SHA256 under HMAC-SHA256(pepper, "keygate seal v1"), base64url, after its version', async () => {
    const derived = createHmac('sha256', PEPPER).update('keygate seal v1').digest();
    const expected = createHmac('sha256', derived).update(sealEncoding(KEY)).digest('base64url');
    expect(await seal(KEY)).toBe(`v1.${expected}`);
  });

  test('the seal key is not the hashing key: a seal is not the key hash of the encoding', async () => {
    const hash = createHasher(async () => PEPPER);
    expect(await seal(KEY)).not.toBe(`v1.${await hash(sealEncoding(KEY))}`);
  });

  test('every sealed field, and the item\'s own hash, changes the seal', async () => {
    const base = await seal(KEY);
    const keyChanges = [{ appUid: 'app-2' }, { keyId: 'key_2' }, { expiresAt: undefined }, { expiresAt: '2031-01-01T00:00:00.000Z' }, { enabled: false }, { enabled: undefined }];
    for (const change of keyChanges) expect(await seal(key(change))).not.toBe(base);
    expect(await seal(sealedKey('HASH2', KEY_ITEM))).not.toBe(base);
    expect(await seal(key({ name: 'renamed', lastUsedAt: 'now' }))).toBe(base);

    const sessionBase = await seal(SESSION);
    const sessionChanges = [{ sessionId: 'ses_2' }, { appUid: 'app-2' }, { userId: 'usr_2' }, { userKey: 'ext#u2' }, { expiresAt: '2031-01-01T00:00:00.000Z' }, { expiresAt: undefined }, { createdByKeyId: 'key_2' }];
    for (const change of sessionChanges) expect(await seal(sealedSession('THASH', { ...SESSION_ITEM, ...change }))).not.toBe(sessionBase);
    expect(await seal(sealedSession('THASH2', SESSION_ITEM))).not.toBe(sessionBase);
  });

  test('another pepper gives another seal', async () => {
    expect(await createSealer(async () => 'q'.repeat(40)).seal(KEY)).not.toBe(await seal(KEY));
  });

  test('check: sealed, unsealed (no attribute at all), or wrong (anything else that differs)', async () => {
    const good = await seal(KEY);
    expect(await sealer.check(KEY, good)).toBe('sealed');
    expect(await sealer.check(KEY, undefined)).toBe('unsealed');
    const wrong = ['', good.slice(0, -1), `${good}A`, good.replace(/^v1\./, 'v2.'), good.toUpperCase(), 7, true, null, await seal(key({ enabled: false }))];
    for (const stored of wrong) expect(await sealer.check(KEY, stored)).toBe('wrong');
  });

  test('a seal of the right length in characters but not in bytes is wrong, not an error', async () => {
    const good = await seal(KEY);
    expect(await sealer.check(KEY, `${good.slice(0, -1)}é`)).toBe('wrong');
  });

  test('a record verified before passes again only with every sealed field and the seal identical, types included', async () => {
    const fresh = createSealer(async () => PEPPER);
    const good = await fresh.seal(KEY);
    expect(await fresh.check(KEY, good)).toBe('sealed');
    expect(await fresh.check(sealedKey('HASH', { ...KEY_ITEM, name: 'not sealed' }), good)).toBe('sealed');
    for (const change of [{ appUid: 'app-2' }, { keyId: 'key_2' }, { expiresAt: undefined }, { enabled: 'true' }, { enabled: false }]) {
      expect(await fresh.check(key(change), good)).toBe('wrong');
    }
    expect(await fresh.check(sealedKey('HASH2', KEY_ITEM), good)).toBe('wrong');
    expect(await fresh.check(KEY, `${good.slice(0, -1)}${good.endsWith('A') ? 'B' : 'A'}`)).toBe('wrong');
    expect(await fresh.check(KEY, undefined)).toBe('unsealed');
    // A record that verifies under a new seal (the key was changed by an admin) replaces the one remembered.
    const disabled = key({ enabled: false });
    const resealed = await fresh.seal(disabled);
    expect(await fresh.check(disabled, resealed)).toBe('sealed');
    expect(await fresh.check(KEY, resealed)).toBe('wrong');
    expect(await fresh.check(KEY, good)).toBe('sealed');
  });

  test('the pepper is read once: the derived key is kept', async () => {
    const source = jest.fn(async () => PEPPER);
    const once = createSealer(source);
    await once.seal(KEY);
    await once.check(SESSION, 'v1.x');
    expect(source).toHaveBeenCalledTimes(1);
  });
});
