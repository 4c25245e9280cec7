import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { handler as apiKeyAuthorizer } from '../../functions/api-key-authorizer/index';
import { handler as createKeyHandler } from '../../functions/create-key/index';
import { handler as deleteKeyHandler } from '../../functions/delete-key/index';
import { handler as listKeysHandler } from '../../functions/list-keys/index';
import { handler as revokeKeys } from '../../functions/revoke-keys/index';
import { handler as sdkUsersAuth } from '../../functions/sdkusers-auth/index';
import { handler as sessionAuthorizer } from '../../functions/session-authorizer/index';
import { logger } from '../../functions/lambda/services';
import { credentialFormat } from '../../functions/domain/credential-format';
import type { TableNames } from '../../lib/local/tables';
import { createTestTables, scanAll, testDynamoDbClient } from '../support/dynamodb';
import { apiKeyEvent, authorizerEvent, gatewayOutcome, methodArn, proxyEvent, sessionTokenEvent } from '../support/events';
import { OutputCapture } from '../reliability/support';

/**
 * The public revoke route on DynamoDB Local: whoever holds a key may have it
 * deleted, exactly as delete-key deletes it; the answer is always 202 with
 * the number of entries received; the sessions the key created live on.
 */
let client: DynamoDBClient;
let tables: TableNames;
const keyFormat = credentialFormat('kg');

beforeAll(async () => {
  client = testDynamoDbClient();
  tables = await createTestTables(client);
});
afterAll(() => client.destroy());

async function revoke(body: unknown) {
  const response = await revokeKeys(proxyEvent({ path: '/api/v1/keys/revoke', body: typeof body === 'string' ? body : JSON.stringify(body) }));
  return { status: response.statusCode, headers: response.headers, text: response.body, json: JSON.parse(response.body) as Record<string, unknown> };
}

/** A live key of `appUid`, and a session token it created. */
async function keyWithSession(appUid: string, name = 'server') {
  const created = await createKeyHandler({ appUid, name });
  const outcome = await gatewayOutcome(apiKeyAuthorizer, authorizerEvent({ 'x-api-key': created.apiKey }, methodArn('POST', appUid, 'sdkusers/auth')));
  if (outcome.status !== 200) throw new Error(`key refused with ${outcome.status}`);
  const issued = await sdkUsersAuth(proxyEvent({ context: outcome.context, body: JSON.stringify({ externalId: `user-of-${created.keyId}` }) }));
  return { ...created, authToken: JSON.parse(issued.body).authToken as string };
}

const keyStatus = async (apiKey: string, appUid: string) => (await gatewayOutcome(apiKeyAuthorizer, apiKeyEvent(apiKey, appUid))).status;
const sessionStatus = async (token: string, appUid: string) =>
  (await gatewayOutcome(sessionAuthorizer, sessionTokenEvent(token, appUid))).status;
/** The key items (not the activity log or the app registry, which a revocation adds to and counts down). */
const isKeyItem = (item: Record<string, unknown>) => item.pk !== 'apps' && !String(item.sk).startsWith('event#');
const keyItems = async () => (await scanAll(client, tables.Keys)).filter(isKeyItem).map((item) => `${item.pk} ${item.sk}`).sort();
const itemsOf = async (keyId: string) =>
  (await scanAll(client, tables.Keys)).filter((item) => isKeyItem(item) && item.keyId === keyId).map((item) => `${item.pk} ${item.sk}`).sort();
const eventsOf = async (keyId: string) => (await scanAll(client, tables.Keys)).filter((item) => String(item.sk).startsWith('event#') && item.keyId === keyId).map((item) => item.action);

test('revoking one key: 202 { received: 1 }, the key refused on the next request, its session still valid, nothing else touched', async () => {
  const bystander = await keyWithSession('rv-a', 'bystander');
  const leaked = await keyWithSession('rv-a', 'leaked');
  const before = await keyItems();
  const leakedItems = await itemsOf(leaked.keyId);
  expect(leakedItems).toHaveLength(2);

  const response = await revoke({ keys: [leaked.apiKey] });
  expect(response).toMatchObject({ status: 202, json: { received: 1 } });
  expect((await eventsOf(leaked.keyId)).sort()).toEqual(['created', 'revoked-by-report']);
  expect(response.headers).toMatchObject({ 'content-type': 'application/json', 'cache-control': 'no-store' });

  expect(await keyStatus(leaked.apiKey, 'rv-a')).toBe(401);
  expect(await sessionStatus(leaked.authToken, 'rv-a')).toBe(200);
  expect(await keyItems()).toEqual(before.filter((item) => !leakedItems.includes(item)));
  expect(await keyStatus(bystander.apiKey, 'rv-a')).toBe(200);
  // Gone for the admin functions too: as if delete-key had deleted it.
  expect((await listKeysHandler({ appUid: 'rv-a' })).keys.map((key) => key.keyId)).toEqual([bystander.keyId]);
  await expect(deleteKeyHandler({ appUid: 'rv-a', keyId: leaked.keyId })).rejects.toMatchObject({ name: 'KeyNotFound' });
});

test('revoking several keys of several apps in one report', async () => {
  const keys = await Promise.all([keyWithSession('rv-b'), keyWithSession('rv-b'), keyWithSession('rv-c')]);
  const response = await revoke({ keys: keys.map((key) => key.apiKey) });
  expect(response).toMatchObject({ status: 202, json: { received: 3 } });
  for (const key of keys) {
    expect(await keyStatus(key.apiKey, key.appUid)).toBe(401);
    expect(await sessionStatus(key.authToken, key.appUid)).toBe(200);
    expect(await itemsOf(key.keyId)).toEqual([]);
  }
});

test('a mix of valid, unknown, malformed and repeated entries: 202 counting every entry; only the valid keys are deleted', async () => {
  const valid = await Promise.all([keyWithSession('rv-d'), keyWithSession('rv-e')]);
  const kept = await keyWithSession('rv-d', 'kept');
  const before = await keyItems();
  const validItems = (await Promise.all(valid.map((key) => itemsOf(key.keyId)))).flat();
  const entries = [
    valid[0]!.apiKey,
    keyFormat.generate(), // well-formed, never issued
    'not a key',
    '',
    `${kept.apiKey.slice(0, -1)}${kept.apiKey.endsWith('A') ? 'B' : 'A'}`, // a near miss of a live key
    kept.authToken, // a session token is not a key
    valid[1]!.apiKey,
    valid[0]!.apiKey, // repeated
  ];
  const response = await revoke({ keys: entries });
  expect(response).toMatchObject({ status: 202, json: { received: entries.length } });

  for (const key of valid) {
    expect(await keyStatus(key.apiKey, key.appUid)).toBe(401);
    expect(await sessionStatus(key.authToken, key.appUid)).toBe(200);
  }
  expect(await keyStatus(kept.apiKey, 'rv-d')).toBe(200);
  expect(await sessionStatus(kept.authToken, 'rv-d')).toBe(200);
  expect(await keyItems()).toEqual(before.filter((item) => !validItems.includes(item)));
});

test('the answer is the same, byte for byte, whether the keys existed or not', async () => {
  const live = await keyWithSession('rv-f');
  const existing = await revoke({ keys: [live.apiKey] });
  const unknown = await revoke({ keys: [keyFormat.generate()] });
  const again = await revoke({ keys: [live.apiKey] });
  const malformed = await revoke({ keys: ['kg_nope'] });
  for (const answer of [unknown, again, malformed]) expect({ status: answer.status, headers: answer.headers, text: answer.text }).toEqual({ status: existing.status, headers: existing.headers, text: existing.text });
});

test('the same key reported twice at once: both 202, deleted once, no error', async () => {
  const live = await keyWithSession('rv-g');
  const answers = await Promise.all([revoke({ keys: [live.apiKey] }), revoke({ keys: [live.apiKey] })]);
  expect(answers.map((answer) => answer.status)).toEqual([202, 202]);
  expect(await itemsOf(live.keyId)).toEqual([]);
});

describe('a malformed body: 400 naming the problem, never echoing a value, nothing deleted', () => {
  let live: Awaited<ReturnType<typeof keyWithSession>>;
  beforeAll(async () => {
    live = await keyWithSession('rv-bad');
  });

  test.each<[string, () => unknown, string, RegExp]>([
    ['not JSON', () => `{"keys": ["${live.apiKey}"`, '(body)', /not valid JSON/],
    ['no body', () => '', '(body)', /required/],
    ['a JSON array', () => [live.apiKey], '(body)', /must be a JSON object/],
    ['no keys field', () => ({}), 'keys', /keys is required/],
    ['keys not an array', () => ({ keys: live.apiKey }), 'keys', /keys must be an array of API keys/],
    ['keys empty', () => ({ keys: [] }), 'keys', /keys must not be empty/],
    ['101 keys', () => ({ keys: [live.apiKey, ...Array.from({ length: 100 }, () => keyFormat.generate())] }), 'keys', /at most 100 entries/],
    ['an entry that is not a string', () => ({ keys: [live.apiKey, 42] }), 'keys[1]', /keys must contain only strings/],
    ['an unknown field', () => ({ keys: [live.apiKey], key: live.apiKey }), 'key', /unknown field key in request body; the known fields are keys/],
    ['the key as a field name', () => ({ keys: [live.apiKey], [live.apiKey]: true }), '(unknown field)', /unknown field \(unknown field\)/],
  ])('%s', async (_label, body, field, message) => {
    const before = await keyItems();
    const response = await revoke(body());
    expect(response.status).toBe(400);
    expect(response.json).toEqual({ field, message: expect.stringMatching(message) });
    expect(response.text).not.toContain(live.apiKey.slice(3, 46));
    expect(await keyItems()).toEqual(before);
    expect(await keyStatus(live.apiKey, 'rv-bad')).toBe(200);
  });
});

test('logs name the revoked key by id and the unknown ones by hash tag, never a key', async () => {
  const output = new OutputCapture();
  const live = await keyWithSession('rv-log');
  const unknownKey = keyFormat.generate();
  const previous = logger.getLevelName();
  logger.setLogLevel('DEBUG');
  output.start();
  try {
    await revoke({ keys: [live.apiKey, unknownKey, 'junk'] });
    await revoke({ keys: 'junk', extra: live.apiKey });
  } finally {
    output.stop();
    logger.setLogLevel(previous);
  }
  const lines = output.lines();
  expect(lines).toContainEqual(expect.objectContaining({ message: 'key revoked by report', appUid: 'rv-log', keyId: live.keyId }));
  expect(lines).toContainEqual(expect.objectContaining({ message: 'revocation report', received: 3, revoked: 1, malformed: 1, unknownHashTags: [expect.stringMatching(/^[A-Za-z0-9_-]{8}$/)] }));
  expect(lines).toContainEqual(expect.objectContaining({ message: 'keys/revoke refused', route: 'keys/revoke', statusCode: 400, errorType: 'ValidationError' }));
  for (const secret of [live.apiKey, unknownKey]) expect(output.text()).not.toContain(secret.slice(3, 46));
});
