import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { credentialFormat } from '../../functions/domain/credential-format';
import { createTestTables, scanAll, testDynamoDbClient } from '../support/dynamodb';
import { apiKeyEvent, gatewayOutcome, sessionTokenEvent } from '../support/events';
import type { TableNames } from '../../lib/local/tables';
import { PEPPER_RETRY_DELAY_MS } from '../../functions/domain/hashing';
import { OutputCapture, coldStartHandlers, type ColdStartHandlers } from './support';
import { AwsJsonStandIn, errorAnswer, secretValueAnswer } from '../support/aws-stand-in';

/**
 * The pepper unreadable at cold start, when it is read (during init), and the
 * negative cache after a failure. Secrets Manager has no local server: a
 * stand-in on 127.0.0.1 speaks its JSON protocol and checks each request's
 * SigV4 signature, and the functions reach it through
 * AWS_ENDPOINT_URL_SECRETS_MANAGER, over real HTTP, whether they read it with
 * the SDK (create-key) or with the authorizers' own client. DynamoDB is real.
 */

const SECRET_ID = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:keygate-pepper-AbCdEf';
const PEPPER = randomBytes(32).toString('base64url');
const secrets = new AwsJsonStandIn('local', { service: 'secretsmanager', region: 'us-east-1' });
let client: DynamoDBClient;
let tables: TableNames;
const output = new OutputCapture();
/** The function modules coldStartHandlers() loaded (all it returns but `initialized`); in this test's environment each is given the pepper's secret id. */
const modulesIn = (fns: ColdStartHandlers) => Object.keys(fns).filter((name) => name !== 'initialized').length;
let realNow: () => number;

beforeAll(async () => {
  client = testDynamoDbClient();
  tables = await createTestTables(client);
  delete process.env.KEYGATE_LOCAL_PEPPER;
  process.env.PEPPER_SECRET_ID = SECRET_ID;
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = await secrets.start();
  process.env.AWS_MAX_ATTEMPTS = '1';
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
  realNow = Date.now.bind(Date);
  output.start();
});
afterAll(async () => {
  output.stop();
  await secrets.stop();
  client.destroy();
});
afterEach(() => jest.restoreAllMocks());

/** Moves every clock that reads Date.now (the pepper's negative cache among them) `ms` ahead. */
function advanceClock(ms: number): void {
  const base = Date.now();
  const at = realNow();
  jest.spyOn(Date, 'now').mockImplementation(() => base + ms + (realNow() - at));
}

const APP = 'pepper-app';
const keyEvent = (apiKey: string) => apiKeyEvent(apiKey, APP);
const sessionEvent = (token: string) => sessionTokenEvent(token, APP);

test.each([
  ['Secrets Manager errors', () => secrets.reset(() => errorAnswer(500, 'InternalServiceError', 'injected: service unavailable')), /could not read the pepper/],
  ['the secret has no string value', () => secrets.reset(secretValueAnswer(SECRET_ID, { SecretBinary: new Uint8Array([1, 2, 3]) })), /has no string value/],
  ['the secret is too short', () => secrets.reset(secretValueAnswer(SECRET_ID, { SecretString: 'short' })), /shorter than 32 characters/],
])('pepper unreadable at cold start (%s): read once during init, then authorizers 500 and create-key PepperUnavailable without another read, nothing written', async (_label, arrange, logged) => {
  arrange();
  output.clear();
  // A cold start: each module starts its pepper read during init, before any request.
  const fns: ColdStartHandlers = coldStartHandlers();
  await fns.initialized();
  expect(secrets.calls).toHaveLength(modulesIn(fns));
  expect(secrets.calls[0]!.input).toEqual({ SecretId: SECRET_ID });
  // Every read signed as AWS would check it, by the SDK (create-key) and by the authorizers' client alike.
  expect(secrets.calls.map((call) => call.signatureProblem ?? call.target)).toEqual(secrets.calls.map(() => 'secretsmanager.GetSecretValue'));
  const initFailures = output.lines().filter((line) => line.level === 'ERROR' && /pepper not read during init/.test(String(line.message)));
  expect(initFailures).toHaveLength(modulesIn(fns));
  for (const line of initFailures) expect(JSON.stringify(line.error)).toMatch(logged);

  const wellFormedKey = credentialFormat('kg').generate();
  const wellFormedToken = credentialFormat('kgs').generate();
  expect(await gatewayOutcome(fns.apiKeyAuthorizer, keyEvent(wellFormedKey))).toEqual({ status: 500 });
  expect(await gatewayOutcome(fns.sessionAuthorizer, sessionEvent(wellFormedToken))).toEqual({ status: 500 });
  // Malformed values are refused before any hashing: 401 even without a pepper.
  expect(await gatewayOutcome(fns.apiKeyAuthorizer, keyEvent('kg_nope'))).toEqual({ status: 401 });
  await expect(fns.createKey({ appUid: APP, name: 'no pepper' })).rejects.toMatchObject({ name: 'PepperUnavailable', retryable: true });
  // The negative cache: within the retry delay no request reads the secret again.
  for (let i = 0; i < 20; i++) expect(await gatewayOutcome(fns.apiKeyAuthorizer, keyEvent(wellFormedKey))).toEqual({ status: 500 });
  expect(secrets.calls).toHaveLength(modulesIn(fns));

  const lines = output.lines();
  const refusals = lines.filter((line) => line.level === 'ERROR' && /verification failed; refusing/.test(String(line.message)));
  expect(refusals).toHaveLength(22);
  for (const line of refusals) expect(JSON.stringify(line.error)).toMatch(logged);
  expect(lines.some((line) => line.level === 'WARN' && line.errorType === 'PepperUnavailable' && line.retryable === true)).toBe(true);
  expect(JSON.stringify(lines)).not.toContain(PEPPER);
  expect(await scanAll(client, tables.Keys)).toEqual([]);
});

test('after the retry delay the same containers read the secret again and serve (no restart), once, and survive a later outage', async () => {
  secrets.reset(() => errorAnswer(500, 'InternalServiceError', 'injected: outage at cold start'));
  const fns = coldStartHandlers();
  await fns.initialized();
  secrets.reset(secretValueAnswer(SECRET_ID, { SecretString: PEPPER }));
  // Secrets Manager is back, but the failure is remembered for a few seconds.
  await expect(fns.createKey({ appUid: APP, name: 'too soon' })).rejects.toMatchObject({ name: 'PepperUnavailable' });
  expect(secrets.calls).toHaveLength(0);

  advanceClock(PEPPER_RETRY_DELAY_MS);
  const created = await fns.createKey({ appUid: APP, name: 'after recovery' });
  expect(await gatewayOutcome(fns.apiKeyAuthorizer, keyEvent(created.apiKey))).toMatchObject({ status: 200 });
  expect(await gatewayOutcome(fns.apiKeyAuthorizer, apiKeyEvent(created.apiKey, 'other-app'))).toEqual({ status: 403 });
  // One read per function module that needed it (create-key, api-key authorizer): kept for the life of the container.
  expect(secrets.calls).toHaveLength(2);
  expect(secrets.calls.map((call) => call.signatureProblem)).toEqual([undefined, undefined]);

  secrets.reset(() => errorAnswer(500, 'InternalServiceError', 'injected: outage after warm-up'));
  expect(await gatewayOutcome(fns.apiKeyAuthorizer, keyEvent(created.apiKey))).toMatchObject({ status: 200 });
  expect(secrets.calls).toHaveLength(0);
  expect(JSON.stringify(output.lines())).not.toContain(PEPPER);
});

test('a pepper read at init serves the first request without another read', async () => {
  secrets.reset(secretValueAnswer(SECRET_ID, { SecretString: PEPPER }));
  const fns = coldStartHandlers();
  await fns.initialized();
  expect(secrets.calls).toHaveLength(modulesIn(fns));
  const created = await fns.createKey({ appUid: APP, name: 'read at init' });
  expect(await gatewayOutcome(fns.apiKeyAuthorizer, keyEvent(created.apiKey))).toMatchObject({ status: 200 });
  expect(secrets.calls).toHaveLength(modulesIn(fns));
});
