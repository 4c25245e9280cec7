import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { handler as sdkUsersAuth } from '../../functions/sdkusers-auth/index';
import { MAX_ACCOUNT_UIDS_PER_USER } from '../../functions/stores/user-store';
import { userItemKey } from '../../lib/shared/item-keys';
import type { TableNames } from '../../lib/local/tables';
import { createTestTables, scanAll, testDynamoDbClient } from '../support/dynamodb';
import { proxyEvent } from '../support/events';

/**
 * A user's `accountUids` only grows; past DynamoDB's 400 KB item limit the
 * user could never sign in again. sdkusers/auth caps it at
 * MAX_ACCOUNT_UIDS_PER_USER: a sign-in that would pass it is a 400 naming
 * `accountUids` with nothing written (no ids added, no session); one that adds
 * nothing new always works. On DynamoDB Local, through the handler.
 */
let client: DynamoDBClient;
let tables: TableNames;

beforeAll(async () => {
  client = testDynamoDbClient();
  tables = await createTestTables(client);
});
afterAll(() => client.destroy());

const context = (appUid: string) => ({ appUid, keyId: 'key_00000000000000000001' });
const ids = (from: number, count: number) => Array.from({ length: count }, (_, index) => `acct-${from + index}`);

async function signIn(appUid: string, externalId: string, accountUids?: string[]) {
  const body = JSON.stringify({ externalId, ...(accountUids && { accountUids }) });
  const response = await sdkUsersAuth(proxyEvent({ context: context(appUid), body }));
  return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
}

const userItem = async (appUid: string, externalId: string) =>
  (await scanAll(client, tables.Users)).find((item) => item.pk === `app#${appUid}` && item.sk === `user#${externalId}`);
const heldIds = async (appUid: string, externalId: string) => [...((await userItem(appUid, externalId))?.accountUids as Set<string>)].sort();
const sessionsOf = async (appUid: string) => (await scanAll(client, tables.Sessions)).filter((item) => item.appUid === appUid);

test(`the cap is ${MAX_ACCOUNT_UIDS_PER_USER}: reached ten ids at a time, then one new id is a 400 naming accountUids and writes nothing`, async () => {
  expect(MAX_ACCOUNT_UIDS_PER_USER).toBe(100);
  const app = 'cap-a';
  for (let from = 0; from < MAX_ACCOUNT_UIDS_PER_USER; from += 10) expect((await signIn(app, 'u', ids(from, 10))).status).toBe(200);
  expect(await heldIds(app, 'u')).toHaveLength(MAX_ACCOUNT_UIDS_PER_USER);
  const before = await userItem(app, 'u');
  const sessionsBefore = (await sessionsOf(app)).length;

  const refused = await signIn(app, 'u', ['acct-0', 'acct-new']);
  expect(refused.status).toBe(400);
  expect(refused.body).toEqual({
    field: 'accountUids',
    message: 'accountUids would take this user past 100 account ids, the most a user can have: it has 100 and the request adds 1 new',
  });
  expect(await userItem(app, 'u')).toEqual(before);
  expect(await sessionsOf(app)).toHaveLength(sessionsBefore);

  // At the cap, signing in with ids the user already has, or with none, still works.
  expect((await signIn(app, 'u', ids(90, 10))).status).toBe(200);
  expect((await signIn(app, 'u')).status).toBe(200);
  expect(await userItem(app, 'u')).toEqual(before);
});

test('the count is exact: at 99, one known id and one new id together are accepted (100)', async () => {
  const app = 'cap-b';
  for (let from = 0; from < 99; from += 10) await signIn(app, 'u', ids(from, Math.min(10, 99 - from)));
  expect(await heldIds(app, 'u')).toHaveLength(99);
  expect((await signIn(app, 'u', ['acct-5', 'acct-new'])).status).toBe(200);
  expect(await heldIds(app, 'u')).toHaveLength(100);
  expect((await signIn(app, 'u', ['acct-newer'])).status).toBe(400);
});

test('a user stored past the cap (before it existed) can still sign in with known ids, but add none', async () => {
  const app = 'cap-legacy';
  const db = DynamoDBDocumentClient.from(client);
  const legacy = new Set(ids(0, 150));
  await db.send(new PutCommand({ TableName: tables.Users, Item: { ...userItemKey(app, 'old'), userId: 'usr_legacy', externalId: 'old', accountUids: legacy, createdAt: '2020-01-01T00:00:00.000Z' } }));
  expect((await signIn(app, 'old', ['acct-3', 'acct-140'])).status).toBe(200);
  const refused = await signIn(app, 'old', ['acct-3', 'acct-999']);
  expect(refused).toMatchObject({ status: 400, body: { field: 'accountUids' } });
  expect(await heldIds(app, 'old')).toHaveLength(150);
});

test('concurrent sign-ins near the cap never take the user past it', async () => {
  const app = 'cap-race';
  for (let from = 0; from < 95; from += 10) await signIn(app, 'u', ids(from, Math.min(10, 95 - from)));
  expect(await heldIds(app, 'u')).toHaveLength(95);
  // Eight sign-ins of two new ids each race for five free places.
  const results = await Promise.all(Array.from({ length: 8 }, (_, index) => signIn(app, 'u', ids(1000 + index * 2, 2))));
  const accepted = results.filter((result) => result.status === 200).length;
  expect(results.every((result) => result.status === 200 || result.status === 400 || result.status === 503)).toBe(true);
  expect(accepted).toBe(2);
  expect(await heldIds(app, 'u')).toHaveLength(99);
});
