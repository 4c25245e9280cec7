import { createHash, randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { handler as createKeyHandler } from '../../functions/create-key/index';
import { handler as deleteKeyHandler } from '../../functions/delete-key/index';
import { handler as listKeysHandler } from '../../functions/list-keys/index';
import { handler as listKeyEventsHandler } from '../../functions/list-key-events/index';
import { handler as rollKeyHandler } from '../../functions/roll-key/index';
import { handler as updateKeyHandler } from '../../functions/update-key/index';
import { handler as sdkUsersAuth } from '../../functions/sdkusers-auth/index';
import { handler as sessionAuthorizer } from '../../functions/session-authorizer/index';
import { credentialFormat } from '../../functions/domain/credential-format';
import { createHasher } from '../../functions/domain/hashing';
import { legacyKeyFormat } from '../../functions/domain/key-formats';
import { verifyApiKey } from '../../functions/domain/verify';
import { apiKeyLookup } from '../../functions/stores/credential-lookup';
import { DEFAULT_AUTH_SETTINGS, legacyKeysEnvironment } from '../../lib/shared/auth-settings';
import type { TableNames } from '../../lib/local/tables';
import { keyHashItemKey } from '../../lib/shared/item-keys';
import { createTestTables, scanAll, testAuthorizerDynamoDb, testDynamoDbClient } from '../support/dynamodb';
import { apiKeyEvent, gatewayOutcome, proxyEvent, sessionTokenEvent } from '../support/events';
import { eventually } from '../support/eventually';
import { loadWithEnv } from '../support/load-with-env';
import { testSealer } from '../support/seals';

/**
 * import-keys on DynamoDB Local: keys customers already have (plaintext, or
 * the SHA-256 another system stored) become keygate keys that the API-key
 * authorizer accepts in their own format, and that list, expire, roll,
 * disable, delete, record lastUsedAt, log their activity and sign users in
 * like keys keygate made.
 */

/** Two legacy schemes: API Gateway usage-plan keys (40 alphanumerics) and a `sk_live_` scheme kept as SHA-256 in a database. */
const LEGACY_KEYS = { pattern: '[A-Za-z0-9]{40}|sk_live_[A-Za-z0-9]{32}', minLength: 40, maxLength: 40 };
const legacyEnv = legacyKeysEnvironment({ ...DEFAULT_AUTH_SETTINGS, legacyKeys: LEGACY_KEYS });
const functionPath = (name: string) => path.join(__dirname, '../../functions', name, 'index.ts');

type AdminHandler = (input: unknown) => Promise<any>;
type Authorizer = (event: APIGatewayRequestAuthorizerEvent) => Promise<any>;
const importKeys = loadWithEnv<{ handler: AdminHandler }>(functionPath('import-keys'), legacyEnv).handler;
const apiKeyAuthorizer = loadWithEnv<{ handler: Authorizer }>(functionPath('api-key-authorizer'), legacyEnv).handler;
/** The same function deployed without a legacy key pattern. */
const importKeysWithoutLegacy = loadWithEnv<{ handler: AdminHandler }>(functionPath('import-keys'), {}).handler;

const alphanumerics = (length: number) => {
  let out = '';
  while (out.length < length) out += randomBytes(length).toString('base64').replace(/[^A-Za-z0-9]/g, '');
  return out.slice(0, length);
};
const usagePlanKey = () => alphanumerics(40);
const liveKey = () => `sk_live_${alphanumerics(32)}`;
const sha256Hex = (key: string) => createHash('sha256').update(key).digest('hex');

let client: DynamoDBClient;
let tables: TableNames;
const hash = createHasher(async () => process.env.KEYGATE_LOCAL_PEPPER!);
const keyFormat = credentialFormat('kg');

beforeAll(async () => {
  client = testDynamoDbClient();
  tables = await createTestTables(client);
});
afterAll(() => client.destroy());

const asKey = (appUid: string, key: string) => apiKeyEvent(key, appUid);

describe('imported keys authorize in their own format', () => {
  const nativeKey = keyFormat.generate();
  const plaintextLegacy = usagePlanKey();
  const hashedLegacy = liveKey();
  let imported: { appUid: string; keys: any[] };

  beforeAll(async () => {
    imported = await importKeys({
      appUid: 'app-imp',
      keys: [
        { key: nativeKey, name: 'from another keygate' },
        { key: plaintextLegacy, name: 'usage-plan key' },
        { keyHash: sha256Hex(hashedLegacy).toUpperCase(), name: 'sha256 from the old database' },
      ],
    });
  });

  test('the output is the keys’ metadata in input order, never a key or a hash', async () => {
    expect(imported.appUid).toBe('app-imp');
    expect(imported.keys).toEqual([
      { keyId: expect.stringMatching(/^key_[0-9A-Za-z]{20}$/), name: 'from another keygate', displayPrefix: nativeKey.slice(0, 11), createdAt: expect.any(String), enabled: true, importedFrom: 'key' },
      { keyId: expect.stringMatching(/^key_/), name: 'usage-plan key', displayPrefix: `${plaintextLegacy.slice(0, 4)}...`, createdAt: expect.any(String), enabled: true, importedFrom: 'key' },
      { keyId: expect.stringMatching(/^key_/), name: 'sha256 from the old database', displayPrefix: '(sha256 import)', createdAt: expect.any(String), enabled: true, importedFrom: 'keyHash' },
    ]);
    const dump = JSON.stringify(imported);
    for (const secret of [nativeKey, plaintextLegacy, hashedLegacy, sha256Hex(hashedLegacy), sha256Hex(plaintextLegacy)]) expect(dump.toLowerCase()).not.toContain(secret.toLowerCase());
  });

  test('an imported plaintext key and an imported SHA-256 hash both authorize, as their own key id, on their own app only', async () => {
    for (const [index, key] of [nativeKey, plaintextLegacy, hashedLegacy].entries()) {
      const keyId = imported.keys[index].keyId;
      expect(await gatewayOutcome(apiKeyAuthorizer, asKey('app-imp', key))).toEqual({ status: 200, context: { appUid: 'app-imp', keyId, role: 'app-owner' } });
      expect(await gatewayOutcome(apiKeyAuthorizer, asKey('app-other', key))).toEqual({ status: 403 });
    }
  });

  test('the table holds neither the plaintext nor the SHA-256 the old system kept: only peppered hashes, and events without either', async () => {
    const all = (await scanAll(client, tables.Keys)).filter((item) => item.appUid === 'app-imp' || item.pk === 'app#app-imp');
    // The app's registry item counts the three keys.
    expect(all.filter((item) => item.pk === 'apps')).toEqual([expect.objectContaining({ keyCount: 3 })]);
    const items = all.filter((item) => item.appUid === 'app-imp' && item.pk !== 'apps');
    expect(items).toHaveLength(6);
    expect(all).toHaveLength(10);
    const dump = JSON.stringify(all).toLowerCase();
    for (const secret of [plaintextLegacy, hashedLegacy, sha256Hex(hashedLegacy), sha256Hex(plaintextLegacy), nativeKey.slice(3, 46)]) expect(dump).not.toContain(secret.toLowerCase());
    // A legacy key is stored under HMAC(pepper, "sha256:<hex>"), however it was imported.
    const hashItem = (keyId: string) => items.find((item) => item.keyId === keyId && String(item.pk).startsWith('hash#'));
    expect(hashItem(imported.keys[2].keyId)?.pk).toBe(keyHashItemKey(await hash(`sha256:${sha256Hex(hashedLegacy)}`)).pk);
    expect(hashItem(imported.keys[1].keyId)?.pk).toBe(keyHashItemKey(await hash(`sha256:${sha256Hex(plaintextLegacy)}`)).pk);
    expect(hashItem(imported.keys[0].keyId)?.pk).toBe(keyHashItemKey(await hash(nativeKey)).pk);
  });

  test('list-keys shows them with importedFrom, active and enabled like any key', async () => {
    const listed = await listKeysHandler({ appUid: 'app-imp' });
    expect(listed.keys.map((key) => key.keyId).sort()).toEqual(imported.keys.map((key) => key.keyId).sort());
    const { keyId, name, displayPrefix, createdAt } = imported.keys[2];
    // lastUsedAt aside: the authorizer records it after answering (see the test of it below).
    const { lastUsedAt: _lastUsedAt, ...shown } = listed.keys.find((key) => key.keyId === keyId)!;
    expect(shown).toEqual({ keyId, name, displayPrefix, createdAt, status: 'active', enabled: true, importedFrom: 'keyHash' });
  });

  test('one imported event per key, written with it: name and origin, never the key, its hash or its display prefix', async () => {
    const { events } = await listKeyEventsHandler({ appUid: 'app-imp', limit: 100 });
    const importedEvents = events.filter((event) => event.action === 'imported');
    const expected = imported.keys.map((key) => ({
      eventId: expect.stringMatching(/^evt_[0-9A-Za-z]{20}$/),
      at: key.createdAt,
      action: 'imported',
      keyId: key.keyId,
      details: { name: key.name, importedFrom: key.importedFrom },
    }));
    expect([...importedEvents].sort((a, b) => a.keyId!.localeCompare(b.keyId!))).toEqual(expected.sort((a, b) => a.keyId.localeCompare(b.keyId)));
    const dump = JSON.stringify(importedEvents).toLowerCase();
    for (const secret of [nativeKey, plaintextLegacy, hashedLegacy, sha256Hex(hashedLegacy), sha256Hex(plaintextLegacy)]) expect(dump).not.toContain(secret.toLowerCase());
  });

  test('an imported key signs users in; deleting the key leaves that session valid and refuses the key at once', async () => {
    const allowed = await gatewayOutcome(apiKeyAuthorizer, asKey('app-imp', hashedLegacy));
    if (allowed.status !== 200) throw new Error(`expected an Allow, got ${allowed.status}`);
    const signIn = (await sdkUsersAuth(
      proxyEvent({ body: JSON.stringify({ externalId: 'legacy-user' }), context: allowed.context, pathParameters: { appUid: 'app-imp' } }) as APIGatewayProxyEvent,
    )) as APIGatewayProxyResult;
    expect(signIn.statusCode).toBe(200);
    const { authToken } = JSON.parse(signIn.body) as { authToken: string };
    const session = () => gatewayOutcome(sessionAuthorizer, sessionTokenEvent(authToken, 'app-imp'));
    expect((await session()).status).toBe(200);

    const keyId = imported.keys[2].keyId;
    expect(await deleteKeyHandler({ appUid: 'app-imp', keyId })).toEqual({ keyId, deleted: true });
    expect(await gatewayOutcome(apiKeyAuthorizer, asKey('app-imp', hashedLegacy))).toEqual({ status: 401 });
    expect(await session()).toMatchObject({ status: 200, context: { appUid: 'app-imp', userId: expect.any(String) } });
    // Its key items are gone; its events stay, the deletion's with them.
    const left = (await scanAll(client, tables.Keys)).filter((item) => item.keyId === keyId);
    expect(left.map((item) => item.action)).toEqual(['imported', 'deleted']);
  });
});

describe('imported keys in the key lifecycle, as native keys', () => {
  const app = 'app-life';
  const requestedBy = 'local:importer';
  const plaintextLegacy = usagePlanKey();
  const hashedLegacy = liveKey();
  let keyIds: string[];
  const status = async (key: string, appUid = app) => (await gatewayOutcome(apiKeyAuthorizer, asKey(appUid, key))).status;
  const actionsOf = async (keyId: string) => (await listKeyEventsHandler({ appUid: app, keyId, limit: 100 })).events.map((event) => [event.action, event.requestedBy]);

  beforeAll(async () => {
    const { keys } = await importKeys({ appUid: app, keys: [{ key: plaintextLegacy, name: 'plaintext' }, { keyHash: sha256Hex(hashedLegacy), name: 'hash' }], requestedBy });
    keyIds = keys.map((key: { keyId: string }) => key.keyId);
  });

  test('stored enabled on both items, like a created key', async () => {
    const items = (await scanAll(client, tables.Keys)).filter((item) => keyIds.includes(String(item.keyId)) && item.appUid === app);
    expect(items).toHaveLength(4);
    for (const item of items) expect(item.enabled).toBe(true);
  });

  const lastUsedOf = async (keyId: string) => (await listKeysHandler({ appUid: app })).keys.find((key) => key.keyId === keyId)?.lastUsedAt;

  test('lastUsedAt is recorded for an imported key after the authorizer has let it in', async () => {
    expect(await lastUsedOf(keyIds[1]!)).toBeUndefined();
    const before = new Date().toISOString();
    expect(await status(hashedLegacy)).toBe(200);
    expect(await eventually(() => lastUsedOf(keyIds[1]!))).toEqual(expect.any(String));
    expect((await lastUsedOf(keyIds[1]!))! >= before).toBe(true);
  });

  test('disable refuses an imported key at once (401), enable lets it in again, each with its event', async () => {
    const keyId = keyIds[0]!;
    expect(await status(plaintextLegacy)).toBe(200);
    // Its first use's lastUsedAt write, done before the changes below (it would land on the same hash item).
    await eventually(() => lastUsedOf(keyId));
    expect(await updateKeyHandler({ appUid: app, keyId, enabled: false, requestedBy })).toMatchObject({ keyId, status: 'disabled', enabled: false, importedFrom: 'key' });
    expect(await status(plaintextLegacy)).toBe(401);
    expect(await updateKeyHandler({ appUid: app, keyId, enabled: true })).toMatchObject({ keyId, status: 'active', enabled: true });
    expect(await status(plaintextLegacy)).toBe(200);
    expect(await actionsOf(keyId)).toEqual([
      ['enabled', undefined],
      ['disabled', requestedBy],
      ['imported', requestedBy],
    ]);
  });

  test('roll with grace 0 replaces an imported key with a keygate key: the old one is refused at once, the new one works on the same app', async () => {
    const keyId = keyIds[1]!;
    const rolled = await rollKeyHandler({ appUid: app, keyId, gracePeriodSeconds: 0, requestedBy });
    expect(rolled).toMatchObject({ appUid: app, name: 'hash', rolledFromKeyId: keyId });
    expect(keyFormat.isWellFormed(rolled.apiKey)).toBe(true);
    expect(await status(hashedLegacy)).toBe(401);
    expect(await status(rolled.apiKey)).toBe(200);
    expect(await status(rolled.apiKey, 'app-other')).toBe(403);
    const listed = (await listKeysHandler({ appUid: app })).keys;
    expect(listed.find((key) => key.keyId === keyId)).toMatchObject({ status: 'expired', importedFrom: 'keyHash' });
    const successor = listed.find((key) => key.keyId === rolled.keyId)!;
    expect(successor).toMatchObject({ status: 'active', rolledFromKeyId: keyId });
    expect(successor.importedFrom).toBeUndefined();
    expect(await actionsOf(keyId)).toEqual([
      ['rolled', requestedBy],
      ['imported', requestedBy],
    ]);
  });

  test('roll with a grace period keeps an imported key working until it ends', async () => {
    const rolled = await rollKeyHandler({ appUid: app, keyId: keyIds[0], gracePeriodSeconds: 3600 });
    expect(await status(plaintextLegacy)).toBe(200);
    expect(await status(rolled.apiKey)).toBe(200);
    expect(Date.parse(rolled.previousKeyExpiresAt) - Date.now()).toBeGreaterThan(3500 * 1000);
  });
});

test('an imported expiry holds: accepted before expiresAt, refused from then on', async () => {
  const key = usagePlanKey();
  const expiresAt = new Date(Date.now() + 60_000).toISOString();
  const { keys } = await importKeys({ appUid: 'app-exp', keys: [{ key, name: 'expiring', expiresAt }] });
  expect(keys[0]).toMatchObject({ expiresAt });
  const deps = { keyFormat, legacyKeyFormat: legacyKeyFormat(LEGACY_KEYS), hash, sealer: testSealer, findKey: apiKeyLookup(testAuthorizerDynamoDb(), tables.Keys) };
  expect(await verifyApiKey(deps, key, new Date(Date.parse(expiresAt) - 1))).toEqual({ code: 'valid', appUid: 'app-exp', keyId: keys[0].keyId });
  expect(await verifyApiKey(deps, key, new Date(expiresAt))).toEqual({ code: 'expired', appUid: 'app-exp', keyId: keys[0].keyId });
});

describe('a value of neither format never reaches DynamoDB', () => {
  const counted = () => {
    const lookup = apiKeyLookup(testAuthorizerDynamoDb(), tables.Keys);
    const counter = { reads: 0 };
    const findKey = (keyHash: string) => {
      counter.reads++;
      return lookup(keyHash);
    };
    return { counter, deps: { keyFormat, legacyKeyFormat: legacyKeyFormat(LEGACY_KEYS), hash, sealer: testSealer, findKey } };
  };

  test.each([
    ['garbage', 'hello'],
    ['39 alphanumerics', alphanumerics(39)],
    ['41 alphanumerics', alphanumerics(41)],
    ['40 characters with a dash', `${alphanumerics(39)}-`],
    ['a live key one character short', `sk_live_${alphanumerics(31)}`],
    ['a keygate key with a bad checksum', `${keyFormat.generate().slice(0, -1)}!`],
    ['a 10 KB value', 'a'.repeat(10_000)],
  ])('%s: malformed, no read', async (_label, value) => {
    const { counter, deps } = counted();
    expect(await verifyApiKey(deps, value, new Date())).toEqual({ code: 'malformed' });
    expect(counter.reads).toBe(0);
  });

  test('a legacy-format value that was never imported: one read, not found', async () => {
    const { counter, deps } = counted();
    expect(await verifyApiKey(deps, usagePlanKey(), new Date())).toMatchObject({ code: 'not_found', hashTag: expect.any(String) });
    expect(counter.reads).toBe(1);
  });

  test('the authorizer with DynamoDB unreachable: 401 for a value of neither format (never asked), 500 for a legacy-format one (asked, failed closed)', async () => {
    const cutOff = loadWithEnv<{ handler: Authorizer }>(functionPath('api-key-authorizer'), legacyEnv).handler;
    // The SDK reads the endpoint on the client's first call: nothing listens on port 1.
    const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
    process.env.AWS_ENDPOINT_URL_DYNAMODB = 'http://127.0.0.1:1';
    try {
      expect(await gatewayOutcome(cutOff, asKey('app-x', alphanumerics(39)))).toEqual({ status: 401 });
      expect(await gatewayOutcome(cutOff, asKey('app-x', usagePlanKey()))).toEqual({ status: 500 });
    } finally {
      process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoint;
    }
  });
});

describe('bad imports fail, naming the field, never the key, and write nothing', () => {
  const badKey = `${alphanumerics(30)}-${alphanumerics(9)}`;
  const duplicate = usagePlanKey();
  const ownKey = usagePlanKey();
  const cases: [string, AdminHandler, unknown, string, RegExp][] = [
    ['a key of neither format', importKeys, { appUid: 'app-bad', keys: [{ key: usagePlanKey(), name: 'ok' }, { key: badKey, name: 'bad' }] }, 'keys[1].key', /keys\[1\]\.key matches neither the keygate key format nor the legacy key pattern/],
    [
      'a legacy key where no legacy pattern is configured',
      importKeysWithoutLegacy,
      { appUid: 'app-bad', keys: [{ key: usagePlanKey(), name: 'n' }] },
      'keys[0].key',
      /none is configured: legacyKeys on the construct, KEYGATE_LEGACY_KEY_PATTERN locally/,
    ],
    [
      'a hash where no legacy pattern is configured',
      importKeysWithoutLegacy,
      { appUid: 'app-bad', keys: [{ keyHash: sha256Hex('x'), name: 'n' }] },
      'keys[0].keyHash',
      /accepted only through the legacy key pattern, and none is configured/,
    ],
    ['a hash that is not SHA-256 hex', importKeys, { appUid: 'app-bad', keys: [{ keyHash: 'ab'.repeat(31), name: 'n' }] }, 'keys[0].keyHash', /keys\[0\]\.keyHash: keyHash must be a SHA-256 hash: 64 hexadecimal characters/],
    ['both key and keyHash', importKeys, { appUid: 'app-bad', keys: [{ key: usagePlanKey(), keyHash: sha256Hex('x'), name: 'n' }] }, 'keys[0].key', /exactly one of key or keyHash/],
    ['neither key nor keyHash', importKeys, { appUid: 'app-bad', keys: [{ name: 'n' }] }, 'keys[0].key', /exactly one of key or keyHash/],
    ['no name', importKeys, { appUid: 'app-bad', keys: [{ key: usagePlanKey() }] }, 'keys[0].name', /keys\[0\]\.name/],
    ['an expiry in the past', importKeys, { appUid: 'app-bad', keys: [{ key: usagePlanKey(), name: 'n', expiresAt: '2020-01-01T00:00:00Z' }] }, 'keys[0].expiresAt', /keys\[0\]\.expiresAt must be in the future/],
    ['an unknown field in an entry', importKeys, { appUid: 'app-bad', keys: [{ key: usagePlanKey(), name: 'n', owner: 'x' }] }, 'keys[0].owner', /^unknown field owner in keys\[0\]$/],
    [
      'the same key twice, as plaintext and as its hash',
      importKeys,
      { appUid: 'app-bad', keys: [{ key: duplicate, name: 'a' }, { keyHash: sha256Hex(duplicate), name: 'b' }] },
      'keys[1]',
      /keys\[1\] is the same key as keys\[0\]/,
    ],
    ['a keygate key inside a name', importKeys, { appUid: 'app-bad', keys: [{ key: usagePlanKey(), name: `ci ${keyFormat.generate()}` }] }, 'keys[0].name', /keys\[0\]\.name: name must not contain an API key or session token/],
    ['the entry’s own key as its name', importKeys, { appUid: 'app-bad', keys: [{ key: ownKey, name: `old ${ownKey}` }] }, 'keys[0].name', /^keys\[0\]\.name must not contain an API key$/],
    ['a legacy-format value as a name', importKeys, { appUid: 'app-bad', keys: [{ keyHash: sha256Hex('x'), name: liveKey() }] }, 'keys[0].name', /^keys\[0\]\.name must not contain an API key$/],
    ['a keygate key inside requestedBy', importKeys, { appUid: 'app-bad', keys: [{ key: usagePlanKey(), name: 'n' }], requestedBy: `ci ${keyFormat.generate()}` }, 'requestedBy', /^requestedBy must not contain an API key or session token$/],
    ['no keys', importKeys, { appUid: 'app-bad', keys: [] }, 'keys', /keys must not be empty/],
    ['26 keys', importKeys, { appUid: 'app-bad', keys: Array.from({ length: 26 }, (_, i) => ({ key: usagePlanKey(), name: `k${i}` })) }, 'keys', /at most 25/],
    ['no appUid', importKeys, { keys: [{ key: usagePlanKey(), name: 'n' }] }, 'appUid', /appUid is required/],
  ];

  test.each(cases)('%s', async (_label, handler, input, field, message) => {
    const before = await scanAll(client, tables.Keys);
    const failure = await handler(input).then(
      () => undefined,
      (error: unknown) => error,
    );
    // By name: the handlers here are separate module instances, with their own error classes.
    expect(failure).toMatchObject({ name: 'ValidationError', field });
    expect((failure as Error).message).toMatch(message);
    const { keys: entries = [], requestedBy } = input as { keys?: { key?: string; name?: string }[]; requestedBy?: string };
    // Neither a key nor a field that held one is echoed.
    for (const value of [...entries.flatMap((entry) => [entry.key, entry.name]), requestedBy]) {
      if (value !== undefined && value.length >= 16) expect((failure as Error).message).not.toContain(value);
    }
    expect(await scanAll(client, tables.Keys)).toEqual(before);
  });
});

describe('a key that is already stored', () => {
  test('importing it again: KeyAlreadyExists naming its position, and nothing of that call is written', async () => {
    const first = usagePlanKey();
    await importKeys({ appUid: 'app-dup', keys: [{ key: first, name: 'first' }] });
    const before = await scanAll(client, tables.Keys);
    const fresh = usagePlanKey();
    const failure = await importKeys({ appUid: 'app-dup', keys: [{ key: fresh, name: 'fresh' }, { keyHash: sha256Hex(first), name: 'again, as its hash' }] }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ name: 'KeyAlreadyExists', index: 1, message: 'keys[1] is already stored as a key (imported before?); nothing was written' });
    expect(await scanAll(client, tables.Keys)).toEqual(before);
    expect(await gatewayOutcome(apiKeyAuthorizer, asKey('app-dup', fresh))).toEqual({ status: 401 });
  });

  test('a key keygate created cannot be imported a second time, into any app', async () => {
    const created = await createKeyHandler({ appUid: 'app-native', name: 'native' });
    await expect(importKeys({ appUid: 'app-elsewhere', keys: [{ key: created.apiKey, name: 'stolen?' }] })).rejects.toMatchObject({ name: 'KeyAlreadyExists', index: 0 });
    expect(await gatewayOutcome(apiKeyAuthorizer, asKey('app-native', created.apiKey))).toMatchObject({ status: 200, context: { keyId: created.keyId } });
  });
});
