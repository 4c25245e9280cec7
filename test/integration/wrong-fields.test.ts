import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { handler as apiKeyAuthorizer } from '../../functions/api-key-authorizer/index';
import { handler as createKeyHandler } from '../../functions/create-key/index';
import { handler as deleteKeyHandler } from '../../functions/delete-key/index';
import { handler as listKeysHandler } from '../../functions/list-keys/index';
import { handler as sdkUsersAuth } from '../../functions/sdkusers-auth/index';
import { credentialFormat } from '../../functions/domain/credential-format';
import type { TableNames } from '../../lib/local/tables';
import { createTestTables, scanAll, testDynamoDbClient } from '../support/dynamodb';
import { authorizerEvent, gatewayOutcome, methodArn, proxyEvent } from '../support/events';

/**
 * Keys consist only of characters that ids and names allow, so without a
 * check a key pasted into the wrong field is stored, returned by sdkusers/me
 * and logged. Every id and free-text field refuses a value holding a
 * well-formed key or session token (any prefix) with a 400 / ValidationError
 * naming the field, and nothing is written.
 */
let client: DynamoDBClient;
let tables: TableNames;
let key: string;
let context: Record<string, string>;
let token: string;
/** A credential of a deployment with custom prefixes: a key all the same. */
const foreign = credentialFormat('acme').generate();

beforeAll(async () => {
  client = testDynamoDbClient();
  tables = await createTestTables(client);
  const created = await createKeyHandler({ appUid: 'wf-app', name: 'server' });
  key = created.apiKey;
  const outcome = await gatewayOutcome(apiKeyAuthorizer, authorizerEvent({ 'x-api-key': key }, methodArn('POST', 'wf-app', 'sdkusers/auth')));
  if (outcome.status !== 200) throw new Error(`key refused with ${outcome.status}`);
  context = outcome.context;
  const issued = await sdkUsersAuth(proxyEvent({ context, body: JSON.stringify({ externalId: 'token-holder' }) }));
  token = JSON.parse(issued.body).authToken;
});
afterAll(() => client.destroy());

const allItems = async () => Promise.all([tables.Keys, tables.Sessions, tables.Users].map((name) => scanAll(client, name)));

describe('sdkusers/auth: a key or token in any field is a 400 naming it, and nothing is stored', () => {
  const cases: [string, () => Record<string, unknown>, string][] = [
    ['the caller\'s own key as externalId', () => ({ externalId: key }), 'externalId'],
    ['a session token as externalId', () => ({ externalId: token }), 'externalId'],
    ['a custom-prefix key inside externalId', () => ({ externalId: `user-${foreign}` }), 'externalId'],
    ['a key as the local part of userEmail', () => ({ userEmail: `${key}@example.com` }), 'userEmail'],
    ['a key inside name', () => ({ externalId: 'u1', name: `my key is ${key}` }), 'name'],
    ['a token as name', () => ({ externalId: 'u1', name: token }), 'name'],
    ['a key among accountUids', () => ({ externalId: 'u1', accountUids: ['acct-1', key] }), 'accountUids[1]'],
  ];

  test.each(cases)('%s', async (_label, body, field) => {
    const before = await allItems();
    const response = await sdkUsersAuth(proxyEvent({ context, body: JSON.stringify(body()) }));
    expect(response.statusCode).toBe(400);
    const answer = JSON.parse(response.body);
    expect(answer).toEqual({ field, message: `${field.replace(/\[\d+\]$/, '')}${field.startsWith('accountUids') ? ' entries' : ''} must not contain an API key or session token` });
    for (const secret of [key, token, foreign]) expect(response.body).not.toContain(secret.slice(-20));
    expect(await allItems()).toEqual(before);
  });

  test('near misses of a key are ordinary ids and names', async () => {
    const nearMiss = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
    const response = await sdkUsersAuth(proxyEvent({ context, body: JSON.stringify({ externalId: nearMiss, name: `kg_${'x'.repeat(49)}` }) }));
    expect(response.statusCode).toBe(200);
  });
});

describe('admin functions: a key in appUid or name is a ValidationError naming the field, nothing written', () => {
  test.each<[string, () => Promise<unknown>, string]>([
    ['create-key, key as name', () => createKeyHandler({ appUid: 'wf-app', name: key }), 'name'],
    ['create-key, token inside name', () => createKeyHandler({ appUid: 'wf-app', name: `from ${token}` }), 'name'],
    ['create-key, key as appUid', () => createKeyHandler({ appUid: key, name: 'n' }), 'appUid'],
    ['list-keys, key as appUid', () => listKeysHandler({ appUid: foreign }), 'appUid'],
    ['delete-key, key as appUid', () => deleteKeyHandler({ appUid: key, keyId: 'key_00000000000000000000' }), 'appUid'],
  ])('%s', async (_label, call, field) => {
    const before = await allItems();
    const error = await call().then(
      () => undefined,
      (thrown: Error & { field?: string }) => thrown,
    );
    expect(error).toMatchObject({ name: 'ValidationError', field, message: `${field} must not contain an API key or session token` });
    expect(await allItems()).toEqual(before);
  });
});
