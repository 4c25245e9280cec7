import { bearerToken, presentedApiKey, singleHeader } from '../../functions/lambda/headers';
import { allowedResources, allowPolicy, appScopedResources, HTTP_VERBS } from '../../functions/lambda/policy';
import { evaluatePolicy } from '../../lib/local/policy-evaluation';
import { AppScope, DEFAULT_AUTH_SETTINGS } from '../../lib/shared/auth-settings';

const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/api/v1/appuid/app-a/whoami';

describe('app-scoped policy', () => {
  const own = (appUid: string) => HTTP_VERBS.map((verb) => `arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/${verb}/api/v1/appuid/${appUid}/*`);

  test('allows every verb and path of the key’s own app, one resource per verb, on the same API and stage', () => {
    expect(appScopedResources(METHOD_ARN, 'app-a')).toEqual(own('app-a'));
  });

  test('no resource has a wildcard between the stage and the app prefix', () => {
    for (const resource of appScopedResources(METHOD_ARN, 'app-a')) {
      expect(resource).toMatch(/^arn:aws:execute-api:eu-west-1:123456789012:abc123\/prod\/[A-Z]+\/api\/v1\/appuid\/app-a\/\*$/);
    }
  });

  test('is built from the key’s app, not from the requested path', () => {
    expect(appScopedResources(METHOD_ARN, 'app-b')).toEqual(own('app-b'));
  });

  test('an Allow result carries principal and context', () => {
    const result = allowPolicy(DEFAULT_AUTH_SETTINGS, 'key_1', METHOD_ARN, 'app-a', { appUid: 'app-a', keyId: 'key_1', role: 'app-owner' });
    expect(result.principalId).toBe('key_1');
    expect(result.policyDocument.Statement).toEqual([
      { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: own('app-a') },
    ]);
    expect(result.context).toEqual({ appUid: 'app-a', keyId: 'key_1', role: 'app-owner' });
  });

  test.each([['*'], ['a/b'], ['a*'], [''], ['x'.repeat(129)]])('refuses to widen the grant for appUid %p', (appUid) => {
    expect(() => appScopedResources(METHOD_ARN, appUid)).toThrow('refusing to build a policy for an invalid appUid');
  });

  test('refuses an appUid that is not a string', () => {
    expect(() => appScopedResources(METHOD_ARN, undefined as unknown as string)).toThrow('refusing to build a policy for an invalid appUid');
  });

  test('refuses a method ARN it cannot scope', () => {
    expect(() => appScopedResources('not-an-arn', 'app-a')).toThrow('methodArn is not an execute-api method ARN');
  });

  test('a custom base path: the app is filled in where {appUid} stands, literal segments around it', () => {
    const scope = { appScope: AppScope.PATH, basePath: '/v2/tenants/{appUid}/api' };
    expect(allowedResources(scope, METHOD_ARN, 'app-a')).toEqual(HTTP_VERBS.map((verb) => `arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/${verb}/v2/tenants/app-a/api/*`));
    const policy = allowPolicy(scope, 'key_1', METHOD_ARN, 'app-a', {}).policyDocument;
    expect(evaluatePolicy(policy, 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/v2/tenants/app-a/api/orders')).toBe('allow');
    expect(evaluatePolicy(policy, 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/v2/tenants/app-b/api/orders')).toBe('implicitDeny');
    expect(evaluatePolicy(policy, 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/v2/tenants/app-a/other')).toBe('implicitDeny');
  });
});

describe('context-scoped policy', () => {
  const scope = { appScope: AppScope.CONTEXT, basePath: '/keygate' };
  const API = 'arn:aws:execute-api:eu-west-1:123456789012:abc123';

  test('one resource: every method and path of the request’s own API and stage', () => {
    expect(allowedResources(scope, `${API}/prod/GET/orders/42`, 'app-a')).toEqual([`${API}/prod/*/*`]);
  });

  test('allows any method of that API and stage, never another API, stage, region or account', () => {
    const policy = allowPolicy(scope, 'key_1', `${API}/prod/GET/orders/42`, 'app-a', {}).policyDocument;
    for (const allowed of [`${API}/prod/GET/orders/42`, `${API}/prod/POST/anything/else`, `${API}/prod/DELETE/`, `${API}/prod/GET/api/v1/appuid/app-b/whoami`]) {
      expect([allowed, evaluatePolicy(policy, allowed)]).toEqual([allowed, 'allow']);
    }
    for (const denied of [
      'arn:aws:execute-api:eu-west-1:123456789012:abc1234/prod/GET/orders/42',
      'arn:aws:execute-api:eu-west-1:123456789012:xyz789/prod/GET/orders/42',
      'arn:aws:execute-api:eu-west-1:123456789012:abc12/prod/GET/orders/42',
      `${API}/prod2/GET/orders/42`,
      `${API}/pro/GET/orders/42`,
      `${API}/staging/GET/orders/42`,
      'arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/orders/42',
      'arn:aws:execute-api:eu-west-1:210987654321:abc123/prod/GET/orders/42',
    ]) {
      expect([denied, evaluatePolicy(policy, denied)]).toEqual([denied, 'implicitDeny']);
    }
  });

  test.each([
    ['a wildcard API id', 'arn:aws:execute-api:eu-west-1:123456789012:*/prod/GET/x'],
    ['a wildcard stage', `${API}/*/GET/x`],
    ['a ? in the stage', `${API}/pr?d/GET/x`],
    ['a wildcard account', 'arn:aws:execute-api:eu-west-1:*:abc123/prod/GET/x'],
    ['no stage', API],
  ])('refuses a method ARN with %s rather than widen the grant', (_, arn) => {
    expect(() => allowedResources(scope, arn, 'app-a')).toThrow('methodArn is not an execute-api method ARN');
  });

  test('still refuses an appUid the backend could not trust', () => {
    expect(() => allowedResources(scope, `${API}/prod/GET/x`, 'a*')).toThrow('refusing to build a policy for an invalid appUid');
  });
});

describe('presented API key', () => {
  const event = (headers: Record<string, string>) => ({ headers });
  const key = 'kg_key';

  test('default: x-api-key only; Authorization: Bearer is not a key', () => {
    expect(presentedApiKey(event({ 'X-Api-Key': key }), DEFAULT_AUTH_SETTINGS)).toBe(key);
    expect(presentedApiKey(event({ authorization: `Bearer ${key}` }), DEFAULT_AUTH_SETTINGS)).toBeUndefined();
  });

  test('a custom header replaces x-api-key', () => {
    const settings = { apiKeyHeader: 'x-customer-key', acceptBearerKeys: false };
    expect(presentedApiKey(event({ 'X-Customer-Key': key }), settings)).toBe(key);
    expect(presentedApiKey(event({ 'x-api-key': key }), settings)).toBeUndefined();
  });

  test('acceptBearerKeys: either header; both with the same key is that key; two different values are none', () => {
    const settings = { apiKeyHeader: 'x-api-key', acceptBearerKeys: true };
    expect(presentedApiKey(event({ Authorization: `Bearer ${key}` }), settings)).toBe(key);
    expect(presentedApiKey(event({ 'x-api-key': key }), settings)).toBe(key);
    expect(presentedApiKey(event({ 'x-api-key': key, authorization: `Bearer ${key}` }), settings)).toBe(key);
    expect(presentedApiKey(event({ 'x-api-key': key, authorization: 'Bearer kgs_token' }), settings)).toBeUndefined();
    // Another scheme in Authorization is not a key.
    expect(presentedApiKey(event({ 'x-api-key': key, authorization: 'Basic dXNlcjpwdw==' }), settings)).toBe(key);
    expect(presentedApiKey(event({ 'x-api-key': '', authorization: `Bearer ${key}` }), settings)).toBe(key);
  });

  test("apiKeyHeader 'authorization': Bearer only", () => {
    const settings = { apiKeyHeader: 'authorization', acceptBearerKeys: false };
    expect(presentedApiKey(event({ Authorization: `Bearer ${key}` }), settings)).toBe(key);
    expect(presentedApiKey(event({ Authorization: key }), settings)).toBeUndefined();
    expect(presentedApiKey(event({ 'x-api-key': key }), settings)).toBeUndefined();
  });
});

describe('header lookup', () => {
  test('is case-insensitive', () => {
    expect(singleHeader({ headers: { 'X-API-KEY': 'v' } }, 'x-api-key')).toBe('v');
    expect(singleHeader({ headers: { 'x-api-key': 'v' } }, 'x-api-key')).toBe('v');
  });

  test('a header repeated with one value is that value; with different values it is absent', () => {
    expect(singleHeader({ headers: { 'x-api-key': 'v' }, multiValueHeaders: { 'x-api-key': ['v', 'v'] } }, 'x-api-key')).toBe('v');
    expect(singleHeader({ headers: { 'x-api-key': 'w' }, multiValueHeaders: { 'x-api-key': ['v', 'w'] } }, 'x-api-key')).toBeUndefined();
    expect(singleHeader({ headers: { 'X-Api-Key': 'v', 'x-api-key': 'w' } }, 'x-api-key')).toBeUndefined();
  });

  test('missing maps or header give undefined', () => {
    expect(singleHeader({ headers: null, multiValueHeaders: null }, 'x-api-key')).toBeUndefined();
    expect(singleHeader({ headers: { other: 'v' } }, 'x-api-key')).toBeUndefined();
  });

  test.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['Bearer', undefined],
    ['Bearer  abc', undefined],
    ['Bearer abc def', undefined],
    ['Basic abc', undefined],
    ['abc', undefined],
  ])('bearer token of %p is %p', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});
