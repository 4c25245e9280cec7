import { fromAttributeValue, marshallItem, toAttributeValue, unmarshallItem, type PlainItem } from '../../functions/aws-http/attribute-values';
import { credentialsFromEnvironment } from '../../functions/aws-http/credentials';
import { resolveEndpoint } from '../../functions/aws-http/endpoint';
import { serviceError } from '../../functions/aws-http/errors';
import { maxAttemptsFrom, retryKind } from '../../functions/aws-http/retry';
import { sigV4Problem } from '../support/aws-stand-in';

/**
 * The authorizers' AWS client reads its configuration as the SDK does in
 * Lambda; these are the pure parts (the requests themselves are tested on
 * real HTTP in test/integration/aws-http-*.test.ts and test/reliability/aws-http-faults.test.ts).
 */

const DYNAMODB = { signingName: 'dynamodb', envSuffix: 'DYNAMODB' };
const SECRETS_MANAGER = { signingName: 'secretsmanager', envSuffix: 'SECRETS_MANAGER' };

describe('endpoint, as the SDK resolves it', () => {
  test('the regional endpoint from AWS_REGION', () => {
    expect(resolveEndpoint(DYNAMODB, { AWS_REGION: 'eu-west-1' }).url.href).toBe('https://dynamodb.eu-west-1.amazonaws.com/');
    expect(resolveEndpoint(SECRETS_MANAGER, { AWS_REGION: 'us-east-1' }).url.href).toBe('https://secretsmanager.us-east-1.amazonaws.com/');
    expect(resolveEndpoint(DYNAMODB, { AWS_REGION: 'cn-north-1' }).url.href).toBe('https://dynamodb.cn-north-1.amazonaws.com.cn/');
  });

  test('the service variable first, then AWS_ENDPOINT_URL, unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS', () => {
    const env = { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000', AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' };
    expect(resolveEndpoint(DYNAMODB, env)).toEqual({ url: new URL('http://127.0.0.1:8000'), region: 'us-east-1' });
    expect(resolveEndpoint(SECRETS_MANAGER, env).url.href).toBe('http://127.0.0.1:4566/');
    expect(resolveEndpoint(SECRETS_MANAGER, { ...env, AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:9' }).url.href).toBe('http://127.0.0.1:9/');
    expect(resolveEndpoint(DYNAMODB, { ...env, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' }).url.href).toBe('https://dynamodb.us-east-1.amazonaws.com/');
  });

  test.each([
    [{}, /Region is missing: AWS_REGION is not set/],
    [{ AWS_REGION: 'us-east-1', AWS_USE_FIPS_ENDPOINT: 'true' }, /AWS_USE_FIPS_ENDPOINT=true is not supported.*AWS_ENDPOINT_URL_DYNAMODB/],
    [{ AWS_REGION: 'us-east-1', AWS_USE_DUALSTACK_ENDPOINT: 'true' }, /AWS_USE_DUALSTACK_ENDPOINT=true/],
    [{ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_DYNAMODB: 'not a url' }, /not a valid URL: 'not a url'/],
    [{ AWS_REGION: 'us-east-1/../x' }, /AWS_REGION is not a region name/],
  ])('refuses %j with a ConfigurationError naming the variable', (env, message) => {
    expect(() => resolveEndpoint(DYNAMODB, env)).toThrow(expect.objectContaining({ name: 'ConfigurationError', message: expect.stringMatching(message) }));
  });
});

describe('credentials, as the SDK reads them in Lambda (fromEnv)', () => {
  test('key, secret and the session token when set', () => {
    expect(credentialsFromEnvironment({ AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'secret', AWS_SESSION_TOKEN: 'token' })).toEqual({
      accessKeyId: 'AKID',
      secretAccessKey: 'secret',
      sessionToken: 'token',
    });
    expect(credentialsFromEnvironment({ AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'secret', AWS_SESSION_TOKEN: '' })).toEqual({ accessKeyId: 'AKID', secretAccessKey: 'secret' });
  });

  test('missing: the SDK error name, and no value in the message', () => {
    expect(() => credentialsFromEnvironment({ AWS_ACCESS_KEY_ID: 'AKID' })).toThrow(expect.objectContaining({ name: 'CredentialsProviderError' }));
    expect(() => credentialsFromEnvironment({ AWS_ACCESS_KEY_ID: 'AKID' })).not.toThrow(/AKID/);
  });

  test('AWS_MAX_ATTEMPTS as the SDK reads it', () => {
    expect(maxAttemptsFrom({}, 4)).toBe(4);
    expect(maxAttemptsFrom({ AWS_MAX_ATTEMPTS: '2' }, 4)).toBe(2);
    expect(() => maxAttemptsFrom({ AWS_MAX_ATTEMPTS: 'many' }, 4)).toThrow(/AWS_MAX_ATTEMPTS must be a number, got "many"/);
  });
});

describe('errors, shaped and classified as the SDK does', () => {
  const response = (statusCode: number, body: unknown, headers: Record<string, string> = {}) => ({ statusCode, headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

  test('name from __type, status and request id in $metadata, modeled fields kept', () => {
    const error = serviceError(
      response(400, { __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException', message: 'cancelled', CancellationReasons: [{ Code: 'ConditionalCheckFailed' }] }, { 'x-amzn-requestid': 'r-1' }),
    );
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'TransactionCanceledException', message: 'cancelled', $fault: 'client', $metadata: { httpStatusCode: 400, requestId: 'r-1' }, CancellationReasons: [{ Code: 'ConditionalCheckFailed' }] });
    expect(serviceError(response(400, { __type: 'com.amazon.coral.validate#ValidationException', Message: 'bad' }))).toMatchObject({ name: 'ValidationException', message: 'bad' });
    expect(serviceError(response(403, {}, { 'x-amzn-errortype': 'AccessDeniedException:http://internal.amazon.com/' }))).toMatchObject({ name: 'AccessDeniedException', $fault: 'client' });
    expect(serviceError(response(502, '<html>bad gateway</html>'))).toMatchObject({ name: '502', $fault: 'server', $metadata: { httpStatusCode: 502 } });
  });

  test.each([
    ['ProvisionedThroughputExceededException', 400, 'throttling'],
    ['ThrottlingException', 400, 'throttling'],
    ['RequestLimitExceeded', 400, 'throttling'],
    ['SomethingElse', 429, 'throttling'],
    ['InternalServerError', 500, 'transient'],
    ['ServiceUnavailable', 503, 'transient'],
    ['NotImplemented', 501, 'other'],
    ['ValidationException', 400, 'other'],
    ['ResourceNotFoundException', 400, 'other'],
    ['AccessDeniedException', 403, 'other'],
    ['ConditionalCheckFailedException', 400, 'other'],
  ])('%s (HTTP %i) is %s', (type, status, kind) => {
    expect(retryKind(serviceError(response(status, { __type: type })))).toBe(kind);
  });

  test('network failures and timeouts are transient, as in the SDK', () => {
    expect(retryKind(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe('transient');
    expect(retryKind(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe('transient');
    expect(retryKind(Object.assign(new Error('Connection timed out after 3000 ms'), { name: 'TimeoutError' }))).toBe('transient');
    expect(retryKind(new Error('wrapped', { cause: Object.assign(new Error('x'), { code: 'EPIPE' }) }))).toBe('transient');
    expect(retryKind(new Error('plain'))).toBe('other');
    expect(retryKind('not an error')).toBe('other');
  });
});

describe('attribute values', () => {
  test('round trip of every type keygate items hold', () => {
    const plain: PlainItem = { s: 'text', n: 42, f: 1.5, neg: -3, yes: true, no: false, nothing: null, list: ['a', 1, false], map: { inner: 'x', depth: { n: 2 } } };
    const item = marshallItem(plain);
    expect(item).toEqual({
      s: { S: 'text' },
      n: { N: '42' },
      f: { N: '1.5' },
      neg: { N: '-3' },
      yes: { BOOL: true },
      no: { BOOL: false },
      nothing: { NULL: true },
      list: { L: [{ S: 'a' }, { N: '1' }, { BOOL: false }] },
      map: { M: { inner: { S: 'x' }, depth: { M: { n: { N: '2' } } } } },
    });
    expect(unmarshallItem(item)).toEqual(plain);
  });

  test('types no item holds are left out, never guessed at; numbers must be finite', () => {
    expect(unmarshallItem({ keep: { S: 'x' }, set: { SS: ['a'] }, bin: { B: 'AAE=' } })).toEqual({ keep: 'x' });
    expect(fromAttributeValue({ NS: ['1'] })).toBeUndefined();
    expect(() => toAttributeValue(Number.NaN)).toThrow('DynamoDB cannot store the number NaN');
  });
});

test("the stand-ins' SigV4 check computes AWS's documented example signature", () => {
  // AWS documentation's worked example (IAM ListUsers, 2015-08-30, secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY).
  const request = {
    method: 'GET',
    url: '/?Action=ListUsers&Version=2010-05-08',
    headers: {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      host: 'iam.amazonaws.com',
      'x-amz-date': '20150830T123600Z',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
    },
    body: '',
  };
  expect(sigV4Problem(request, 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY')).toBeUndefined();
  expect(sigV4Problem(request, 'another secret')).toBe('the signature does not match the request');
  expect(sigV4Problem({ ...request, url: '/?Action=ListUsers&Version=2010-05-09' }, 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY')).toBe('the signature does not match the request');
  expect(sigV4Problem(request, 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', { service: 'dynamodb' })).toBe('signed for service iam, not dynamodb');
});
