import { evaluatePolicy, iamWildcardMatch, InvalidPolicy } from '../../lib/local/policy-evaluation';
import { appScopedResources } from '../../functions/lambda/policy';

const ARN = 'arn:aws:execute-api:us-east-1:123456789012:local/local/GET/api/v1/appuid/app1/whoami';

const policy = (...statements: object[]) => ({ Version: '2012-10-17', Statement: statements });
const allow = (Resource: string | string[], Action: string | string[] = 'execute-api:Invoke') => ({ Effect: 'Allow', Action, Resource });
const deny = (Resource: string | string[]) => ({ Effect: 'Deny', Action: 'execute-api:Invoke', Resource });

describe('iamWildcardMatch', () => {
  test.each([
    ['*', 'anything/at:all', true],
    ['a*c', 'a/b/c', true],
    ['a?c', 'abc', true],
    ['a?c', 'a/bc', false],
    ['a.c', 'abc', false],
    ['arn:*:app1/*', 'arn:x:app1/y', true],
    ['arn:*:app1/*', 'arn:x:app10/y', false],
    ['abc', 'ABC', false],
  ])('%s vs %s → %s', (pattern, value, expected) => {
    expect(iamWildcardMatch(pattern, value)).toBe(expected);
  });
});

describe('evaluatePolicy', () => {
  test("the keygate authorizer's app-scoped Allow covers every route of that app and no other app", () => {
    const own = policy(allow(appScopedResources(ARN, 'app1')));
    expect(evaluatePolicy(own, ARN)).toBe('allow');
    expect(evaluatePolicy(own, ARN.replace('GET/', 'POST/').replace('whoami', 'sdkusers/auth'))).toBe('allow');
    expect(evaluatePolicy(own, ARN.replace('app1', 'app2'))).toBe('implicitDeny');
    // A prefix of another app's id is not that app.
    expect(evaluatePolicy(own, ARN.replace('app1', 'app10'))).toBe('implicitDeny');
    // The app prefix must follow the verb directly: a path that merely contains it is another route.
    expect(evaluatePolicy(own, ARN.replace('GET/api/', 'GET/other/api/'))).toBe('implicitDeny');
  });

  test('Deny wins over Allow', () => {
    expect(evaluatePolicy(policy(allow('*'), deny(ARN)), ARN)).toBe('explicitDeny');
    expect(evaluatePolicy(policy(deny(ARN.replace('app1', 'app2')), allow('*')), ARN)).toBe('allow');
  });

  test('actions: wildcards match, other actions do not', () => {
    expect(evaluatePolicy(policy(allow('*', 'execute-api:*')), ARN)).toBe('allow');
    expect(evaluatePolicy(policy(allow('*', '*')), ARN)).toBe('allow');
    expect(evaluatePolicy(policy(allow('*', 'EXECUTE-API:invoke')), ARN)).toBe('allow');
    expect(evaluatePolicy(policy(allow('*', 's3:GetObject')), ARN)).toBe('implicitDeny');
  });

  test('lists of resources and a single statement object', () => {
    expect(evaluatePolicy(policy(allow(['arn:other', ARN])), ARN)).toBe('allow');
    expect(evaluatePolicy({ Version: '2012-10-17', Statement: allow(ARN) }, ARN)).toBe('allow');
    expect(evaluatePolicy(policy(), ARN)).toBe('implicitDeny');
  });

  test.each([null, 'Allow', [], { Statement: [{ Effect: 'allow', Action: 'execute-api:Invoke', Resource: '*' }] }, { Statement: [{ Effect: 'Allow', Resource: '*' }] }, { Statement: [{ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: [] }] }])(
    'an invalid policy document is rejected: %j',
    (document) => {
      expect(() => evaluatePolicy(document, ARN)).toThrow(InvalidPolicy);
    },
  );
});
