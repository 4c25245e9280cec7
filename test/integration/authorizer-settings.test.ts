import * as path from 'node:path';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { handler as createKeyHandler } from '../../functions/create-key/index';
import { handler as sdkUsersAuth } from '../../functions/sdkusers-auth/index';
import { HTTP_VERBS } from '../../functions/lambda/policy';
import { evaluatePolicy } from '../../lib/local/policy-evaluation';
import { apiKeyHeaderEnvironment, AppScope, DEFAULT_AUTH_SETTINGS, scopeEnvironment, type AuthSettings } from '../../lib/shared/auth-settings';
import { ENV } from '../../lib/shared/environment';
import { createTestTables, testDynamoDbClient } from '../support/dynamodb';
import { authorizerEvent, gatewayOutcome, proxyEvent } from '../support/events';
import { loadWithEnv } from '../support/load-with-env';

/**
 * Both authorizers under each scope and header setting, on DynamoDB Local,
 * configured as the construct configures them: through the environment
 * variables of lib/shared/auth-settings.ts.
 */
type Authorizer = (event: APIGatewayRequestAuthorizerEvent) => Promise<any>;
const functionPath = (name: string) => path.join(__dirname, '../../functions', name, 'index.ts');
function authorizers(settings: Partial<AuthSettings>) {
  const all = { ...DEFAULT_AUTH_SETTINGS, ...settings };
  const env = { ...scopeEnvironment(all), ...apiKeyHeaderEnvironment(all) };
  return {
    apiKey: loadWithEnv<{ handler: Authorizer }>(functionPath('api-key-authorizer'), env).handler,
    session: loadWithEnv<{ handler: Authorizer }>(functionPath('session-authorizer'), env).handler,
  };
}

const API = 'arn:aws:execute-api:eu-west-1:123456789012:api1234567';
const arn = (stage: string, method: string, route: string, api = API) => `${api}/${stage}/${method}/${route}`;

const client = testDynamoDbClient();
let keyA: { apiKey: string; keyId: string };
let authToken: string;

beforeAll(async () => {
  await createTestTables(client);
  keyA = await createKeyHandler({ appUid: 'app-a', name: 'settings' });
  // A session for app-a, as sdkusers/auth issues it behind the API-key authorizer.
  const signIn = await sdkUsersAuth(proxyEvent({ body: JSON.stringify({ externalId: 'u1' }), context: { appUid: 'app-a', keyId: keyA.keyId } }));
  authToken = JSON.parse(signIn.body).authToken;
});
afterAll(() => client.destroy());

describe('context scope', () => {
  const { apiKey, session } = authorizers({ appScope: AppScope.CONTEXT, basePath: '/keygate' });

  test('a key is allowed on a route without the app in it; the backend gets appUid from the context', async () => {
    const outcome = await gatewayOutcome(apiKey, authorizerEvent({ 'x-api-key': keyA.apiKey }, arn('prod', 'GET', 'orders/42')));
    expect(outcome).toEqual({ status: 200, context: { appUid: 'app-a', keyId: keyA.keyId, role: 'app-owner' } });
  });

  test('the Allow never covers another API or stage, whichever method it was issued for', async () => {
    for (const [method, route] of [['GET', 'orders/42'], ['POST', 'anything'], ['DELETE', 'api/v1/appuid/app-b/x']]) {
      const result = await apiKey(authorizerEvent({ 'x-api-key': keyA.apiKey }, arn('prod', method!, route!)));
      expect(result.policyDocument.Statement).toEqual([{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: [`${API}/prod/*/*`] }]);
      for (const verb of HTTP_VERBS) {
        expect(evaluatePolicy(result.policyDocument, arn('prod', verb, 'some/path'))).toBe('allow');
        expect(evaluatePolicy(result.policyDocument, arn('staging', verb, 'some/path'))).toBe('implicitDeny');
        expect(evaluatePolicy(result.policyDocument, arn('prod', verb, 'some/path', 'arn:aws:execute-api:eu-west-1:123456789012:other12345'))).toBe('implicitDeny');
        expect(evaluatePolicy(result.policyDocument, arn('prod', verb, 'some/path', 'arn:aws:execute-api:eu-west-1:999999999999:api1234567'))).toBe('implicitDeny');
      }
    }
  });

  test('the session authorizer is scoped the same way', async () => {
    const result = await session(authorizerEvent({ authorization: `Bearer ${authToken}` }, arn('prod', 'GET', 'profile')));
    expect(result.policyDocument.Statement[0].Resource).toEqual([`${API}/prod/*/*`]);
    expect(result.context).toMatchObject({ appUid: 'app-a' });
  });

  test('refusals stay refusals: an unknown key is 401', async () => {
    expect(await gatewayOutcome(apiKey, authorizerEvent({ 'x-api-key': 'kg_nope' }, arn('prod', 'GET', 'orders')))).toEqual({ status: 401 });
  });
});

describe('path scope with a custom base path', () => {
  const { apiKey } = authorizers({ basePath: '/v2/tenants/{appUid}' });

  test('allowed below its own app’s base path, 403 below another app’s or outside it', async () => {
    const event = (route: string) => authorizerEvent({ 'x-api-key': keyA.apiKey }, arn('prod', 'GET', route));
    expect(await gatewayOutcome(apiKey, event('v2/tenants/app-a/orders'))).toMatchObject({ status: 200 });
    expect(await gatewayOutcome(apiKey, event('v2/tenants/app-b/orders'))).toEqual({ status: 403 });
    expect(await gatewayOutcome(apiKey, event('api/v1/appuid/app-a/whoami'))).toEqual({ status: 403 });
    expect(await gatewayOutcome(apiKey, event('orders'))).toEqual({ status: 403 });
  });
});

describe('API-key header', () => {
  const methodArn = arn('prod', 'GET', 'api/v1/appuid/app-a/whoami');

  test('a custom header works, and x-api-key is then refused', async () => {
    const { apiKey } = authorizers({ apiKeyHeader: 'x-customer-key' });
    expect(await gatewayOutcome(apiKey, authorizerEvent({ 'X-Customer-Key': keyA.apiKey }, methodArn))).toMatchObject({ status: 200 });
    expect(await gatewayOutcome(apiKey, authorizerEvent({ 'x-api-key': keyA.apiKey }, methodArn))).toEqual({ status: 401 });
  });

  test('acceptBearerKeys: Authorization: Bearer <key> too; a session token there is no key, and a key is no session token', async () => {
    const { apiKey, session } = authorizers({ acceptBearerKeys: true });
    expect(await gatewayOutcome(apiKey, authorizerEvent({ authorization: `Bearer ${keyA.apiKey}` }, methodArn))).toMatchObject({ status: 200, context: { keyId: keyA.keyId } });
    expect(await gatewayOutcome(apiKey, authorizerEvent({ 'x-api-key': keyA.apiKey }, methodArn))).toMatchObject({ status: 200 });
    expect(await gatewayOutcome(apiKey, authorizerEvent({ authorization: `Bearer ${authToken}` }, methodArn))).toEqual({ status: 401 });
    expect(await gatewayOutcome(session, authorizerEvent({ authorization: `Bearer ${keyA.apiKey}` }, methodArn))).toEqual({ status: 401 });
    expect(await gatewayOutcome(session, authorizerEvent({ authorization: `Bearer ${authToken}` }, arn('prod', 'GET', 'api/v1/appuid/app-a/sdkusers/me')))).toMatchObject({ status: 200 });
    // Two credentials that disagree are none.
    expect(await gatewayOutcome(apiKey, authorizerEvent({ 'x-api-key': keyA.apiKey, authorization: `Bearer ${authToken}` }, methodArn))).toEqual({ status: 401 });
  });

  test("apiKeyHeader 'authorization': Bearer only", async () => {
    const { apiKey } = authorizers({ apiKeyHeader: 'authorization' });
    expect(await gatewayOutcome(apiKey, authorizerEvent({ Authorization: `Bearer ${keyA.apiKey}` }, methodArn))).toMatchObject({ status: 200 });
    expect(await gatewayOutcome(apiKey, authorizerEvent({ 'x-api-key': keyA.apiKey }, methodArn))).toEqual({ status: 401 });
  });
});

test('an unusable setting stops the function at init with a ConfigurationError naming the variable', () => {
  expect(() => loadWithEnv(functionPath('api-key-authorizer'), { [ENV.appScope]: 'tenant' })).toThrow(
    expect.objectContaining({ name: 'ConfigurationError', message: "KEYGATE_APP_SCOPE must be one of path, context, got 'tenant'" }),
  );
  expect(() => loadWithEnv(functionPath('api-key-authorizer'), { [ENV.legacyKeyPattern]: '[a-z]+' })).toThrow(
    expect.objectContaining({ name: 'ConfigurationError', message: 'KEYGATE_LEGACY_KEY_MIN_LENGTH must be set together with KEYGATE_LEGACY_KEY_PATTERN' }),
  );
});
