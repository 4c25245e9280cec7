import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTestTables, scanAll, testDynamoDbClient } from '../support/dynamodb';
import { apiKeyEvent, gatewayOutcome, proxyEvent, sessionTokenEvent } from '../support/events';
import type { TableNames } from '../../lib/local/tables';
import { FaultProxy, OutputCapture, coldStartHandlers, failure, lastUsedRecorded, type ColdStartHandlers } from './support';

/**
 * Faults injected for real between the handlers and DynamoDB Local: a proxy
 * answers DynamoDB's throttling errors (ProvisionedThroughputExceededException,
 * ThrottlingException) as HTTP 400 JSON, or drops connections. The handlers are
 * loaded once with AWS_ENDPOINT_URL_DYNAMODB pointing at the proxy, and the same
 * module instances must recover when the fault clears: no restart.
 */

let client: DynamoDBClient;
let tables: TableNames;
let proxy: FaultProxy;
let fns: ColdStartHandlers;
const output = new OutputCapture();

beforeAll(async () => {
  client = testDynamoDbClient();
  tables = await createTestTables(client);
  proxy = new FaultProxy(process.env.KEYGATE_TEST_DYNAMODB_ENDPOINT!);
  const endpoint = await proxy.start();
  // Read by the SDK when each handler builds its client at module scope. Two attempts keep the suite fast; one test below shows the retry absorbing a blip.
  process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoint;
  process.env.AWS_MAX_ATTEMPTS = '2';
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
  fns = coldStartHandlers();
  output.start();
});

afterAll(async () => {
  output.stop();
  await proxy.stop();
  client.destroy();
});

afterEach(() => {
  proxy.mode = { kind: 'pass' };
  output.clear();
});

const itemsOf = async (app: string) => (await scanAll(client, tables.Keys)).filter((item) => item.appUid === app);

async function sessionFor(apiKey: string, app: string, externalId: string): Promise<string> {
  const granted = await gatewayOutcome(fns.apiKeyAuthorizer, apiKeyEvent(apiKey, app));
  if (granted.status !== 200) throw new Error(`key refused: ${granted.status}`);
  const response = await fns.sdkUsersAuth(proxyEvent({ body: JSON.stringify({ externalId }), context: granted.context }));
  if (response.statusCode !== 200) throw new Error(`sdkusers/auth answered ${response.statusCode}`);
  return (JSON.parse(response.body) as { authToken: string }).authToken;
}

describe.each([['ProvisionedThroughputExceededException'], ['ThrottlingException']] as const)('DynamoDB throttling every call (%s)', (error) => {
  test('authorizers never Allow (500), logs say what failed; admin functions fail StoreUnavailable (retryable) with nothing written; all recovers', async () => {
    const app = `thr-${error.length}`;
    const live = await fns.createKey({ appUid: app, name: 'live' });
    const token = await sessionFor(live.apiKey, app, 'u-throttle');
    await lastUsedRecorded(client, tables.Keys, app);
    const before = await itemsOf(app);

    proxy.mode = { kind: 'throttle', error };
    expect(await gatewayOutcome(fns.apiKeyAuthorizer, apiKeyEvent(live.apiKey, app))).toEqual({ status: 500 });
    expect(await gatewayOutcome(fns.sessionAuthorizer, sessionTokenEvent(token, app))).toEqual({ status: 500 });
    // A malformed credential is still refused 401: it never needs DynamoDB.
    expect(await gatewayOutcome(fns.apiKeyAuthorizer, apiKeyEvent(`${live.apiKey}x`, app))).toEqual({ status: 401 });

    const logs = output.lines();
    const authorizerErrors = logs.filter((line) => line.level === 'ERROR' && /verification failed; refusing/.test(String(line.message)));
    expect(authorizerErrors).toHaveLength(2);
    for (const line of authorizerErrors) expect(JSON.stringify(line.error)).toContain(error);

    for (const [name, call] of [
      ['create-key', () => fns.createKey({ appUid: app, name: 'during throttling' })],
      ['list-keys', () => fns.listKeys({ appUid: app })],
      ['delete-key', () => fns.deleteKey({ appUid: app, keyId: live.keyId })],
      ['roll-key', () => fns.rollKey({ appUid: app, keyId: live.keyId, gracePeriodSeconds: 0 })],
      ['update-key', () => fns.updateKey({ appUid: app, keyId: live.keyId, enabled: false })],
      ['list-key-events', () => fns.listKeyEvents({ appUid: app })],
    ] as const) {
      const failed = await failure(call());
      expect(failed).toMatchObject({ name: 'StoreUnavailable', retryable: true });
      expect(failed?.message).toContain(`${name} failed: DynamoDB ${error}`);
      expect(failed?.message).toContain('try again');
    }
    const auth = await fns.sdkUsersAuth(proxyEvent({ body: JSON.stringify({ externalId: 'u-new' }), context: { appUid: app, keyId: live.keyId } }));
    expect(auth.statusCode).toBe(503);
    expect(JSON.parse(auth.body)).toEqual({ message: 'temporarily unavailable, try again' });
    expect(output.lines().filter((line) => line.level === 'WARN' && line.errorType === 'StoreUnavailable').length).toBeGreaterThanOrEqual(7);
    expect(proxy.faulted.GetItem).toBeGreaterThan(0);

    // Fault cleared: the same module instances work again, and nothing was written or lost meanwhile.
    proxy.mode = { kind: 'pass' };
    expect(await itemsOf(app)).toEqual(before);
    expect((await gatewayOutcome(fns.apiKeyAuthorizer, apiKeyEvent(live.apiKey, app))).status).toBe(200);
    expect((await gatewayOutcome(fns.sessionAuthorizer, sessionTokenEvent(token, app))).status).toBe(200);
    const again = await fns.createKey({ appUid: app, name: 'after throttling' });
    expect((await fns.listKeys({ appUid: app })).keys.map((key) => key.keyId).sort()).toEqual([live.keyId, again.keyId].sort());
    expect(await fns.deleteKey({ appUid: app, keyId: live.keyId })).toEqual({ keyId: live.keyId, deleted: true });
    expect(await gatewayOutcome(fns.apiKeyAuthorizer, apiKeyEvent(live.apiKey, app))).toEqual({ status: 401 });
  });
});

describe('throttling one step of a multi-step operation leaves no partial state', () => {
  test('create-key: its transaction throttled → no item at all; a retry creates both items', async () => {
    const app = 'thr-create';
    proxy.mode = { kind: 'throttle', error: 'ProvisionedThroughputExceededException', operations: ['TransactWriteItems'] };
    await expect(fns.createKey({ appUid: app, name: 'n' })).rejects.toMatchObject({ name: 'StoreUnavailable', retryable: true });
    expect(await itemsOf(app)).toEqual([]);
    proxy.mode = { kind: 'pass' };
    const created = await fns.createKey({ appUid: app, name: 'n' });
    expect((await itemsOf(app)).map((item) => String(item.pk).split('#')[0]).sort()).toEqual(['app', 'apps', 'hash']);
    expect((await itemsOf(app)).find((item) => item.pk === 'apps')?.keyCount).toBe(1);
    expect((await gatewayOutcome(fns.apiKeyAuthorizer, apiKeyEvent(created.apiKey, app))).status).toBe(200);
  });

  test('delete-key: read passes, transaction throttled → both items kept and the key still works; a retry deletes both', async () => {
    const app = 'thr-delete';
    const created = await fns.createKey({ appUid: app, name: 'n' });
    const before = await itemsOf(app);
    proxy.mode = { kind: 'throttle', error: 'ThrottlingException', operations: ['TransactWriteItems'] };
    await expect(fns.deleteKey({ appUid: app, keyId: created.keyId })).rejects.toMatchObject({ name: 'StoreUnavailable', retryable: true });
    expect(proxy.seen.GetItem).toBeGreaterThan(0);
    expect(await itemsOf(app)).toEqual(before);
    expect((await gatewayOutcome(fns.apiKeyAuthorizer, apiKeyEvent(created.apiKey, app))).status).toBe(200);
    proxy.mode = { kind: 'pass' };
    await fns.deleteKey({ appUid: app, keyId: created.keyId });
    // Only the app's registry item is left, counting no keys.
    expect(await itemsOf(app)).toEqual([expect.objectContaining({ pk: 'apps', keyCount: 0 })]);
    expect(await gatewayOutcome(fns.apiKeyAuthorizer, apiKeyEvent(created.apiKey, app))).toEqual({ status: 401 });
  });

  test('sdkusers/auth: user written, session transaction throttled → 503 and no session item; a retry reuses the same user', async () => {
    const app = 'thr-session';
    const created = await fns.createKey({ appUid: app, name: 'n' });
    const context = { appUid: app, keyId: created.keyId };
    const sessionsBefore = (await scanAll(client, tables.Sessions)).length;
    // The first transaction (the new user and its userid# item) passes; the session's is throttled.
    proxy.mode = { kind: 'throttle', error: 'ProvisionedThroughputExceededException', operations: ['TransactWriteItems'], skip: 1 };
    const refused = await fns.sdkUsersAuth(proxyEvent({ body: JSON.stringify({ externalId: 'half' }), context }));
    expect(refused.statusCode).toBe(503);
    expect((await scanAll(client, tables.Sessions)).length).toBe(sessionsBefore);
    const usersOfApp = async () => (await scanAll(client, tables.Users)).filter((item) => item.pk === `app#${app}` && String(item.sk).startsWith('user#'));
    const users = await usersOfApp();
    expect(users).toHaveLength(1);
    proxy.mode = { kind: 'pass' };
    const ok = await fns.sdkUsersAuth(proxyEvent({ body: JSON.stringify({ externalId: 'half' }), context }));
    expect(ok.statusCode).toBe(200);
    expect(await usersOfApp()).toEqual(users);
    const token = (JSON.parse(ok.body) as { authToken: string }).authToken;
    expect(await gatewayOutcome(fns.sessionAuthorizer, sessionTokenEvent(token, app))).toMatchObject({ status: 200, context: { userId: users[0].userId } });
  });
});

test('the lastUsedAt write throttled: the key is still let in, the failure is logged, and the next use records it', async () => {
  const app = 'thr-last-used';
  const created = await fns.createKey({ appUid: app, name: 'used' });
  proxy.mode = { kind: 'throttle', error: 'ThrottlingException', operations: ['UpdateItem'] };
  expect((await gatewayOutcome(fns.apiKeyAuthorizer, apiKeyEvent(created.apiKey, app))).status).toBe(200);
  for (let i = 0; i < 250 && !output.lines().some((line) => line.message === 'lastUsedAt not recorded'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(output.lines().filter((line) => line.message === 'lastUsedAt not recorded')).toEqual([
    expect.objectContaining({ level: 'WARN', keyId: created.keyId, errorType: 'StoreUnavailable', errorMessage: expect.stringContaining('DynamoDB ThrottlingException') }),
  ]);
  expect(proxy.faulted.UpdateItem).toBeGreaterThan(0);
  expect((await itemsOf(app)).some((item) => item.lastUsedAt !== undefined)).toBe(false);

  proxy.mode = { kind: 'pass' };
  expect((await gatewayOutcome(fns.apiKeyAuthorizer, apiKeyEvent(created.apiKey, app))).status).toBe(200);
  await lastUsedRecorded(client, tables.Keys, app);
});

describe('transaction conflicts on the app registry (concurrent key writes for one app)', () => {
  test('create-key retries a conflict and makes one key, counted once', async () => {
    const app = 'conflict-create';
    await fns.createKey({ appUid: app, name: 'first' });
    proxy.mode = { kind: 'cancel', reasons: ['None', 'None', 'TransactionConflict'], times: 2 };
    const created = await fns.createKey({ appUid: app, name: 'second' });
    expect(proxy.faulted.TransactWriteItems).toBeGreaterThanOrEqual(2);
    expect((await fns.listKeys({ appUid: app })).keys.map((key) => key.keyId)).toContain(created.keyId);
    expect((await itemsOf(app)).find((item) => item.pk === 'apps')).toMatchObject({ keyCount: 2 });
  });

  test('a conflict that does not clear: StoreUnavailable (retryable), nothing written', async () => {
    const app = 'conflict-stuck';
    await fns.createKey({ appUid: app, name: 'first' });
    const before = await itemsOf(app);
    proxy.mode = { kind: 'cancel', reasons: ['None', 'None', 'TransactionConflict'] };
    await expect(fns.createKey({ appUid: app, name: 'second' })).rejects.toMatchObject({ name: 'StoreUnavailable', retryable: true });
    proxy.mode = { kind: 'pass' };
    expect(await itemsOf(app)).toEqual(before);
  });
});

describe('failures while ending sessions leave a state the next call finishes', () => {
  test('revoke-sessions: index cleanup throttled → StoreUnavailable saying sessions may be ended; they are refused, and a second call finishes', async () => {
    const app = 'thr-revoke';
    const live = await fns.createKey({ appUid: app, name: 'n' });
    const tokens = [await sessionFor(live.apiKey, app, 'victim'), await sessionFor(live.apiKey, app, 'victim')];
    proxy.mode = { kind: 'throttle', error: 'ThrottlingException', operations: ['BatchWriteItem'] };
    const failed = await failure(fns.revokeSessions({ appUid: app, externalId: 'victim' }));
    expect(failed).toMatchObject({ name: 'StoreUnavailable', retryable: true });
    expect(failed?.message).toContain('some sessions may already be ended; call again with the same input to end the rest');
    // The session items went first: what was ended stays ended.
    for (const token of tokens) expect(await gatewayOutcome(fns.sessionAuthorizer, sessionTokenEvent(token, app))).toEqual({ status: 401 });
    proxy.mode = { kind: 'pass' };
    expect(await fns.revokeSessions({ appUid: app, externalId: 'victim' })).toEqual({ revoked: 0 });
    expect((await scanAll(client, tables.Sessions)).filter((item) => item.createdByKeyId === live.keyId)).toEqual([]);
  });

  test('delete-user: the last step throttled → the user stays marked (no new session) and a second call erases it', async () => {
    const app = 'thr-erase';
    const live = await fns.createKey({ appUid: app, name: 'n' });
    await sessionFor(live.apiKey, app, 'erase-me');
    proxy.mode = { kind: 'throttle', error: 'ThrottlingException', operations: ['TransactWriteItems'] };
    const failed = await failure(fns.deleteUser({ appUid: app, externalId: 'erase-me' }));
    expect(failed?.message).toContain("the user's sessions are ended but its record is not yet removed");
    proxy.mode = { kind: 'pass' };
    await expect(sessionFor(live.apiKey, app, 'erase-me')).rejects.toThrow('sdkusers/auth answered 503');
    expect(await fns.deleteUser({ appUid: app, externalId: 'erase-me' })).toMatchObject({ deleted: true, sessionsRevoked: 0 });
    expect(JSON.stringify(await scanAll(client, tables.Users))).not.toContain('erase-me');
  });
});

test('connections dropped (DynamoDB unreachable mid-flight): 500 from the authorizers, StoreUnavailable from admin; recovers', async () => {
  const app = 'reset-app';
  const live = await fns.createKey({ appUid: app, name: 'live' });
  const before = await itemsOf(app);
  proxy.mode = { kind: 'reset' };
  expect(await gatewayOutcome(fns.apiKeyAuthorizer, apiKeyEvent(live.apiKey, app))).toEqual({ status: 500 });
  await expect(fns.createKey({ appUid: app, name: 'x' })).rejects.toMatchObject({ name: 'StoreUnavailable', retryable: true });
  await expect(fns.deleteKey({ appUid: app, keyId: live.keyId })).rejects.toMatchObject({ name: 'StoreUnavailable', retryable: true });
  expect(output.lines().some((line) => line.level === 'ERROR' && /api key verification failed; refusing/.test(String(line.message)))).toBe(true);
  proxy.mode = { kind: 'pass' };
  expect(await itemsOf(app)).toEqual(before);
  expect((await gatewayOutcome(fns.apiKeyAuthorizer, apiKeyEvent(live.apiKey, app))).status).toBe(200);
});

test('a DynamoDB that accepts requests and never answers: each call gives up after its request timeout (500 from the authorizer, StoreUnavailable from admin), nothing hangs; recovers', async () => {
  const app = 'silent-app';
  const live = await fns.createKey({ appUid: app, name: 'live' });
  proxy.mode = { kind: 'silent' };
  expect(await gatewayOutcome(fns.apiKeyAuthorizer, apiKeyEvent(live.apiKey, app))).toEqual({ status: 500 });
  await expect(fns.listKeys({ appUid: app })).rejects.toMatchObject({ name: 'StoreUnavailable', retryable: true });
  expect(proxy.faulted.GetItem).toBeGreaterThan(0);
  proxy.mode = { kind: 'pass' };
  expect((await gatewayOutcome(fns.apiKeyAuthorizer, apiKeyEvent(live.apiKey, app))).status).toBe(200);
}, 45_000);

test('a single throttled request is absorbed by the SDK retry: the caller never sees it', async () => {
  const app = 'thr-blip';
  const live = await fns.createKey({ appUid: app, name: 'live' });
  proxy.mode = { kind: 'throttle', error: 'ProvisionedThroughputExceededException', times: 1 };
  expect((await gatewayOutcome(fns.apiKeyAuthorizer, apiKeyEvent(live.apiKey, app))).status).toBe(200);
  expect(proxy.faulted.GetItem).toBeGreaterThan(0);
});
