import { bearerToken, singleHeader } from '../../functions/lambda/headers';
import { allowAppPolicy, appScopedResources, HTTP_VERBS } from '../../functions/lambda/policy';

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
    const result = allowAppPolicy('key_1', METHOD_ARN, 'app-a', { appUid: 'app-a', keyId: 'key_1', role: 'app-owner' });
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
