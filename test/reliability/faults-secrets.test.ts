import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { credentialFormat } from '../../functions/domain/credential-format';
import { createTestTables, scanAll, testDynamoDbClient } from '../support/dynamodb';
import { authorizerEvent, gatewayOutcome, methodArn } from '../support/events';
import type { TableNames } from '../../lib/local/tables';
import { OutputCapture, coldStartHandlers, type ColdStartHandlers } from './support';
import { AwsJsonStandIn, errorAnswer, secretValueAnswer } from '../support/aws-stand-in';

/**
 * The pepper unreadable at cold start. Secrets Manager has no local server:
 * a stand-in on 127.0.0.1 speaks its JSON protocol and checks each request's
 * SigV4 signature, and the functions reach it through
 * AWS_ENDPOINT_URL_SECRETS_MANAGER, over real HTTP, whether they read it with
 * the SDK (create-key) or with the authorizers' own client. DynamoDB is real.
 */

const SECRET_ID = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:keygate-pepper-AbCdEf';
const PEPPER = randomBytes(32).toString('base64url');
const secrets = new AwsJsonStandIn('local', { service: 'secretsmanager', region: 'us-east-1' });
let client: DynamoDBClient;
let tables: TableNames;
let fns: ColdStartHandlers;
const output = new OutputCapture();

beforeAll(async () => {
  client = testDynamoDbClient();
  tables = await createTestTables(client);
  delete process.env.KEYGATE_LOCAL_PEPPER;
  process.env.PEPPER_SECRET_ID = SECRET_ID;
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = await secrets.start();
  process.env.AWS_MAX_ATTEMPTS = '1';
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
  // A cold start: fresh module instances, nothing cached yet.
  fns = coldStartHandlers();
  output.start();
});
afterAll(async () => {
  output.stop();
  await secrets.stop();
  client.destroy();
});

const APP = 'pepper-app';
const keyEvent = (apiKey: string) => authorizerEvent({ 'x-api-key': apiKey }, methodArn('GET', APP, 'whoami'));
const sessionEvent = (token: string) => authorizerEvent({ authorization: `Bearer ${token}` }, methodArn('GET', APP, 'sdkusers/me'));

test.each([
  ['Secrets Manager errors', () => secrets.reset(() => errorAnswer(500, 'InternalServiceError', 'injected: service unavailable')), /could not read the pepper/],
  ['the secret has no string value', () => secrets.reset(secretValueAnswer(SECRET_ID, { SecretBinary: new Uint8Array([1, 2, 3]) })), /has no string value/],
  ['the secret is too short', () => secrets.reset(secretValueAnswer(SECRET_ID, { SecretString: 'short' })), /shorter than 32 characters/],
])('pepper unreadable at cold start (%s): authorizers 500, create-key PepperUnavailable (retryable), nothing written', async (_label, arrange, logged) => {
  arrange();
  output.clear();
  const wellFormedKey = credentialFormat('kg').generate();
  const wellFormedToken = credentialFormat('kgs').generate();

  expect(await gatewayOutcome(fns.apiKeyAuthorizer, keyEvent(wellFormedKey))).toEqual({ status: 500 });
  expect(await gatewayOutcome(fns.sessionAuthorizer, sessionEvent(wellFormedToken))).toEqual({ status: 500 });
  // Malformed values are refused before any hashing: 401 even without a pepper.
  expect(await gatewayOutcome(fns.apiKeyAuthorizer, keyEvent('kg_nope'))).toEqual({ status: 401 });
  await expect(fns.createKey({ appUid: APP, name: 'no pepper' })).rejects.toMatchObject({ name: 'PepperUnavailable', retryable: true });
  expect(secrets.calls.length).toBeGreaterThanOrEqual(3);
  expect(secrets.calls[0]!.input).toEqual({ SecretId: SECRET_ID });
  expect(secrets.calls.map((call) => call.signatureProblem ?? call.target)).toEqual(secrets.calls.map(() => 'secretsmanager.GetSecretValue'));

  const lines = output.lines();
  const refusals = lines.filter((line) => line.level === 'ERROR' && /verification failed; refusing/.test(String(line.message)));
  expect(refusals).toHaveLength(2);
  for (const line of refusals) expect(JSON.stringify(line.error)).toMatch(logged);
  expect(lines.some((line) => line.level === 'WARN' && line.errorType === 'PepperUnavailable' && line.retryable === true)).toBe(true);
  expect(JSON.stringify(lines)).not.toContain(PEPPER);
  expect(await scanAll(client, tables.Keys)).toEqual([]);
});

test('once Secrets Manager answers, the same containers serve (no restart), read it once, and survive a later outage', async () => {
  secrets.reset(secretValueAnswer(SECRET_ID, { SecretString: PEPPER }));
  const created = await fns.createKey({ appUid: APP, name: 'after recovery' });
  expect(await gatewayOutcome(fns.apiKeyAuthorizer, keyEvent(created.apiKey))).toMatchObject({ status: 200 });
  expect(await gatewayOutcome(fns.apiKeyAuthorizer, authorizerEvent({ 'x-api-key': created.apiKey }, methodArn('GET', 'other-app', 'whoami')))).toEqual({ status: 403 });
  const readsAfterRecovery = secrets.calls.length;
  // One read per function module (create-key, api-key authorizer): the pepper is cached for the life of the container.
  expect(readsAfterRecovery).toBe(2);

  secrets.reset(() => errorAnswer(503, 'ServiceUnavailable', 'injected: outage after warm-up'));
  expect(await gatewayOutcome(fns.apiKeyAuthorizer, keyEvent(created.apiKey))).toMatchObject({ status: 200 });
  expect(secrets.calls).toHaveLength(0);
  expect(JSON.stringify(output.lines())).not.toContain(PEPPER);
});
