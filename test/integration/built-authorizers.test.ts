import { credentialFormat } from '../../functions/domain/credential-format';
import { ENV } from '../../lib/shared/environment';
import type { FunctionId } from '../../lib/shared/functions';
import { AwsJsonStandIn, errorAnswer, secretValueAnswer } from '../support/aws-stand-in';
import { builtBundleEnv, invokeBuiltBundle } from '../support/built-bundle';
import { createTestTables, testDynamoDbClient } from '../support/dynamodb';
import { apiKeyEvent, sessionTokenEvent } from '../support/events';
import { FaultProxy } from '../reliability/support';

/**
 * The authorizer bundles as they deploy, each in a fresh Node process, with
 * the pepper in "Secrets Manager" (a loopback stand-in that checks SigV4) and
 * DynamoDB Local behind a fault proxy: what they answer and the `errorType`
 * the Lambda runtime would report, through their own AWS client.
 */

const SECRET_ID = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:keygate-pepper-AbCdEf';
const PEPPER = 'p'.repeat(24) + 'e'.repeat(24);
const client = testDynamoDbClient();
const secrets = new AwsJsonStandIn('local', { service: 'secretsmanager', region: 'us-east-1' });
const proxy = new FaultProxy(process.env.KEYGATE_TEST_DYNAMODB_ENDPOINT!);
let env: Record<string, string | undefined>;

beforeAll(async () => {
  const tables = await createTestTables(client);
  env = {
    ...builtBundleEnv(tables),
    AWS_ENDPOINT_URL_DYNAMODB: await proxy.start(),
    [ENV.localPepper]: undefined,
    AWS_SESSION_TOKEN: 'session-token',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: await secrets.start(),
    AWS_MAX_ATTEMPTS: '2',
    [ENV.pepperSecretId]: SECRET_ID,
  };
});
afterAll(async () => {
  await proxy.stop();
  await secrets.stop();
  client.destroy();
});
afterEach(() => {
  proxy.mode = { kind: 'pass' };
});

const invoke = (fn: FunctionId, event: unknown, overrides: Record<string, string> = {}) => invokeBuiltBundle(fn, event, { ...env, ...overrides });
const keyEvent = (apiKey: string) => apiKeyEvent(apiKey, 'app-b');

async function createdKey(): Promise<{ apiKey: string; keyId: string }> {
  // create-key reads the same secret with the SDK: both clients' requests must pass the stand-in's signature check.
  secrets.reset(secretValueAnswer(SECRET_ID, { SecretString: PEPPER }));
  const created = await invoke('createKey', { appUid: 'app-b', name: 'built' });
  if (!created.ok) throw new Error(`create-key failed: ${created.errorType} ${created.errorMessage}`);
  return created.value as { apiKey: string; keyId: string };
}

test('the pepper from Secrets Manager, the key from DynamoDB: Allow, one signed read of each, and the lastUsedAt write', async () => {
  const { apiKey, keyId } = await createdKey();
  secrets.reset(secretValueAnswer(SECRET_ID, { SecretString: PEPPER }));
  const seenBefore = { ...proxy.seen };
  const allowed = await invoke('apiKeyAuthorizer', keyEvent(apiKey));
  expect(allowed).toMatchObject({ ok: true, value: { principalId: keyId, context: { appUid: 'app-b', keyId } } });
  expect(secrets.calls.map((call) => [call.target, call.signatureProblem, call.headers['x-amz-security-token']])).toEqual([['secretsmanager.GetSecretValue', undefined, 'session-token']]);
  expect((proxy.seen.GetItem ?? 0) - (seenBefore.GetItem ?? 0)).toBe(1);
  expect((proxy.seen.UpdateItem ?? 0) - (seenBefore.UpdateItem ?? 0)).toBe(1);
  expect(JSON.stringify(allowed.logs)).not.toContain(apiKey);
  expect(JSON.stringify(allowed.logs)).not.toContain(PEPPER);
});

test('Secrets Manager refuses: PepperUnavailable, logged with the cause, never an Allow', async () => {
  const { apiKey } = await createdKey();
  secrets.reset(() => errorAnswer(400, 'AccessDeniedException', 'not authorized to perform secretsmanager:GetSecretValue'));
  const failed = await invoke('apiKeyAuthorizer', keyEvent(apiKey));
  // The read during init failed; the request is refused from the negative cache, without another read.
  expect(failed).toMatchObject({ ok: false, errorType: 'PepperUnavailable', errorMessage: expect.stringMatching(/^could not read the pepper/) });
  expect(failed.logs).toContainEqual(expect.objectContaining({ level: 'ERROR', message: expect.stringMatching(/^pepper not read during init/) }));
  expect(JSON.stringify(failed.logs)).toMatch(/AccessDeniedException/);
  // A client error is not retried, as with the SDK.
  expect(secrets.calls).toHaveLength(1);
});

test('DynamoDB throttles every attempt: StoreUnavailable naming the throttling error (API Gateway answers 500), after the configured attempts', async () => {
  const { apiKey } = await createdKey();
  secrets.reset(secretValueAnswer(SECRET_ID, { SecretString: PEPPER }));
  proxy.mode = { kind: 'throttle', error: 'ProvisionedThroughputExceededException', operations: ['GetItem'] };
  const faultedBefore = proxy.faulted.GetItem ?? 0;
  const failed = await invoke('apiKeyAuthorizer', keyEvent(apiKey));
  expect(failed).toMatchObject({ ok: false, errorType: 'StoreUnavailable', errorMessage: expect.stringContaining('DynamoDB ProvisionedThroughputExceededException') });
  expect((proxy.faulted.GetItem ?? 0) - faultedBefore).toBe(2);
  expect(failed.logs).toContainEqual(
    expect.objectContaining({ level: 'ERROR', message: 'api key verification failed; refusing', errorType: 'StoreUnavailable', retryable: true, operatorActionNeeded: false }),
  );
});

test('DynamoDB unreachable: StoreUnavailable with the connection error as its cause, for both authorizers', async () => {
  secrets.reset(secretValueAnswer(SECRET_ID, { SecretString: PEPPER }));
  const down = { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:1' };
  const key = await invoke('apiKeyAuthorizer', keyEvent((await createdKey()).apiKey), down);
  expect(key).toMatchObject({ ok: false, errorType: 'StoreUnavailable', errorMessage: expect.stringMatching(/^api key lookup failed/) });
  expect(JSON.stringify(key.logs)).toMatch(/ECONNREFUSED/);
  const sessionEvent = (token: string) => sessionTokenEvent(token, 'app-b');
  const session = await invoke('sessionAuthorizer', sessionEvent(credentialFormat('kgs').generate()), down);
  expect(session).toMatchObject({ ok: false, errorType: 'StoreUnavailable', errorMessage: expect.stringMatching(/^session lookup failed/) });
  expect(session.logs).toContainEqual(expect.objectContaining({ level: 'ERROR', message: 'session token verification failed; refusing', errorType: 'StoreUnavailable' }));
  expect(JSON.stringify(session.logs)).toMatch(/ECONNREFUSED/);
  // A malformed token is refused before any call: 401 even with DynamoDB down.
  expect(await invoke('sessionAuthorizer', sessionEvent('kgs_' + 'A'.repeat(43)), down)).toMatchObject({ ok: false, errorType: 'Error', errorMessage: 'Unauthorized' });
});
