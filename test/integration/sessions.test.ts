import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { handler as apiKeyAuthorizer } from '../../functions/api-key-authorizer/index';
import { handler as deleteKeyHandler } from '../../functions/delete-key/index';
import { handler as sdkUsersMe } from '../../functions/sdkusers-me/index';
import { handler as sessionAuthorizer } from '../../functions/session-authorizer/index';
import { sessionLookup } from '../../functions/stores/credential-lookup';
import { createHasher } from '../../functions/domain/hashing';
import { sessionItemKey } from '../../lib/shared/item-keys';
import { logger } from '../../functions/lambda/services';
import { verifySessionToken } from '../../functions/domain/verify';
import { credentialFormat } from '../../functions/domain/credential-format';
import type { TableNames } from '../../lib/local/tables';
import { createTestTables, scanAll, testAuthorizerDynamoDb, testDynamoDbClient } from '../support/dynamodb';
import { apiKeyEvent, authorizerEvent, gatewayOutcome, methodArn, proxyEvent } from '../support/events';
import { authenticate, bearer, keyCaller } from '../support/session-flow';
import { sealedSessionItem, testSealer as sealer } from '../support/seals';

let client: DynamoDBClient;
let tables: TableNames;
/** What the authorizers read hash items with. */
const authorizerDynamoDb = testAuthorizerDynamoDb();
const sessionFormat = credentialFormat('kgs');
const hash = createHasher(async () => process.env.KEYGATE_LOCAL_PEPPER!);

beforeAll(async () => {
  client = testDynamoDbClient();
  tables = await createTestTables(client);
});
afterAll(() => client.destroy());

/** User items of an app (not their userid# lookup items). */
const userOf = (appUid: string) => (item: Record<string, unknown>) => item.pk === `app#${appUid}` && String(item.sk).startsWith('user#');

describe('sdkusers/auth and the session authorizer', () => {
  test('a session created with a key survives the deletion of that key', async () => {
    const { created, context } = await keyCaller('app-s');
    const session = await authenticate(context, { externalId: 'user-1', name: 'Ada', accountUids: ['acct-1'] });
    expect(session.status).toBe(200);
    expect(Object.keys(session.body).sort()).toEqual(['authToken', 'expiresAt']);
    const authToken = String(session.body.authToken);
    expect(sessionFormat.isWellFormed(authToken)).toBe(true);

    await deleteKeyHandler({ appUid: 'app-s', keyId: created.keyId });
    expect(await gatewayOutcome(apiKeyAuthorizer, authorizerEvent({ 'x-api-key': created.apiKey }, methodArn('POST', 'app-s', 'sdkusers/auth')))).toEqual({ status: 401 });

    const outcome = await gatewayOutcome(sessionAuthorizer, bearer(authToken, 'app-s'));
    expect(outcome.status).toBe(200);
    if (outcome.status !== 200) return;
    expect(outcome.context).toMatchObject({ appUid: 'app-s', sessionExpiresAt: session.body.expiresAt });

    const me = await sdkUsersMe(proxyEvent({ method: 'GET', context: outcome.context }));
    expect(me.statusCode).toBe(200);
    expect(JSON.parse(me.body)).toEqual({
      appUid: 'app-s',
      userId: outcome.context.userId,
      externalId: 'user-1',
      name: 'Ada',
      accountUids: ['acct-1'],
      sessionExpiresAt: session.body.expiresAt,
    });
  });

  test('the session item records the key that created it, and stores only the token hash', async () => {
    const { created, context } = await keyCaller('app-audit');
    const session = await authenticate(context, { externalId: 'audited' });
    const token = String(session.body.authToken);
    const items = await scanAll(client, tables.Sessions);
    const pk = `token#${await hash(token)}`;
    const stored = items.find((candidate) => candidate.pk === pk);
    expect(stored).toMatchObject({ appUid: 'app-audit', createdByKeyId: created.keyId, expiresAt: session.body.expiresAt });
    expect(stored?.expiresAtEpoch).toBe(Math.ceil(Date.parse(String(session.body.expiresAt)) / 1000));
    expect(JSON.stringify(items)).not.toContain(token.slice(4, 47));
  });

  test('default lifetime is 24 hours', async () => {
    const { context } = await keyCaller('app-life');
    const before = Date.now();
    const session = await authenticate(context, { externalId: 'lifetime' });
    const lifetime = Date.parse(String(session.body.expiresAt)) - before;
    expect(lifetime).toBeGreaterThan(24 * 3600 * 1000 - 5000);
    expect(lifetime).toBeLessThanOrEqual(24 * 3600 * 1000 + 1000);
  });

  test('an expired session is refused even while its item still exists (fake clock)', async () => {
    const { context } = await keyCaller('app-exp');
    const session = await authenticate(context, { externalId: 'short' });
    const token = String(session.body.authToken);
    const expiresAt = Date.parse(String(session.body.expiresAt));
    const deps = { sessionFormat, hash, sealer, findSession: sessionLookup(authorizerDynamoDb, tables.Sessions) };
    expect((await verifySessionToken(deps, token, new Date(expiresAt - 1))).code).toBe('valid');
    expect(await verifySessionToken(deps, token, new Date(expiresAt))).toMatchObject({ code: 'expired' });
    expect(await verifySessionToken(deps, token, new Date(expiresAt + 3600_000))).toMatchObject({ code: 'expired' });
  });

  test('a session item without an expiry is refused (fail closed), even under a good seal', async () => {
    const token = sessionFormat.generate();
    const tokenHash = await hash(token);
    const item = { sessionId: 'ses_x', appUid: 'app-s', userId: 'usr_x', userKey: 'u', createdAt: 'x', createdByKeyId: 'key_x' };
    await DynamoDBDocumentClient.from(client).send(new PutCommand({ TableName: tables.Sessions, Item: { ...sessionItemKey(tokenHash), ...(await sealedSessionItem(tokenHash, item)) } }));
    expect(await verifySessionToken({ sessionFormat, hash, sealer, findSession: sessionLookup(authorizerDynamoDb, tables.Sessions) }, token, new Date())).toMatchObject({ code: 'expired' });
  });

  test('a session of app A is refused with 403 on app B', async () => {
    const { context } = await keyCaller('app-sa');
    const token = String((await authenticate(context, { externalId: 'u' })).body.authToken);
    expect(await gatewayOutcome(sessionAuthorizer, bearer(token, 'app-sb'))).toEqual({ status: 403 });
    expect((await gatewayOutcome(sessionAuthorizer, bearer(token, 'app-sa'))).status).toBe(200);
  });

  test.each([
    ['no header', {}],
    ['an API key instead of a token', { Authorization: `Bearer ${credentialFormat('kg').generate()}` }],
    ['a token that was never issued', { Authorization: `Bearer ${sessionFormat.generate()}` }],
    ['a token without the Bearer scheme', { Authorization: sessionFormat.generate() }],
    ['garbage', { Authorization: 'Bearer nope' }],
  ])('%s → 401', async (_label, headers) => {
    expect(await gatewayOutcome(sessionAuthorizer, authorizerEvent(headers, methodArn('GET', 'app-s', 'sdkusers/me')))).toEqual({ status: 401 });
  });

  test('the same externalId twice gives the same user and two valid tokens', async () => {
    const { context } = await keyCaller('app-twice');
    const first = await authenticate(context, { externalId: 'repeat', name: 'First name' });
    const second = await authenticate(context, { externalId: 'repeat', name: 'Ignored name', accountUids: ['acct-2'] });
    expect(first.body.authToken).not.toBe(second.body.authToken);
    const outcomes = await Promise.all([first, second].map((s) => gatewayOutcome(sessionAuthorizer, bearer(String(s.body.authToken), 'app-twice'))));
    const userIds = outcomes.map((outcome) => (outcome.status === 200 ? outcome.context.userId : undefined));
    expect(outcomes.map((outcome) => outcome.status)).toEqual([200, 200]);
    expect(userIds[0]).toMatch(/^usr_/);
    expect(userIds[1]).toBe(userIds[0]);

    const users = (await scanAll(client, tables.Users)).filter(userOf('app-twice'));
    expect(users).toHaveLength(1);
    // name is kept from creation; account ids accumulate.
    expect(users[0]).toMatchObject({ name: 'First name', externalId: 'repeat' });
    expect([...(users[0].accountUids as Set<string>)]).toEqual(['acct-2']);
  });

  test('emails are matched case-insensitively', async () => {
    const { context } = await keyCaller('app-mail');
    await authenticate(context, { userEmail: 'Ada@Example.com' });
    await authenticate(context, { userEmail: 'ada@example.COM' });
    expect((await scanAll(client, tables.Users)).filter(userOf('app-mail'))).toHaveLength(1);
  });

  test('concurrent first calls for one user end with one user', async () => {
    const { context } = await keyCaller('app-conc');
    const sessions = await Promise.all(Array.from({ length: 20 }, () => authenticate(context, { externalId: 'racer' })));
    expect(sessions.every((session) => session.status === 200)).toBe(true);
    const users = (await scanAll(client, tables.Users)).filter(userOf('app-conc'));
    expect(users).toHaveLength(1);
    const outcomes = await Promise.all(sessions.map((s) => gatewayOutcome(sessionAuthorizer, bearer(String(s.body.authToken), 'app-conc'))));
    expect(new Set(outcomes.map((outcome) => (outcome.status === 200 ? outcome.context.userId : 'refused')))).toEqual(new Set([users[0].userId]));
  });

  test('appUid comes from the authorizer context, never from the body', async () => {
    const { context } = await keyCaller('app-ctx');
    const response = await authenticate(context, { externalId: 'x', appUid: 'app-other' });
    expect(response).toEqual({ status: 400, body: { message: 'unknown field appUid in request body; the known fields are externalId, userEmail, name, accountUids', field: 'appUid' } });
  });
});

describe('invalid sdkusers/auth bodies → 400 naming the field, nothing written', () => {
  const cases: [string, unknown, string][] = [
    ['not JSON', '{"externalId":', '(body)'],
    ['empty body', '', '(body)'],
    ['JSON null', 'null', '(body)'],
    ['a JSON array', '[]', '(body)'],
    ['a JSON string', '"user"', '(body)'],
    ['neither identifier', { name: 'n' }, 'externalId'],
    ['both identifiers', { externalId: 'a', userEmail: 'a@example.com' }, 'externalId'],
    ['externalId with a space', { externalId: 'a b' }, 'externalId'],
    ['externalId with a slash', { externalId: 'a/b' }, 'externalId'],
    ['externalId empty', { externalId: '' }, 'externalId'],
    ['externalId too long', { externalId: 'a'.repeat(101) }, 'externalId'],
    ['externalId a number', { externalId: 42 }, 'externalId'],
    ['userEmail not an email', { userEmail: 'not-an-email' }, 'userEmail'],
    ['userEmail too long', { userEmail: `${'a'.repeat(95)}@x.com` }, 'userEmail'],
    ['name too long', { externalId: 'a', name: 'n'.repeat(101) }, 'name'],
    ['name not a string', { externalId: 'a', name: ['n'] }, 'name'],
    ['accountUids not an array', { externalId: 'a', accountUids: 'acct' }, 'accountUids'],
    ['too many accountUids', { externalId: 'a', accountUids: Array.from({ length: 11 }, (_, i) => `a${i}`) }, 'accountUids'],
    ['accountUids with a number', { externalId: 'a', accountUids: [1] }, 'accountUids[0]'],
    ['an unknown field', { externalId: 'a', role: 'admin' }, 'role'],
  ];

  test.each(cases)('%s', async (_label, body, field) => {
    const { context } = await keyCaller('app-bad');
    const [usersBefore, sessionsBefore] = await Promise.all([scanAll(client, tables.Users), scanAll(client, tables.Sessions)]);
    const response = await authenticate(context, body);
    expect(response.status).toBe(400);
    expect(response.body.field).toBe(field);
    expect(String(response.body.message)).toContain(field === '(body)' ? 'body' : field.replace(/\[\d+\]$/, ''));
    expect(await scanAll(client, tables.Users)).toEqual(usersBefore);
    expect(await scanAll(client, tables.Sessions)).toEqual(sessionsBefore);
  });
});

test('no plaintext key or token reaches the logs', async () => {
  const lines: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(chunk.toString());
    return true;
  });
  const previous = logger.getLevelName();
  logger.setLogLevel('DEBUG');
  try {
    const { created, context } = await keyCaller('app-logs');
    const token = String((await authenticate(context, { externalId: 'logged' })).body.authToken);
    const outcome = await gatewayOutcome(sessionAuthorizer, bearer(token, 'app-logs'));
    await gatewayOutcome(sessionAuthorizer, bearer(`${token.slice(0, -1)}x`, 'app-logs'));
    await gatewayOutcome(sessionAuthorizer, bearer(sessionFormat.generate(), 'app-logs'));
    await deleteKeyHandler({ appUid: 'app-logs', keyId: created.keyId });
    await gatewayOutcome(apiKeyAuthorizer, apiKeyEvent(created.apiKey, 'app-logs'));
    if (outcome.status === 200) await sdkUsersMe(proxyEvent({ method: 'GET', context: outcome.context }));

    const log = lines.join('');
    expect(lines.length).toBeGreaterThan(5);
    expect(log).toContain(created.keyId);
    for (const secret of [created.apiKey, token, created.apiKey.slice(3, 46), token.slice(4, 47)]) expect(log).not.toContain(secret);
  } finally {
    logger.setLogLevel(previous);
    write.mockRestore();
  }
});
