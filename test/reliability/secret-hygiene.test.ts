import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { handler as apiKeyAuthorizer } from '../../functions/api-key-authorizer/index';
import { handler as sessionAuthorizer } from '../../functions/session-authorizer/index';
import { handler as createKeyHandler } from '../../functions/create-key/index';
import { handler as deleteKeyHandler } from '../../functions/delete-key/index';
import { handler as listKeysHandler } from '../../functions/list-keys/index';
import { handler as rollKeyHandler } from '../../functions/roll-key/index';
import { handler as updateKeyHandler } from '../../functions/update-key/index';
import { handler as listKeyEventsHandler } from '../../functions/list-key-events/index';
import { handler as sdkUsersAuth } from '../../functions/sdkusers-auth/index';
import { handler as sdkUsersMe } from '../../functions/sdkusers-me/index';
import { handler as whoami } from '../../functions/whoami/index';
import { logger } from '../../functions/lambda/services';
import { createTestTables, scanAll, testDynamoDbClient } from '../support/dynamodb';
import { authorizerEvent, gatewayOutcome, methodArn, proxyEvent } from '../support/events';
import type { TableNames } from '../../lib/local/tables';
import { changeChar, findSecrets, OutputCapture } from './support';

/**
 * Secret hygiene: run the key and session flows (success, refusal, 403,
 * deletion, bad input that carries a key or token in odd places) with every
 * log line captured at DEBUG, then look for any plaintext key or session token,
 * or its 43-character secret part, in the logs, in every error message and
 * response body, and in every item of every table. The only place a key may
 * appear is the one create-key result (and a token in the one sdkusers/auth
 * answer), which are kept out of the scanned text.
 */

let client: DynamoDBClient;
let tables: TableNames;
const output = new OutputCapture();
const secrets: string[] = [];
/** Everything the flows returned or threw, except the one create result / auth answer that must carry the credential. */
const answers: string[] = [];

beforeAll(async () => {
  client = testDynamoDbClient();
  tables = await createTestTables(client);
  logger.setLogLevel('DEBUG');
  output.start();
});
afterAll(() => {
  output.stop();
  client.destroy();
});

const record = (value: unknown) => answers.push(typeof value === 'string' ? value : JSON.stringify(value));
const recordError = (error: unknown) => answers.push(JSON.stringify({ name: (error as Error).name, message: (error as Error).message, stack: (error as Error).stack }));
async function settle(call: () => Promise<unknown>): Promise<void> {
  try {
    record(await call());
  } catch (error) {
    recordError(error);
  }
}

test('the key and session flows leave no key or token in logs, errors, answers or tables', async () => {
  const created = await createKeyHandler({ appUid: 'hyg-a', name: 'hygiene' });
  const other = await createKeyHandler({ appUid: 'hyg-b', name: 'other app' });
  secrets.push(created.apiKey, other.apiKey);

  const key = (value: string, app = 'hyg-a', route = 'whoami', method = 'GET') => authorizerEvent({ 'x-api-key': value }, methodArn(method, app, route));
  const granted = await gatewayOutcome(apiKeyAuthorizer, key(created.apiKey, 'hyg-a', 'sdkusers/auth', 'POST'));
  expect(granted.status).toBe(200);
  const context = (granted as { context: Record<string, string> }).context;
  record(granted);
  record(await whoami(proxyEvent({ method: 'GET', context: { ...context, principalId: context.keyId } })));

  const issued = await sdkUsersAuth(proxyEvent({ body: JSON.stringify({ externalId: 'hyg-user', name: 'H' }), context }));
  const { authToken } = JSON.parse(issued.body) as { authToken: string };
  secrets.push(authToken);
  const session = (value: string, app = 'hyg-a') => authorizerEvent({ Authorization: value }, methodArn('GET', app, 'sdkusers/me'));
  const me = await gatewayOutcome(sessionAuthorizer, session(`Bearer ${authToken}`));
  expect(me.status).toBe(200);
  record(me);
  record(await sdkUsersMe(proxyEvent({ method: 'GET', context: (me as { context: Record<string, string> }).context })));

  // Refusals and 403s with the real credentials and with near misses of them (which hold most of the secret).
  for (const event of [
    key(created.apiKey, 'hyg-b'),
    key(changeChar(created.apiKey, 20, 'Z')),
    key(changeChar(created.apiKey, created.apiKey.length - 1, 'Z')),
    key(`${created.apiKey} `),
    key(authToken),
    authorizerEvent({ 'x-api-key': created.apiKey, 'X-API-KEY': other.apiKey }, methodArn('GET', 'hyg-a', 'whoami')),
  ]) {
    record(await gatewayOutcome(apiKeyAuthorizer, event));
  }
  for (const value of [`Bearer ${authToken}x`, `Bearer ${changeChar(authToken, 10, 'Q')}`, authToken, `Basic ${authToken}`, `Bearer ${created.apiKey}`]) {
    record(await gatewayOutcome(sessionAuthorizer, session(value)));
  }
  record(await gatewayOutcome(sessionAuthorizer, session(`Bearer ${authToken}`, 'hyg-b')));

  // Bad admin input carrying the key where it does not belong: the error must not echo it.
  await settle(() => deleteKeyHandler({ appUid: 'hyg-a', keyId: created.apiKey }));
  await settle(() => listKeysHandler({ appUid: 'hyg-a', nextToken: created.apiKey }));
  await settle(() => createKeyHandler({ appUid: 'hyg-a', name: 'n', expiresAt: created.apiKey }));
  await settle(() => createKeyHandler({ appUid: 'hyg-a', name: 'n', apiKey: created.apiKey }));
  await settle(() => listKeysHandler({ appUid: 'hyg-a', limit: created.apiKey }));
  await settle(() => rollKeyHandler({ appUid: 'hyg-a', keyId: created.apiKey }));
  await settle(() => rollKeyHandler({ appUid: 'hyg-a', keyId: created.keyId, gracePeriodSeconds: created.apiKey }));
  await settle(() => updateKeyHandler({ appUid: 'hyg-a', keyId: created.apiKey, enabled: false }));
  await settle(() => updateKeyHandler({ appUid: 'hyg-a', keyId: created.keyId, expiresAt: created.apiKey }));
  await settle(() => updateKeyHandler({ appUid: 'hyg-a', keyId: created.keyId, enabled: created.apiKey }));
  await settle(() => listKeyEventsHandler({ appUid: 'hyg-a', keyId: created.apiKey }));
  await settle(() => listKeyEventsHandler({ appUid: 'hyg-a', nextToken: authToken }));
  // Well-shaped ids and names that are, or hold, a key or token: key characters are valid id characters.
  await settle(() => createKeyHandler({ appUid: 'hyg-a', name: created.apiKey }));
  await settle(() => createKeyHandler({ appUid: created.apiKey, name: 'n' }));
  await settle(() => listKeysHandler({ appUid: authToken }));
  // ...and a session request whose body carries the key or a token in a field value.
  for (const body of [
    { userEmail: created.apiKey },
    { externalId: 'x', accountUids: [authToken, '*'] },
    { externalId: `${authToken}!` },
    { externalId: 'x', name: 5, apiKey: created.apiKey },
    { externalId: created.apiKey },
    { externalId: 'x', name: `key: ${created.apiKey}` },
    { userEmail: `${created.apiKey}@example.com` },
    { externalId: 'x', accountUids: ['acct-1', authToken] },
  ]) {
    record(await sdkUsersAuth(proxyEvent({ body: JSON.stringify(body), context })));
  }
  record(await sdkUsersAuth(proxyEvent({ body: `{"externalId": "${created.apiKey}`, context })));

  // Rolling (the new key is in the roll's answer only), disabling and enabling, the activity log.
  const rolled = await rollKeyHandler({ appUid: 'hyg-b', keyId: other.keyId, gracePeriodSeconds: 60 });
  secrets.push(rolled.apiKey);
  const { apiKey: _shownOnce, ...rolledMetadata } = rolled;
  record(rolledMetadata);
  record(await gatewayOutcome(apiKeyAuthorizer, key(rolled.apiKey, 'hyg-b')));
  record(await updateKeyHandler({ appUid: 'hyg-a', keyId: created.keyId, enabled: false }));
  record(await gatewayOutcome(apiKeyAuthorizer, key(created.apiKey)));
  record(await updateKeyHandler({ appUid: 'hyg-a', keyId: created.keyId, enabled: true, name: 'renamed' }));
  record(await listKeyEventsHandler({ appUid: 'hyg-a' }));
  record(await listKeyEventsHandler({ appUid: 'hyg-b' }));

  // Listing and deleting, then the deleted key refused and the session still served.
  record(await listKeysHandler({ appUid: 'hyg-a' }));
  record(await deleteKeyHandler({ appUid: 'hyg-a', keyId: created.keyId }));
  record(await gatewayOutcome(apiKeyAuthorizer, key(created.apiKey)));
  record(await gatewayOutcome(sessionAuthorizer, session(`Bearer ${authToken}`)));

  const logs = output.text();
  const lines = output.lines();
  const items = await Promise.all([tables.Keys, tables.Sessions, tables.Users].map((name) => scanAll(client, name)));

  // The capture really saw the flows at DEBUG: accepted, refused, failed and succeeded lines are all there.
  expect(lines.some((line) => line.level === 'DEBUG' && /accepted/.test(String(line.message)))).toBe(true);
  expect(lines.some((line) => /api key refused/.test(String(line.message)))).toBe(true);
  expect(lines.some((line) => /session token refused/.test(String(line.message)))).toBe(true);
  expect(lines.some((line) => /delete-key failed/.test(String(line.message)))).toBe(true);
  expect(lines.length).toBeGreaterThan(30);
  expect(items.flat().length).toBeGreaterThan(3);

  const report = {
    logLines: lines.length,
    answers: answers.length,
    tableItems: items.flat().length,
    inLogs: findSecrets(logs, secrets),
    inAnswersAndErrors: findSecrets(answers.join('\n'), secrets),
    inTables: findSecrets(JSON.stringify(items), secrets),
  };
  expect(report).toMatchObject({ inLogs: [], inAnswersAndErrors: [], inTables: [] });
  output.stop();
  process.stdout.write(`\n[secret-hygiene] ${JSON.stringify({ ...report, secretsLookedFor: secrets.length })}\n`);
});

/**
 * An unknown field's name goes into the ValidationError (field and message),
 * which admin-handler.ts and http.ts (proxyHandler) log as `errorMessage`. A
 * caller that pastes its key or token as a JSON field name must not get the
 * plaintext into the logs (DESIGN §4): validation.ts shows only names that
 * look like field names.
 */
test('a key or token pasted as a JSON field name is not echoed into logs, errors or answers', async () => {
  const created = await createKeyHandler({ appUid: 'hyg-c', name: 'pasted' });
  const context = { appUid: 'hyg-c', keyId: created.keyId };
  const issued = await sdkUsersAuth(proxyEvent({ body: JSON.stringify({ externalId: 'pasted-user' }), context }));
  const { authToken } = JSON.parse(issued.body) as { authToken: string };
  // The first test stops the capture to print its report: capture again, from empty.
  output.start();
  output.clear();
  const seen: string[] = [];
  await createKeyHandler({ appUid: 'hyg-c', name: 'n', [created.apiKey]: true }).then(
    (result) => seen.push(JSON.stringify(result)),
    (error: Error & { field?: string }) => seen.push(JSON.stringify({ name: error.name, message: error.message, field: error.field })),
  );
  const answer = await sdkUsersAuth(proxyEvent({ body: JSON.stringify({ externalId: 'x', [authToken]: true }), context }));
  seen.push(answer.body);
  expect(answer.statusCode).toBe(400);
  expect(output.text()).toContain('create-key failed');
  expect(output.text()).toContain('sdkusers/auth refused');
  expect({ inLogs: findSecrets(output.text(), [created.apiKey, authToken]), inAnswersAndErrors: findSecrets(seen.join('\n'), [created.apiKey, authToken]) }).toEqual({
    inLogs: [],
    inAnswersAndErrors: [],
  });
});
