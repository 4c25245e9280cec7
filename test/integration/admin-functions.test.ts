import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { handler as apiKeyAuthorizer } from '../../functions/api-key-authorizer/index';
import { handler as createKeyHandler } from '../../functions/create-key/index';
import { handler as deleteKeyHandler } from '../../functions/delete-key/index';
import { handler as listKeysHandler } from '../../functions/list-keys/index';
import { handler as whoami } from '../../functions/whoami/index';
import { KeyNotFound, StoreUnavailable, ValidationError } from '../../functions/domain/errors';
import { apiKeyLookup } from '../../functions/stores/credential-lookup';
import { createHasher } from '../../functions/domain/hashing';
import { keyHashItemKey } from '../../lib/shared/item-keys';
import { KeyStore } from '../../functions/stores/key-store';
import { createKey } from '../../functions/domain/keys';
import { activityEvent } from '../../functions/domain/activity';
import { credentialFormat } from '../../functions/domain/credential-format';
import { verifyApiKey } from '../../functions/domain/verify';
import { createTestTables, scanAll, testAuthorizerDynamoDb, testDynamoDbClient } from '../support/dynamodb';
import { apiKeyEvent, authorizerEvent, gatewayOutcome, methodArn, proxyEvent } from '../support/events';
import type { TableNames } from '../../lib/local/tables';
import { sealedKeyItem, testSealer as sealer } from '../support/seals';

let client: DynamoDBClient;
let tables: TableNames;
/** What the authorizers read hash items with. */
const authorizerDynamoDb = testAuthorizerDynamoDb();
let store: KeyStore;
const keyFormat = credentialFormat('kg');
const hash = createHasher(async () => process.env.KEYGATE_LOCAL_PEPPER!);

beforeAll(async () => {
  client = testDynamoDbClient();
  tables = await createTestTables(client);
  store = new KeyStore(DynamoDBDocumentClient.from(client), tables.Keys, sealer);
});
afterAll(() => client.destroy());

const asKey = (apiKey: string) => apiKeyEvent(apiKey, 'app-a');

describe('create-key', () => {
  test('returns the contract fields and a key that the authorizer accepts', async () => {
    const created = await createKeyHandler({ appUid: 'app-a', name: 'billing server' });
    expect(Object.keys(created)).toEqual(['keyId', 'apiKey', 'appUid', 'name', 'displayPrefix', 'createdAt']);
    expect(created.keyId).toMatch(/^key_[0-9A-Za-z]{20}$/);
    expect(created.apiKey.startsWith(created.displayPrefix)).toBe(true);
    expect(created.displayPrefix).toMatch(/^kg_[0-9A-Za-z]{8}$/);

    const outcome = await gatewayOutcome(apiKeyAuthorizer, asKey(created.apiKey));
    expect(outcome).toEqual({ status: 200, context: { appUid: 'app-a', keyId: created.keyId, role: 'app-owner' } });
  });

  test('stores only the peppered hash: no item holds the key or its secret', async () => {
    const created = await createKeyHandler({ appUid: 'app-a', name: 'hash check' });
    const items = await scanAll(client, tables.Keys);
    const dump = JSON.stringify(items);
    expect(dump).not.toContain(created.apiKey);
    expect(dump).not.toContain(created.apiKey.slice(3, 3 + 43));
    const mine = items.filter((item) => item.keyId === created.keyId && !String(item.sk).startsWith('event#'));
    expect(mine.map((item) => String(item.pk).split('#')[0]).sort()).toEqual(['app', 'hash']);
    expect(mine.find((item) => String(item.pk).startsWith('hash#'))?.pk).toBe(`hash#${await hash(created.apiKey)}`);
  });

  test('an expiring key is accepted before expiresAt and refused after', async () => {
    const expiresAt = new Date(Date.now() + 60_000).toISOString();
    const created = await createKeyHandler({ appUid: 'app-a', name: 'temp', expiresAt });
    expect(created.expiresAt).toBe(expiresAt);
    const deps = { keyFormat, hash, sealer, findKey: apiKeyLookup(authorizerDynamoDb, tables.Keys) };
    expect(await verifyApiKey(deps, created.apiKey, new Date(Date.parse(expiresAt) - 1))).toEqual({ code: 'valid', appUid: 'app-a', keyId: created.keyId });
    expect(await verifyApiKey(deps, created.apiKey, new Date(expiresAt))).toEqual({ code: 'expired', appUid: 'app-a', keyId: created.keyId });
  });

  test('a key already past its expiry gets 401 from the authorizer', async () => {
    const past = new Date('2020-01-01T00:00:00Z');
    const created = await createKey({ keyFormat, hash, store, now: () => past }, { appUid: 'app-a', name: 'old', expiresAt: '2020-01-02T00:00:00Z' });
    expect(await gatewayOutcome(apiKeyAuthorizer, asKey(created.apiKey))).toEqual({ status: 401 });
  });
});

test('create-key whose key id or hash exists already (a collision, which random 256-bit keys never make): StoreUnavailable, retryable, nothing more written', async () => {
  const colliding = { keyFormat, hash: async () => 'the-same-hash-every-time', store, now: () => new Date() };
  await createKey(colliding, { appUid: 'app-collide', name: 'first' });
  const before = await scanAll(client, tables.Keys);
  await expect(createKey(colliding, { appUid: 'app-collide', name: 'second' })).rejects.toMatchObject({ name: 'StoreUnavailable', retryable: true, message: expect.stringMatching(/collision/) });
  expect(await scanAll(client, tables.Keys)).toEqual(before);
});

describe('api-key authorizer', () => {
  test('a key of app A is refused with 403 on app B, and works on every route of app A', async () => {
    const created = await createKeyHandler({ appUid: 'app-a', name: 'scoped' });
    const headers = { 'x-api-key': created.apiKey };
    expect(await gatewayOutcome(apiKeyAuthorizer, authorizerEvent(headers, methodArn('GET', 'app-b', 'whoami')))).toEqual({ status: 403 });
    expect(await gatewayOutcome(apiKeyAuthorizer, authorizerEvent(headers, methodArn('POST', 'app-b', 'sdkusers/auth')))).toEqual({ status: 403 });
    expect(await gatewayOutcome(apiKeyAuthorizer, authorizerEvent(headers, methodArn('GET', 'app-a-2', 'whoami')))).toEqual({ status: 403 });
    expect((await gatewayOutcome(apiKeyAuthorizer, authorizerEvent(headers, methodArn('POST', 'app-a', 'sdkusers/auth')))).status).toBe(200);
  });

  test.each([
    ['missing', {}],
    ['empty', { 'x-api-key': '' }],
    ['garbage', { 'x-api-key': 'hello' }],
    ['a session-token-shaped value', { 'x-api-key': credentialFormat('kgs').generate() }],
    ['a well-formed key that was never issued', { 'x-api-key': keyFormat.generate() }],
  ])('%s → 401', async (_label, headers) => {
    expect(await gatewayOutcome(apiKeyAuthorizer, authorizerEvent(headers))).toEqual({ status: 401 });
  });

  test('a bad checksum is refused without reading DynamoDB', async () => {
    const created = await createKeyHandler({ appUid: 'app-a', name: 'checksum' });
    const lookup = apiKeyLookup(authorizerDynamoDb, tables.Keys);
    let reads = 0;
    const findKey = (keyHash: string) => {
      reads++;
      return lookup(keyHash);
    };
    const last = created.apiKey.at(-1) === 'A' ? 'B' : 'A';
    expect(await verifyApiKey({ keyFormat, hash, sealer, findKey }, created.apiKey.slice(0, -1) + last, new Date())).toEqual({ code: 'malformed' });
    expect(reads).toBe(0);
    expect((await verifyApiKey({ keyFormat, hash, sealer, findKey }, created.apiKey, new Date())).code).toBe('valid');
    expect(reads).toBe(1);
  });

  test('an expiry that cannot be read counts as passed (fail closed), even under a good seal', async () => {
    const apiKey = keyFormat.generate();
    const db = DynamoDBDocumentClient.from(client);
    const keyHash = await hash(apiKey);
    const item = { keyId: 'key_CCCCCCCCCCCCCCCCCCCC', appUid: 'app-a', name: 'corrupt', displayPrefix: 'kg_x', createdAt: 'x', expiresAt: 'not a date' };
    await db.send(new PutCommand({ TableName: tables.Keys, Item: { ...keyHashItemKey(keyHash), ...(await sealedKeyItem(keyHash, item)) } }));
    expect(await verifyApiKey({ keyFormat, hash, sealer, findKey: apiKeyLookup(authorizerDynamoDb, tables.Keys) }, apiKey, new Date())).toMatchObject({ code: 'expired' });
  });

  test('the header name is matched case-insensitively', async () => {
    const created = await createKeyHandler({ appUid: 'app-a', name: 'case' });
    for (const name of ['x-api-key', 'X-Api-Key', 'X-API-KEY']) {
      expect((await gatewayOutcome(apiKeyAuthorizer, authorizerEvent({ [name]: created.apiKey }, methodArn('GET', 'app-a', 'whoami')))).status).toBe(200);
    }
  });

  test('whoami answers with the authorizer context', async () => {
    const response = await whoami(proxyEvent({ method: 'GET', context: { appUid: 'app-a', keyId: 'key_x', role: 'app-owner', principalId: 'key_x' } }));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ appUid: 'app-a', keyId: 'key_x', role: 'app-owner' });
  });

  test('whoami refuses to answer without an authorizer context: 500, no detail', async () => {
    expect(await whoami(proxyEvent({ method: 'GET', context: {} }))).toMatchObject({ statusCode: 500, body: JSON.stringify({ message: 'internal error' }) });
  });
});

describe('list-keys', () => {
  test('shows metadata of one app, never the key or its hash', async () => {
    const app = 'app-list';
    const created = [];
    for (let i = 0; i < 5; i++) created.push(await createKeyHandler({ appUid: app, name: `key ${i}` }));
    await createKeyHandler({ appUid: 'app-list-other', name: 'other app' });

    const listed = await listKeysHandler({ appUid: app });
    expect(listed.nextToken).toBeUndefined();
    expect(listed.keys.map((key) => key.keyId).sort()).toEqual(created.map((key) => key.keyId).sort());
    for (const key of listed.keys) expect(Object.keys(key).sort()).toEqual(['createdAt', 'displayPrefix', 'enabled', 'keyId', 'name', 'status']);
    const dump = JSON.stringify(listed);
    for (const key of created) expect(dump).not.toContain(key.apiKey);
    expect(dump).not.toContain(await hash(created[0].apiKey));
  });

  test('pages with limit and nextToken cover every key exactly once', async () => {
    const app = 'app-pages';
    const ids = [];
    for (let i = 0; i < 7; i++) ids.push((await createKeyHandler({ appUid: app, name: `k${i}` })).keyId);
    const seen: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await listKeysHandler({ appUid: app, limit: 3, ...(nextToken ? { nextToken } : {}) });
      seen.push(...page.keys.map((key) => key.keyId));
      nextToken = page.nextToken;
      pages++;
    } while (nextToken);
    expect(seen.sort()).toEqual(ids.sort());
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  test('a nextToken from one app cannot read another app', async () => {
    const aIds: string[] = [];
    for (let i = 0; i < 3; i++) aIds.push((await createKeyHandler({ appUid: 'app-tok-a', name: `a${i}` })).keyId);
    const bIds: string[] = [];
    for (let i = 0; i < 4; i++) bIds.push((await createKeyHandler({ appUid: 'app-tok-b', name: `b${i}` })).keyId);
    const first = await listKeysHandler({ appUid: 'app-tok-a', limit: 1 });
    const other = await listKeysHandler({ appUid: 'app-tok-b', nextToken: first.nextToken });
    // The token is only a position: in app B it resumes after that key id, and yields B's keys only.
    const position = first.keys[0]!.keyId;
    const expected = bIds.filter((id) => `key#${id}` > `key#${position}`).sort();
    expect(other.keys.map((key) => key.keyId).sort()).toEqual(expected);
    expect(other.keys.some((key) => aIds.includes(key.keyId))).toBe(false);
  });

  test('an app with no keys lists nothing', async () => {
    expect(await listKeysHandler({ appUid: 'nobody' })).toEqual({ keys: [] });
  });
});

describe('delete-key', () => {
  test('the very next request with a deleted key is refused; other keys of the app still work', async () => {
    const doomed = await createKeyHandler({ appUid: 'app-del', name: 'doomed' });
    const kept = await createKeyHandler({ appUid: 'app-del', name: 'kept' });
    const event = (apiKey: string) => apiKeyEvent(apiKey, 'app-del');
    expect((await gatewayOutcome(apiKeyAuthorizer, event(doomed.apiKey))).status).toBe(200);

    expect(await deleteKeyHandler({ appUid: 'app-del', keyId: doomed.keyId })).toEqual({ keyId: doomed.keyId, deleted: true });
    expect(await gatewayOutcome(apiKeyAuthorizer, event(doomed.apiKey))).toEqual({ status: 401 });
    expect(await verifyApiKey({ keyFormat, hash, sealer, findKey: apiKeyLookup(authorizerDynamoDb, tables.Keys) }, doomed.apiKey, new Date())).toMatchObject({ code: 'not_found' });
    expect((await gatewayOutcome(apiKeyAuthorizer, event(kept.apiKey))).status).toBe(200);

    const items = await scanAll(client, tables.Keys);
    // Only its two events (created, deleted) are left.
    expect(items.filter((item) => item.keyId === doomed.keyId).map((item) => item.action)).toEqual(['created', 'deleted']);
  });

  test('deleting twice fails with KeyNotFound', async () => {
    const created = await createKeyHandler({ appUid: 'app-del2', name: 'twice' });
    await deleteKeyHandler({ appUid: 'app-del2', keyId: created.keyId });
    await expect(deleteKeyHandler({ appUid: 'app-del2', keyId: created.keyId })).rejects.toMatchObject({
      name: 'KeyNotFound',
      message: `key ${created.keyId} not found in app app-del2`,
    });
  });

  test('a key cannot be deleted through another app', async () => {
    const created = await createKeyHandler({ appUid: 'app-owner', name: 'mine' });
    await expect(deleteKeyHandler({ appUid: 'app-thief', keyId: created.keyId })).rejects.toBeInstanceOf(KeyNotFound);
    expect((await gatewayOutcome(apiKeyAuthorizer, apiKeyEvent(created.apiKey, 'app-owner'))).status).toBe(200);
  });

  test('concurrent deletes of one key: exactly one succeeds', async () => {
    const created = await createKeyHandler({ appUid: 'app-race', name: 'race' });
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => deleteKeyHandler({ appUid: 'app-race', keyId: created.keyId })));
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    for (const result of results) if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(KeyNotFound);
  });
});

describe('bad admin payloads fail with ValidationError naming the field and write nothing', () => {
  const cases: [string, (input: unknown) => Promise<unknown>, unknown, string][] = [
    ['create: not an object', createKeyHandler, 'app-a', '(body)'],
    ['create: null', createKeyHandler, null, '(body)'],
    ['create: array', createKeyHandler, [], '(body)'],
    ['create: missing appUid', createKeyHandler, { name: 'n' }, 'appUid'],
    ['create: appUid with a slash', createKeyHandler, { appUid: 'a/b', name: 'n' }, 'appUid'],
    ['create: appUid with a wildcard', createKeyHandler, { appUid: 'a*', name: 'n' }, 'appUid'],
    ['create: appUid too long', createKeyHandler, { appUid: 'a'.repeat(129), name: 'n' }, 'appUid'],
    ['create: appUid a number', createKeyHandler, { appUid: 7, name: 'n' }, 'appUid'],
    ['create: missing name', createKeyHandler, { appUid: 'app-a' }, 'name'],
    ['create: blank name', createKeyHandler, { appUid: 'app-a', name: '   ' }, 'name'],
    ['create: name too long', createKeyHandler, { appUid: 'app-a', name: 'n'.repeat(101) }, 'name'],
    ['create: expiresAt not a date', createKeyHandler, { appUid: 'app-a', name: 'n', expiresAt: 'tomorrow' }, 'expiresAt'],
    ['create: expiresAt in the past', createKeyHandler, { appUid: 'app-a', name: 'n', expiresAt: '2001-01-01T00:00:00Z' }, 'expiresAt'],
    ['create: unknown field', createKeyHandler, { appUid: 'app-a', name: 'n', role: 'admin' }, 'role'],
    ['list: missing appUid', listKeysHandler, {}, 'appUid'],
    ['list: limit zero', listKeysHandler, { appUid: 'app-a', limit: 0 }, 'limit'],
    ['list: limit a string', listKeysHandler, { appUid: 'app-a', limit: '5' }, 'limit'],
    ['list: forged nextToken', listKeysHandler, { appUid: 'app-a', nextToken: 'abc' }, 'nextToken'],
    ['delete: missing keyId', deleteKeyHandler, { appUid: 'app-a' }, 'keyId'],
    ['delete: keyId of the wrong shape', deleteKeyHandler, { appUid: 'app-a', keyId: 'kg_123' }, 'keyId'],
  ];

  test.each(cases)('%s', async (_label, handler, input, field) => {
    const before = await scanAll(client, tables.Keys);
    const failure = await handler(input).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ValidationError);
    expect(failure).toMatchObject({ name: 'ValidationError', field });
    expect((failure as Error).message).toContain(field === '(body)' ? 'must be a JSON object' : field);
    expect(await scanAll(client, tables.Keys)).toEqual(before);
  });
});

describe('transactions', () => {
  test('a create whose transaction fails leaves no half-created key', async () => {
    const metadata = { keyId: 'key_AAAAAAAAAAAAAAAAAAAA', appUid: 'app-tx', name: 'first', displayPrefix: 'kg_AAAAAAAA', createdAt: new Date().toISOString() };
    const created = (keyId: string) => activityEvent({ now: new Date(), action: 'created', keyId });
    await store.create(metadata, 'collidinghash', created(metadata.keyId));
    // Same hash, new key id: the hash item's condition fails, so neither the app item nor the event may be written.
    await expect(store.create({ ...metadata, keyId: 'key_BBBBBBBBBBBBBBBBBBBB', name: 'second' }, 'collidinghash', created('key_BBBBBBBBBBBBBBBBBBBB'))).rejects.toBeInstanceOf(
      StoreUnavailable,
    );
    const items = (await scanAll(client, tables.Keys)).filter((item) => item.appUid === 'app-tx' || String(item.pk) === 'app#app-tx');
    expect(items.map((item) => `${item.action ?? (item.pk === 'apps' ? 'registry' : 'key item')} ${item.keyId ?? item.appUid}`).sort()).toEqual([
      'created key_AAAAAAAAAAAAAAAAAAAA',
      'key item key_AAAAAAAAAAAAAAAAAAAA',
      'key item key_AAAAAAAAAAAAAAAAAAAA',
      'registry app-tx',
    ]);
    // Nor is the failed key counted.
    expect(items.find((item) => item.pk === 'apps')).toMatchObject({ keyCount: 1 });
  });
});
