import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { handler as apiKeyAuthorizer } from '../../functions/api-key-authorizer/index';
import { handler as sessionAuthorizer } from '../../functions/session-authorizer/index';
import { handler as createKeyHandler } from '../../functions/create-key/index';
import { handler as sealRecordsHandler } from '../../functions/seal-records/index';
import { handler as updateKeyHandler } from '../../functions/update-key/index';
import { sealRecords } from '../../functions/domain/seal-records';
import { createHasher } from '../../functions/domain/hashing';
import { credentialFormat } from '../../functions/domain/credential-format';
import { verifyApiKey, verifySessionToken } from '../../functions/domain/verify';
import { apiKeyLookup, sessionLookup } from '../../functions/stores/credential-lookup';
import { RecordSealingStore } from '../../functions/stores/record-sealing';
import { appKeyItemKey, appRecordItemKey, keyHashItemKey, sessionItemKey } from '../../lib/shared/item-keys';
import { KeyStore } from '../../functions/stores/key-store';
import type { TableNames } from '../../lib/local/tables';
import { createTestTables, scanAll, testAuthorizerDynamoDb, testDynamoDbClient } from '../support/dynamodb';
import { apiKeyEvent, gatewayOutcome, sessionTokenEvent } from '../support/events';
import { testSealer as sealer } from '../support/seals';

/**
 * seal-records, the one-off migration to sealed records, on DynamoDB Local:
 * items written the way keygate wrote them before it sealed are refused,
 * then sealed as they are and let in; a second run changes nothing; a wrong
 * seal is never replaced; and it pages and resumes.
 */
let client: DynamoDBClient;
const authorizerDynamoDb = testAuthorizerDynamoDb();
let db: DynamoDBDocumentClient;
let tables: TableNames;
const hash = createHasher(async () => process.env.KEYGATE_LOCAL_PEPPER!);
const keyFormat = credentialFormat('kg');
const sessionFormat = credentialFormat('kgs');
const unlimited = { remainingMs: () => Number.POSITIVE_INFINITY };

beforeAll(async () => {
  client = testDynamoDbClient();
  db = DynamoDBDocumentClient.from(client);
  tables = await createTestTables(client);
});
afterAll(() => client.destroy());

const keyStatus = async (apiKey: string, appUid: string) => (await gatewayOutcome(apiKeyAuthorizer, apiKeyEvent(apiKey, appUid))).status;
const sessionStatus = async (token: string, appUid: string) =>
  (await gatewayOutcome(sessionAuthorizer, sessionTokenEvent(token, appUid))).status;

let legacyCount = 0;
/** A key's two items as keygate wrote them before sealing (optionally before `enabled` existed too). */
async function legacyKey(appUid: string, fields: Record<string, unknown> = {}) {
  const apiKey = keyFormat.generate();
  const keyHash = await hash(apiKey);
  const keyId = `key_LEGACY${String(++legacyCount).padStart(14, '0')}`;
  const key = { keyId, appUid, name: 'legacy', displayPrefix: keyFormat.displayPrefix(apiKey), createdAt: '2025-01-01T00:00:00.000Z', ...fields };
  await db.send(new PutCommand({ TableName: tables.Keys, Item: { ...keyHashItemKey(keyHash), ...key } }));
  await db.send(new PutCommand({ TableName: tables.Keys, Item: { ...appKeyItemKey(appUid, keyId), ...key, keyHash, revision: 1 } }));
  return { apiKey, keyId, keyHash };
}

/** A session item as sdkusers/auth wrote it before sealing. */
async function legacySession(appUid: string) {
  const token = sessionFormat.generate();
  const tokenHash = await hash(token);
  const expiresAt = new Date(Date.now() + 3600_000);
  const session = {
    sessionId: `ses_LEGACY${String(++legacyCount).padStart(14, '0')}`,
    appUid,
    userId: 'usr_LEGACYLEGACYLEGACY',
    userKey: 'legacy-user',
    createdAt: new Date().toISOString(),
    expiresAt: expiresAt.toISOString(),
    expiresAtEpoch: Math.ceil(expiresAt.getTime() / 1000),
    createdByKeyId: 'key_LEGACYLEGACYLEGACY',
  };
  await db.send(new PutCommand({ TableName: tables.Sessions, Item: { ...sessionItemKey(tokenHash), ...session } }));
  return { token, tokenHash };
}

const getItem = async (table: string, key: Record<string, string>) => (await db.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
/** The keys table without lastUsedAt, which the authorizer writes after it has answered (so possibly during a later step). */
const keyItems = async () => (await scanAll(client, tables.Keys)).map(({ lastUsedAt: _lastUsedAt, ...item }) => item);

describe('seal-records', () => {
  test('seals legacy key and session items as they are, which the authorizers then let in; a second run changes nothing', async () => {
    const sealedBefore = await createKeyHandler({ appUid: 'sr-a', name: 'already sealed' });
    const plain = await legacyKey('sr-a');
    const enabled = await legacyKey('sr-a', { enabled: true, expiresAt: new Date(Date.now() + 3600_000).toISOString() });
    const disabled = await legacyKey('sr-a', { enabled: false });
    const expired = await legacyKey('sr-a', { enabled: true, expiresAt: '2020-01-01T00:00:00.000Z' });
    const session = await legacySession('sr-a');
    for (const key of [plain, enabled]) expect(await keyStatus(key.apiKey, 'sr-a')).toBe(401);
    expect(await sessionStatus(session.token, 'sr-a')).toBe(401);

    const first = await sealRecordsHandler({});
    expect(first).toEqual({
      keys: { sealed: 4, alreadySealed: 1, wrongSeal: 0, skipped: 0 },
      sessions: { sealed: 1, alreadySealed: 0, wrongSeal: 0, skipped: 0 },
      apps: { sealed: 0, alreadySealed: 0, wrongSeal: 0, skipped: 0 },
    });
    // Only the seal was added: the app items, and every other attribute, are as they were.
    const item = await getItem(tables.Keys, keyHashItemKey(plain.keyHash));
    expect(Object.keys(item!).sort()).toEqual(['appUid', 'createdAt', 'displayPrefix', 'keyId', 'name', 'pk', 'seal', 'sk']);
    expect((await getItem(tables.Keys, appKeyItemKey('sr-a', plain.keyId)))!.seal).toBeUndefined();
    // Sealed as they were: the valid ones are let in, the disabled and expired ones stay refused.
    expect(await keyStatus(plain.apiKey, 'sr-a')).toBe(200);
    expect(await keyStatus(enabled.apiKey, 'sr-a')).toBe(200);
    expect(await keyStatus(sealedBefore.apiKey, 'sr-a')).toBe(200);
    expect(await verifyApiKey({ keyFormat, hash, sealer, findKey: apiKeyLookup(authorizerDynamoDb, tables.Keys) }, disabled.apiKey, new Date())).toMatchObject({ code: 'disabled' });
    expect(await verifyApiKey({ keyFormat, hash, sealer, findKey: apiKeyLookup(authorizerDynamoDb, tables.Keys) }, expired.apiKey, new Date())).toMatchObject({ code: 'expired' });
    expect(await sessionStatus(session.token, 'sr-a')).toBe(200);

    const before = await keyItems();
    const second = await sealRecordsHandler({});
    expect(second).toEqual({
      keys: { sealed: 0, alreadySealed: 5, wrongSeal: 0, skipped: 0 },
      sessions: { sealed: 0, alreadySealed: 1, wrongSeal: 0, skipped: 0 },
      apps: { sealed: 0, alreadySealed: 0, wrongSeal: 0, skipped: 0 },
    });
    expect(await keyItems()).toEqual(before);
    // Sealed legacy keys can be changed by the admin functions like any other; a rename leaves its missing enabled flag missing, and sealed so.
    await updateKeyHandler({ appUid: 'sr-a', keyId: plain.keyId, name: 'renamed', expiresAt: new Date(Date.now() + 3600_000).toISOString() });
    expect(await keyStatus(plain.apiKey, 'sr-a')).toBe(200);
    expect((await getItem(tables.Keys, keyHashItemKey(plain.keyHash)))!.enabled).toBeUndefined();
    await updateKeyHandler({ appUid: 'sr-a', keyId: plain.keyId, enabled: false });
    expect(await keyStatus(plain.apiKey, 'sr-a')).toBe(401);
    await updateKeyHandler({ appUid: 'sr-a', keyId: plain.keyId, enabled: true });
    expect(await keyStatus(plain.apiKey, 'sr-a')).toBe(200);
  });

  test('never replaces a wrong seal, and leaves unsealed what keygate would not have written', async () => {
    const tampered = await createKeyHandler({ appUid: 'sr-b', name: 'tampered' });
    const tamperedHash = await hash(tampered.apiKey);
    await db.send(new UpdateCommand({ TableName: tables.Keys, Key: keyHashItemKey(tamperedHash), UpdateExpression: 'SET appUid = :b', ExpressionAttributeValues: { ':b': 'sr-c' } }));
    const odd = await legacyKey('sr-b', { enabled: 'yes' });
    const numeric = await legacyKey('sr-b');
    await db.send(new UpdateCommand({ TableName: tables.Keys, Key: keyHashItemKey(numeric.keyHash), UpdateExpression: 'SET appUid = :n', ExpressionAttributeValues: { ':n': 7 } }));
    const before = [await getItem(tables.Keys, keyHashItemKey(tamperedHash)), await getItem(tables.Keys, keyHashItemKey(odd.keyHash)), await getItem(tables.Keys, keyHashItemKey(numeric.keyHash))];

    const result = await sealRecordsHandler({});
    expect(result.keys).toMatchObject({ sealed: 0, wrongSeal: 1, skipped: 2 });
    expect([await getItem(tables.Keys, keyHashItemKey(tamperedHash)), await getItem(tables.Keys, keyHashItemKey(odd.keyHash)), await getItem(tables.Keys, keyHashItemKey(numeric.keyHash))]).toEqual(before);
    expect(await keyStatus(tampered.apiKey, 'sr-c')).toBe(401);
    expect(await keyStatus(odd.apiKey, 'sr-b')).toBe(401);
  });

  test('an item that changes between the read and the write is not sealed: the write is conditional on the sealed fields read', async () => {
    const store = new RecordSealingStore(client, { key: tables.Keys, session: tables.Sessions, app: tables.Keys });
    const legacy = await legacyKey('sr-d');
    const found = (await allPages(store)).find((item) => item.hash === legacy.keyHash)!;
    expect(found.item).toMatchObject({ appUid: 'sr-d', keyId: legacy.keyId });
    // A table writer moves it to another app after the scan read it.
    await db.send(new UpdateCommand({ TableName: tables.Keys, Key: keyHashItemKey(legacy.keyHash), UpdateExpression: 'SET appUid = :e', ExpressionAttributeValues: { ':e': 'sr-e' } }));
    expect(await store.seal('key', found, await sealer.seal({ kind: 'key', hash: found.hash, item: found.item }))).toBe(false);
    expect((await getItem(tables.Keys, keyHashItemKey(legacy.keyHash)))!.seal).toBeUndefined();
    expect(await keyStatus(legacy.apiKey, 'sr-e')).toBe(401);
    // Gone, so the later tests' counts are their own.
    await db.send(new DeleteCommand({ TableName: tables.Keys, Key: keyHashItemKey(legacy.keyHash) }));
  });

  test("app registry items with a plan: sealed as they are, then believed by the writers' KeyStore; a plan changed without the pepper is refused, never sealed", async () => {
    const store = new KeyStore(db, tables.Keys, sealer);
    const plan = { plan: 'free', gatewayKeyId: 'gwk-sr-g', gatewayKey: 'gw-value-sr-g' };
    // As set-app-plan wrote it before records were sealed; and one without a plan, which has nothing to seal.
    await db.send(new PutCommand({ TableName: tables.Keys, Item: { ...appRecordItemKey('sr-g'), appUid: 'sr-g', createdAt: '2025-01-01T00:00:00.000Z', keyCount: 0, ...plan } }));
    await db.send(new PutCommand({ TableName: tables.Keys, Item: { ...appRecordItemKey('sr-h'), appUid: 'sr-h', createdAt: '2025-01-01T00:00:00.000Z', keyCount: 0 } }));
    await expect(store.getApp('sr-g')).rejects.toMatchObject({ name: 'RecordSealInvalid', message: expect.stringMatching(/before records were sealed; run seal-records/) });
    expect(await store.getApp('sr-h')).toMatchObject({ appUid: 'sr-h' });

    expect((await sealRecordsHandler({})).apps).toEqual({ sealed: 1, alreadySealed: 0, wrongSeal: 0, skipped: 0 });
    expect(await store.getApp('sr-g')).toMatchObject({ appUid: 'sr-g', ...plan });
    expect((await getItem(tables.Keys, appRecordItemKey('sr-h')))!.seal).toBeUndefined();

    // Another app's gateway key written in: every writer refuses it, and seal-records leaves it as it is.
    await db.send(new UpdateCommand({ TableName: tables.Keys, Key: appRecordItemKey('sr-g'), UpdateExpression: 'SET gatewayKey = :other', ExpressionAttributeValues: { ':other': 'gw-value-of-another-app' } }));
    await expect(store.getApp('sr-g')).rejects.toMatchObject({ name: 'RecordSealInvalid', message: expect.stringMatching(/does not verify/) });
    const before = await getItem(tables.Keys, appRecordItemKey('sr-g'));
    expect((await sealRecordsHandler({})).apps).toEqual({ sealed: 0, alreadySealed: 0, wrongSeal: 1, skipped: 0 });
    expect(await getItem(tables.Keys, appRecordItemKey('sr-g'))).toEqual(before);
    // Part of a plan (no gatewayKey), as keygate never writes it: left unsealed, and refused.
    await db.send(new PutCommand({ TableName: tables.Keys, Item: { ...appRecordItemKey('sr-i'), appUid: 'sr-i', createdAt: '2025-01-01T00:00:00.000Z', keyCount: 0, plan: 'free', gatewayKeyId: 'gwk-sr-i' } }));
    expect((await sealRecordsHandler({})).apps).toEqual({ sealed: 0, alreadySealed: 0, wrongSeal: 1, skipped: 1 });
    await expect(store.getApp('sr-i')).rejects.toMatchObject({ name: 'RecordSealInvalid' });
    await db.send(new DeleteCommand({ TableName: tables.Keys, Key: appRecordItemKey('sr-i') }));
    // Display-only readers (get-app, list-apps: no sealer) still show it.
    expect(await new KeyStore(db, tables.Keys).getApp('sr-g')).toMatchObject({ gatewayKey: 'gw-value-of-another-app' });
    await db.send(new DeleteCommand({ TableName: tables.Keys, Key: appRecordItemKey('sr-g') }));
  });

  test('pages: a small limit returns a nextToken, calls with it finish the job, and the counts add up', async () => {
    const legacy = await Promise.all(Array.from({ length: 7 }, () => legacyKey('sr-p')));
    const sessions = await Promise.all(Array.from({ length: 3 }, () => legacySession('sr-p')));
    let calls = 0;
    let sealed = 0;
    let nextToken: string | undefined;
    do {
      const page = await sealRecordsHandler({ limit: 4, ...(nextToken && { nextToken }) });
      calls += 1;
      sealed += page.keys.sealed + page.sessions.sealed;
      nextToken = page.nextToken;
    } while (nextToken && calls < 1000);
    expect(nextToken).toBeUndefined();
    expect(calls).toBeGreaterThan(2);
    expect(sealed).toBe(legacy.length + sessions.length);
    for (const key of legacy) expect(await keyStatus(key.apiKey, 'sr-p')).toBe(200);
    for (const session of sessions) expect(await sessionStatus(session.token, 'sr-p')).toBe(200);
  });

  test('stops with time to spare: with its budget spent, it answers at once with a nextToken that resumes where it stopped', async () => {
    await legacyKey('sr-t');
    const deps = { sealer, store: new RecordSealingStore(client, { key: tables.Keys, session: tables.Sessions, app: tables.Keys }) };
    const spent = await sealRecords(deps, {}, { remainingMs: () => 1000 });
    const none = { sealed: 0, alreadySealed: 0, wrongSeal: 0, skipped: 0 };
    expect(spent).toEqual({ keys: none, sessions: none, apps: none, nextToken: expect.any(String) });
    const resumed = await sealRecords(deps, { nextToken: spent.nextToken }, unlimited);
    expect(resumed.keys.sealed).toBe(1);
    expect(resumed.nextToken).toBeUndefined();
  });

  test('without a sessions table (sessions off) it seals key items only', async () => {
    await legacySession('sr-n');
    const legacy = await legacyKey('sr-n');
    const result = await sealRecords({ sealer, store: new RecordSealingStore(client, { key: tables.Keys, session: undefined, app: tables.Keys }) }, {}, unlimited);
    expect(result.keys.sealed).toBe(1);
    expect(result.sessions).toEqual({ sealed: 0, alreadySealed: 0, wrongSeal: 0, skipped: 0 });
    expect(await keyStatus(legacy.apiKey, 'sr-n')).toBe(200);
    expect((await sealRecordsHandler({})).sessions.sealed).toBe(1);
  });

  test('bad input: ValidationError naming the field, nothing written', async () => {
    await legacyKey('sr-v');
    const before = await keyItems();
    const cases: [unknown, string][] = [
      [{ limit: 0 }, 'limit'],
      [{ limit: 10_001 }, 'limit'],
      [{ limit: '5' }, 'limit'],
      [{ nextToken: 'forged' }, 'nextToken'],
      [{ nextToken: Buffer.from(JSON.stringify({ kind: 'users' })).toString('base64url') }, 'nextToken'],
      [{ nextToken: Buffer.from(JSON.stringify({ kind: 'key', pk: 1, sk: 'x' })).toString('base64url') }, 'nextToken'],
      [{ appUid: 'sr-v' }, 'appUid'],
      [[], '(body)'],
    ];
    for (const [input, field] of cases) await expect(sealRecordsHandler(input)).rejects.toMatchObject({ name: 'ValidationError', field });
    expect(await keyItems()).toEqual(before);
  });
});

describe('acceptUnsealedRecords (the upgrade window)', () => {
  test('accepts an item with no seal at all, refuses a wrong seal, and is off unless set', async () => {
    const legacy = await legacyKey('sr-w');
    const session = await legacySession('sr-w');
    const wrong = await createKeyHandler({ appUid: 'sr-w', name: 'wrong seal' });
    await db.send(new UpdateCommand({ TableName: tables.Keys, Key: keyHashItemKey(await hash(wrong.apiKey)), UpdateExpression: 'SET expiresAt = :x', ExpressionAttributeValues: { ':x': '2099-01-01T00:00:00.000Z' } }));
    const keys = (acceptUnsealedRecords?: boolean) => ({ keyFormat, hash, sealer, findKey: apiKeyLookup(authorizerDynamoDb, tables.Keys), acceptUnsealedRecords });
    const sessions = (acceptUnsealedRecords?: boolean) => ({ sessionFormat, hash, sealer, findSession: sessionLookup(authorizerDynamoDb, tables.Sessions), acceptUnsealedRecords });

    expect(await verifyApiKey(keys(true), legacy.apiKey, new Date())).toEqual({ code: 'valid', appUid: 'sr-w', keyId: legacy.keyId });
    expect(await verifySessionToken(sessions(true), session.token, new Date())).toMatchObject({ code: 'valid' });
    expect(await verifyApiKey(keys(true), wrong.apiKey, new Date())).toMatchObject({ code: 'tampered', seal: 'wrong' });
    for (const off of [undefined, false]) {
      expect(await verifyApiKey(keys(off), legacy.apiKey, new Date())).toMatchObject({ code: 'tampered', seal: 'missing' });
      expect(await verifySessionToken(sessions(off), session.token, new Date())).toMatchObject({ code: 'tampered', seal: 'missing' });
    }
  });
});

async function allPages(store: RecordSealingStore) {
  const items = [];
  let start;
  do {
    const page = await store.page('key', 100, start);
    items.push(...page.items);
    start = page.next;
  } while (start);
  return items;
}
