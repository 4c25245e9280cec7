import { bearerToken, singleHeader } from '../../functions/core/headers';
import { allowAppPolicy, appScopedResource } from '../../functions/core/policy';

const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/api/v1/appuid/app-a/whoami';

describe('app-scoped policy', () => {
  test('allows every method and path of the key’s own app, on the same API and stage', () => {
    expect(appScopedResource(METHOD_ARN, 'app-a')).toBe('arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/api/v1/appuid/app-a/*');
  });

  test('is built from the key’s app, not from the requested path', () => {
    expect(appScopedResource(METHOD_ARN, 'app-b')).toBe('arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/api/v1/appuid/app-b/*');
  });

  test('an Allow result carries principal and context', () => {
    const result = allowAppPolicy('key_1', METHOD_ARN, 'app-a', { appUid: 'app-a', keyId: 'key_1', role: 'app-owner' });
    expect(result.principalId).toBe('key_1');
    expect(result.policyDocument.Statement).toEqual([
      { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/api/v1/appuid/app-a/*' },
    ]);
    expect(result.context).toEqual({ appUid: 'app-a', keyId: 'key_1', role: 'app-owner' });
  });

  test.each([['*'], ['a/b'], ['a*'], [''], ['x'.repeat(129)]])('refuses to widen the grant for appUid %p', (appUid) => {
    expect(() => appScopedResource(METHOD_ARN, appUid)).toThrow('refusing to build a policy for an invalid appUid');
  });

  test('refuses an appUid that is not a string', () => {
    expect(() => appScopedResource(METHOD_ARN, undefined as unknown as string)).toThrow('refusing to build a policy for an invalid appUid');
  });

  test('refuses a method ARN it cannot scope', () => {
    expect(() => appScopedResource('not-an-arn', 'app-a')).toThrow('methodArn is not an execute-api method ARN');
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
