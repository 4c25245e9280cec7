import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { handler as apiKeyAuthorizer } from '../../functions/api-key-authorizer/index';
import { handler as sessionAuthorizer } from '../../functions/session-authorizer/index';
import { handler as createKeyHandler } from '../../functions/create-key/index';
import { handler as updateKeyHandler } from '../../functions/update-key/index';
import { handler as rollKeyHandler } from '../../functions/roll-key/index';
import { handler as deleteKeyHandler } from '../../functions/delete-key/index';
import { createKey } from '../../functions/domain/keys';
import { issueSession } from '../../functions/domain/sessions';
import { createHasher, logTag } from '../../functions/domain/hashing';
import { credentialFormat } from '../../functions/domain/credential-format';
import { logger } from '../../functions/lambda/services';
import { KeyStore } from '../../functions/stores/key-store';
import { SessionStore } from '../../functions/stores/session-store';
import { UserStore } from '../../functions/stores/user-store';
import { appKeyItemKey, keyHashItemKey, sessionItemKey } from '../../lib/shared/item-keys';
import type { TableNames } from '../../lib/local/tables';
import { createTestTables, testDynamoDbClient } from '../support/dynamodb';
import { apiKeyEvent, gatewayOutcome, sessionTokenEvent } from '../support/events';
import { testSealer } from '../support/seals';
import { OutputCapture } from './support';

/**
 * Sealed records (issue 14, item 1) against someone who can write the tables
 * but cannot read the pepper. Each case makes one change a table writer could
 * make to a real item, then asks the real authorizer, as API Gateway would:
 * every change to a sealed field (or the seal, or the item's place) must get
 * 401 and a WARN line with reason `tampered` that names the hash tag and
 * never the key or token. The untouched controls get 200 (or the refusal
 * they had before the change, which the change would otherwise have undone).
 */

let client: DynamoDBClient;
let db: DynamoDBDocumentClient;
let tables: TableNames;
const output = new OutputCapture();
const hash = createHasher(async () => process.env.KEYGATE_LOCAL_PEPPER!);
const keyFormat = credentialFormat('kg');
const sessionFormat = credentialFormat('kgs');
const DAY = 24 * 60 * 60 * 1000;

beforeAll(async () => {
  client = testDynamoDbClient();
  db = DynamoDBDocumentClient.from(client);
  tables = await createTestTables(client);
  logger.setLogLevel('INFO');
  output.start();
});
afterAll(() => {
  output.stop();
  client.destroy();
});

const keyOn = (apiKey: string, appUid: string) => gatewayOutcome(apiKeyAuthorizer, apiKeyEvent(apiKey, appUid));
const sessionOn = (token: string, appUid: string) =>
  gatewayOutcome(sessionAuthorizer, sessionTokenEvent(token, appUid));

/** Asks (one request at a time), and returns the status and the refusal lines it logged. */
async function ask(request: () => Promise<{ status: number }>) {
  const from = output.lines().length;
  const { status } = await request();
  return { status, lines: output.lines().slice(from).filter((line) => /refused$/.test(String(line.message))) };
}

/** What a table writer without the pepper does: change an item in place. */
async function tamper(table: string, key: Record<string, string>, expression: string, values?: Record<string, unknown>) {
  await db.send(
    new UpdateCommand({
      TableName: table,
      Key: key,
      UpdateExpression: expression,
      ...(values && { ExpressionAttributeValues: values }),
      ...(expression.includes('#') && { ExpressionAttributeNames: Object.fromEntries([...expression.matchAll(/#(\w+)/g)].map(([name, attribute]) => [name, attribute!])) }),
    }),
  );
}

/** The other thing a table writer can do: copy a whole item, seal and all, over another item. */
async function copyOver(table: string, from: Record<string, string>, to: Record<string, string>) {
  const { Item } = await db.send(new GetCommand({ TableName: table, Key: from, ConsistentRead: true }));
  await db.send(new PutCommand({ TableName: table, Item: { ...Item, ...to } }));
}

async function expectTampered(outcome: { status: number; lines: Record<string, unknown>[] }, credential: string, seal: 'missing' | 'wrong' = 'wrong') {
  expect(outcome.status).toBe(401);
  expect(outcome.lines).toEqual([expect.objectContaining({ level: 'WARN', reason: 'tampered', seal, hashTag: logTag(await hash(credential)) })]);
  // The item's own fields are not believed, so not logged either; the credential never is.
  expect(outcome.lines[0]).not.toHaveProperty('keyId');
  expect(outcome.lines[0]).not.toHaveProperty('appUid');
  expect(JSON.stringify(outcome.lines)).not.toContain(credential);
}

describe('API-key hash items', () => {
  const keyStore = () => new KeyStore(db, tables.Keys, testSealer);
  /** A key created through the real create-key; its hash item's key. */
  async function freshKey(appUid = 'tam-a') {
    const created = await createKeyHandler({ appUid, name: 'tamper target' });
    return { ...created, itemKey: keyHashItemKey(await hash(created.apiKey)) };
  }
  /** A key that expired yesterday, made as create-key would have made it two days ago. */
  async function expiredKey() {
    const longAgo = new Date(Date.now() - 2 * DAY);
    const created = await createKey({ keyFormat, hash, store: keyStore(), now: () => longAgo }, { appUid: 'tam-a', name: 'expired', expiresAt: new Date(longAgo.getTime() + DAY).toISOString() });
    return { ...created, itemKey: keyHashItemKey(await hash(created.apiKey)) };
  }

  test('control: an untouched key is let in (200), on its own app only', async () => {
    const key = await freshKey();
    expect((await keyOn(key.apiKey, 'tam-a')).status).toBe(200);
    expect((await keyOn(key.apiKey, 'tam-b')).status).toBe(403);
  });

  test('appUid changed to another app: 401 tampered there and at home, where it would have been let into the other app', async () => {
    const key = await freshKey();
    await tamper(tables.Keys, key.itemKey, 'SET appUid = :other', { ':other': 'tam-b' });
    await expectTampered(await ask(() => keyOn(key.apiKey, 'tam-b')), key.apiKey);
    await expectTampered(await ask(() => keyOn(key.apiKey, 'tam-a')), key.apiKey);
  });

  test('keyId changed (to pass as another key): 401 tampered', async () => {
    const key = await freshKey();
    const other = await freshKey();
    await tamper(tables.Keys, key.itemKey, 'SET keyId = :other', { ':other': other.keyId });
    await expectTampered(await ask(() => keyOn(key.apiKey, 'tam-a')), key.apiKey);
  });

  test('expiresAt removed from an expired key: 401 tampered (the control: 401 expired)', async () => {
    const key = await expiredKey();
    const before = await ask(() => keyOn(key.apiKey, 'tam-a'));
    expect(before.status).toBe(401);
    expect(before.lines).toEqual([expect.objectContaining({ reason: 'expired' })]);
    await tamper(tables.Keys, key.itemKey, 'REMOVE expiresAt');
    await expectTampered(await ask(() => keyOn(key.apiKey, 'tam-a')), key.apiKey);
  });

  test('a later expiresAt set on an expired key: 401 tampered', async () => {
    const key = await expiredKey();
    await tamper(tables.Keys, key.itemKey, 'SET expiresAt = :later', { ':later': new Date(Date.now() + 365 * DAY).toISOString() });
    await expectTampered(await ask(() => keyOn(key.apiKey, 'tam-a')), key.apiKey);
  });

  test('enabled flipped back on a disabled key: 401 tampered (the control: 401 disabled); so is removing the flag', async () => {
    const key = await freshKey();
    await updateKeyHandler({ appUid: 'tam-a', keyId: key.keyId, enabled: false });
    const before = await ask(() => keyOn(key.apiKey, 'tam-a'));
    expect(before.status).toBe(401);
    expect(before.lines).toEqual([expect.objectContaining({ reason: 'disabled' })]);
    await tamper(tables.Keys, key.itemKey, 'SET enabled = :on', { ':on': true });
    await expectTampered(await ask(() => keyOn(key.apiKey, 'tam-a')), key.apiKey);
    await tamper(tables.Keys, key.itemKey, 'REMOVE enabled');
    await expectTampered(await ask(() => keyOn(key.apiKey, 'tam-a')), key.apiKey);
  });

  test('the seal removed: 401 tampered (seal missing); a seal attribute of another type: wrong', async () => {
    const key = await freshKey();
    await tamper(tables.Keys, key.itemKey, 'REMOVE #seal');
    await expectTampered(await ask(() => keyOn(key.apiKey, 'tam-a')), key.apiKey, 'missing');
    const other = await freshKey();
    await tamper(tables.Keys, other.itemKey, 'SET #seal = :n', { ':n': 1 });
    await expectTampered(await ask(() => keyOn(other.apiKey, 'tam-a')), other.apiKey);
  });

  test("a sealed hash item copied over another key's hash item (a key the writer holds): 401 tampered, the seal covers the item's own hash", async () => {
    const victim = await freshKey('tam-b');
    const mine = await freshKey('tam-a');
    await copyOver(tables.Keys, victim.itemKey, mine.itemKey);
    await expectTampered(await ask(() => keyOn(mine.apiKey, 'tam-b')), mine.apiKey);
    // The victim's own key is untouched.
    expect((await keyOn(victim.apiKey, 'tam-b')).status).toBe(200);
  });

  test("gatewayKey added (another app's usage plan key, to be metered on its plan): 401 tampered", async () => {
    const key = await freshKey();
    await tamper(tables.Keys, key.itemKey, 'SET gatewayKey = :v', { ':v': 'gw-of-another-app' });
    await expectTampered(await ask(() => keyOn(key.apiKey, 'tam-a')), key.apiKey);
  });

  test("set-app-plan's gateway key write reseals each key: let in with its usageIdentifierKey, then 401 tampered once swapped; a tampered key it leaves as it is", async () => {
    const key = await freshKey('tam-g');
    const broken = await freshKey('tam-g');
    await tamper(tables.Keys, broken.itemKey, 'SET appUid = :other', { ':other': 'tam-b' });
    const { Item: brokenBefore } = await db.send(new GetCommand({ TableName: tables.Keys, Key: broken.itemKey, ConsistentRead: true }));
    expect(await keyStore().setGatewayKeyOnKeys('tam-g', 'gw-tam-g')).toBe(1);
    expect((await keyOn(key.apiKey, 'tam-g')).status).toBe(200);
    expect(await apiKeyAuthorizer(apiKeyEvent(key.apiKey, 'tam-g'))).toMatchObject({ usageIdentifierKey: 'gw-tam-g' });
    const { Item: brokenAfter } = await db.send(new GetCommand({ TableName: tables.Keys, Key: broken.itemKey, ConsistentRead: true }));
    expect(brokenAfter).toEqual(brokenBefore);
    // Taken off the plan: the key is resealed without it, and still verifies.
    expect(await keyStore().setGatewayKeyOnKeys('tam-g', undefined)).toBe(1);
    expect((await keyOn(key.apiKey, 'tam-g')).status).toBe(200);
    await keyStore().setGatewayKeyOnKeys('tam-g', 'gw-tam-g');
    await tamper(tables.Keys, key.itemKey, 'SET gatewayKey = :v', { ':v': 'gw-of-another-app' });
    await expectTampered(await ask(() => keyOn(key.apiKey, 'tam-g')), key.apiKey);
  });

  test("taking an app off its plan also clears keys from before sealing: the gateway key goes, the item stays unsealed for seal-records", async () => {
    const key = await freshKey('tam-u');
    await tamper(tables.Keys, key.itemKey, 'SET gatewayKey = :v REMOVE #seal', { ':v': 'gw-old' });
    expect(await keyStore().setGatewayKeyOnKeys('tam-u', undefined)).toBe(1);
    const { Item } = await db.send(new GetCommand({ TableName: tables.Keys, Key: key.itemKey, ConsistentRead: true }));
    expect(Item).not.toHaveProperty('gatewayKey');
    expect(Item).not.toHaveProperty('seal');
  });

  test('a value of a type the authorizer does not read (a set) counts as absent for the admin writes too: the same verdict on both sides', async () => {
    const key = await freshKey();
    await db.send(new UpdateCommand({ TableName: tables.Keys, Key: key.itemKey, UpdateExpression: 'SET gatewayKey = :set', ExpressionAttributeValues: { ':set': new Set(['gw-of-another-app']) } }));
    const outcome = await ask(() => keyOn(key.apiKey, 'tam-a'));
    expect(outcome.status).toBe(200);
    expect(await apiKeyAuthorizer(apiKeyEvent(key.apiKey, 'tam-a'))).not.toHaveProperty('usageIdentifierKey');
    await expect(updateKeyHandler({ appUid: 'tam-a', keyId: key.keyId, name: 'still changeable' })).resolves.toMatchObject({ name: 'still changeable' });
  });

  test('a seal of another type (a set) is a wrong seal for the admin writes too: set-app-plan skips the key rather than retrying, update-key refuses it', async () => {
    const key = await freshKey('tam-v');
    await db.send(new UpdateCommand({ TableName: tables.Keys, Key: key.itemKey, UpdateExpression: 'SET #seal = :set', ExpressionAttributeNames: { '#seal': 'seal' }, ExpressionAttributeValues: { ':set': new Set(['v1.x']) } }));
    expect(await keyStore().setGatewayKeyOnKeys('tam-v', 'gw-tam-v')).toBe(0);
    await expect(updateKeyHandler({ appUid: 'tam-v', keyId: key.keyId, name: 'x' })).rejects.toMatchObject({ name: 'RecordSealInvalid', message: expect.stringMatching(/does not verify/) });
    expect((await keyOn(key.apiKey, 'tam-v')).status).toBe(401);
  });

  test('a key item (app#) changed outside keygate, its hash item intact: admin writes refuse, naming the key item, and the key is still let in', async () => {
    const key = await freshKey();
    await tamper(tables.Keys, appKeyItemKey('tam-a', key.keyId), 'SET expiresAt = :past', { ':past': '2020-01-01T00:00:00.000Z' });
    await expect(updateKeyHandler({ appUid: 'tam-a', keyId: key.keyId, name: 'x' })).rejects.toMatchObject({ name: 'RecordSealInvalid', message: expect.stringMatching(/its key item .* does not match its hash item, whose seal verifies/) });
    expect((await keyOn(key.apiKey, 'tam-a')).status).toBe(200);
  });

  test('name and lastUsedAt are not sealed: changing them refuses nothing', async () => {
    const key = await freshKey();
    await tamper(tables.Keys, key.itemKey, 'SET #name = :n, lastUsedAt = :t', { ':n': 'renamed', ':t': '2020-01-01T00:00:00.000Z' });
    expect((await keyOn(key.apiKey, 'tam-a')).status).toBe(200);
  });

  test('admin writes refuse a tampered key (RecordSealInvalid, nothing written) and do not reseal it; delete still removes it', async () => {
    const key = await freshKey();
    await tamper(tables.Keys, key.itemKey, 'SET appUid = :other', { ':other': 'tam-b' });
    const { Item: before } = await db.send(new GetCommand({ TableName: tables.Keys, Key: key.itemKey, ConsistentRead: true }));
    await expect(updateKeyHandler({ appUid: 'tam-a', keyId: key.keyId, name: 'rename' })).rejects.toMatchObject({ name: 'RecordSealInvalid', message: expect.stringMatching(/does not verify/) });
    await expect(rollKeyHandler({ appUid: 'tam-a', keyId: key.keyId })).rejects.toMatchObject({ name: 'RecordSealInvalid' });
    const { Item: after } = await db.send(new GetCommand({ TableName: tables.Keys, Key: key.itemKey, ConsistentRead: true }));
    expect(after).toEqual(before);
    expect((await keyOn(key.apiKey, 'tam-a')).status).toBe(401);
    await deleteKeyHandler({ appUid: 'tam-a', keyId: key.keyId });
    expect((await ask(() => keyOn(key.apiKey, 'tam-a'))).lines).toEqual([expect.objectContaining({ reason: 'not_found' })]);
  });

  test('admin writes reseal what they change: disable, enable, a new expiry, and a roll leave keys that verify', async () => {
    const key = await freshKey();
    await updateKeyHandler({ appUid: 'tam-a', keyId: key.keyId, enabled: false });
    await updateKeyHandler({ appUid: 'tam-a', keyId: key.keyId, enabled: true, expiresAt: new Date(Date.now() + DAY).toISOString() });
    expect((await keyOn(key.apiKey, 'tam-a')).status).toBe(200);
    await updateKeyHandler({ appUid: 'tam-a', keyId: key.keyId, expiresAt: null });
    expect((await keyOn(key.apiKey, 'tam-a')).status).toBe(200);
    const rolled = await rollKeyHandler({ appUid: 'tam-a', keyId: key.keyId, gracePeriodSeconds: 3600 });
    expect((await keyOn(rolled.apiKey, 'tam-a')).status).toBe(200);
    expect((await keyOn(key.apiKey, 'tam-a')).status).toBe(200);
    // The old key's new expiry is sealed too: moving it further out is tampering.
    await tamper(tables.Keys, key.itemKey, 'SET expiresAt = :later', { ':later': new Date(Date.now() + 365 * DAY).toISOString() });
    await expectTampered(await ask(() => keyOn(key.apiKey, 'tam-a')), key.apiKey);
  });
});

describe('session items', () => {
  const issuer = () => ({
    sessionFormat,
    hash,
    users: new UserStore(db, tables.Users),
    sessions: new SessionStore(db, tables.Sessions, tables.Users, testSealer),
    lifetimeSeconds: 24 * 60 * 60,
  });
  let keyId: string;
  beforeAll(async () => {
    keyId = (await createKeyHandler({ appUid: 'tam-s', name: 'session opener' })).keyId;
  });
  /** A session issued as sdkusers/auth issues it, `ageMs` ago. */
  async function freshSession(externalId: string, ageMs = 0) {
    const issued = await issueSession(issuer(), { appUid: 'tam-s', keyId }, { externalId }, new Date(Date.now() - ageMs));
    return { token: issued.authToken, itemKey: sessionItemKey(await hash(issued.authToken)) };
  }

  test('control: an untouched session is let in (200) with its own user', async () => {
    const session = await freshSession('ctl');
    const outcome = await sessionOn(session.token, 'tam-s');
    expect(outcome).toMatchObject({ status: 200, context: { appUid: 'tam-s', userKey: 'ctl' } });
  });

  const cases: [string, string, Record<string, unknown>][] = [
    ['appUid changed to another app', 'SET appUid = :v', { ':v': 'tam-other' }],
    ['userId changed to another user', 'SET userId = :v', { ':v': 'usr_OTHEROTHEROTHEROTHE' }],
    ['userKey changed to another user', 'SET userKey = :v', { ':v': 'someone-else' }],
    ['sessionId changed', 'SET sessionId = :v', { ':v': 'ses_OTHEROTHEROTHEROTHE' }],
    ['createdByKeyId changed', 'SET createdByKeyId = :v', { ':v': 'key_OTHEROTHEROTHEROTHE' }],
    ["gatewayKey added (another app's usage plan key)", 'SET gatewayKey = :v', { ':v': 'gw-of-another-app' }],
    ['expiresAt moved later', 'SET expiresAt = :v', { ':v': new Date(Date.now() + 365 * DAY).toISOString() }],
  ];
  test.each(cases)('%s: 401 tampered', async (_, expression, values) => {
    const session = await freshSession(`u-${expression.length}-${Math.random().toString(36).slice(2)}`);
    await tamper(tables.Sessions, session.itemKey, expression, values);
    const app = values[':v'] === 'tam-other' ? 'tam-other' : 'tam-s';
    await expectTampered(await ask(() => sessionOn(session.token, app)), session.token);
  });

  test('expiresAt moved later on an expired session: 401 tampered (the control: 401 expired)', async () => {
    const session = await freshSession('expired', 2 * DAY);
    const before = await ask(() => sessionOn(session.token, 'tam-s'));
    expect(before.status).toBe(401);
    expect(before.lines).toEqual([expect.objectContaining({ reason: 'expired' })]);
    await tamper(tables.Sessions, session.itemKey, 'SET expiresAt = :v', { ':v': new Date(Date.now() + DAY).toISOString() });
    await expectTampered(await ask(() => sessionOn(session.token, 'tam-s')), session.token);
  });

  test('the seal removed: 401 tampered (seal missing)', async () => {
    const session = await freshSession('unsealed');
    await tamper(tables.Sessions, session.itemKey, 'REMOVE #seal');
    await expectTampered(await ask(() => sessionOn(session.token, 'tam-s')), session.token, 'missing');
  });

  test("a sealed session item copied over another session's item: 401 tampered", async () => {
    const victim = await freshSession('victim');
    const mine = await freshSession('mine');
    await copyOver(tables.Sessions, victim.itemKey, mine.itemKey);
    await expectTampered(await ask(() => sessionOn(mine.token, 'tam-s')), mine.token);
    expect((await sessionOn(victim.token, 'tam-s')).status).toBe(200);
  });
});
