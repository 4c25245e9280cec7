import { DynamoDbHttpClient } from '../../functions/aws-http/dynamodb';
import type { AwsJsonClientOptions } from '../../functions/aws-http/json-client';
import { SecretsManagerHttpClient } from '../../functions/aws-http/secrets-manager';
import { AwsJsonStandIn, errorAnswer, secretValueAnswer, unconnectablePort, type StandInAnswer } from '../support/aws-stand-in';

/**
 * The authorizers' AWS client under faults, on real HTTP: a stand-in on
 * 127.0.0.1 checks every request's SigV4 signature and answers throttling,
 * server errors, client errors, dropped connections or nothing at all. Each
 * figure the SDK's standard mode defines (which errors are retried, how
 * many attempts, the timeouts, the error's name and $metadata) is checked.
 */

const standIn = new AwsJsonStandIn('local', { region: 'us-east-1' });
let endpoint: string;

beforeAll(async () => {
  endpoint = await standIn.start();
});
afterAll(() => standIn.stop());

const env = (overrides: Record<string, string> = {}) => ({
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_ENDPOINT_URL_DYNAMODB: endpoint,
  AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
  ...overrides,
});
const dynamodb = (options: AwsJsonClientOptions = {}, overrides: Record<string, string> = {}) => new DynamoDbHttpClient({ env: env(overrides), ...options });
const ITEM = { pk: { S: 'hash#abc' }, sk: { S: 'key' }, keyId: { S: 'key_1' } };
const getItem = (client: DynamoDbHttpClient) => client.getItem({ TableName: 'keys', Key: { pk: { S: 'hash#abc' }, sk: { S: 'key' } }, ConsistentRead: true });
/** Answers `fault` to the first `times` calls, then the item. */
const faultThenItem = (fault: StandInAnswer, times: number) => (_call: unknown, index: number): StandInAnswer => (index < times ? fault : { status: 200, body: { Item: ITEM } });
const elapsed = async <T>(run: () => Promise<T>) => {
  const t0 = Date.now();
  const outcome = await run().then(
    (value) => ({ value, error: undefined }),
    (error: unknown) => ({ value: undefined, error: error as Error & { code?: string; $metadata?: Record<string, unknown> } }),
  );
  return { ...outcome, ms: Date.now() - t0 };
};

test('requests are signed as AWS checks them (service, region, session token), with the JSON protocol headers', async () => {
  standIn.reset(faultThenItem('reset', 0));
  expect(await getItem(dynamodb({}, { AWS_SESSION_TOKEN: 'session-token' }))).toEqual({ Item: ITEM });
  const [call] = standIn.calls;
  expect(call).toMatchObject({ operation: 'GetItem', target: 'DynamoDB_20120810.GetItem', signatureProblem: undefined, input: { TableName: 'keys', ConsistentRead: true } });
  expect(call!.headers).toMatchObject({ 'content-type': 'application/x-amz-json-1.0', 'x-amz-security-token': 'session-token' });
  expect(call!.headers.authorization).toMatch(/Credential=local\/\d{8}\/us-east-1\/dynamodb\/aws4_request, SignedHeaders=[^,]*x-amz-security-token/);

  // A wrong secret is refused by the stand-in as AWS refuses it: not retried, the SDK's error name.
  standIn.reset(faultThenItem('reset', 0));
  const refused = await elapsed(() => getItem(dynamodb({}, { AWS_SECRET_ACCESS_KEY: 'not-the-secret' })));
  expect(refused.error).toMatchObject({ name: 'InvalidSignatureException', $metadata: { httpStatusCode: 403, attempts: 1 } });
  expect(standIn.calls).toHaveLength(1);
});

describe('throttling and server errors are retried with jittered exponential backoff', () => {
  test.each(['ProvisionedThroughputExceededException', 'ThrottlingException'])('one %s is absorbed: the caller gets the item', async (type) => {
    standIn.reset(faultThenItem(errorAnswer(400, type), 1));
    const result = await elapsed(() => getItem(dynamodb()));
    expect(result.value).toEqual({ Item: ITEM });
    expect(standIn.calls).toHaveLength(2);
    // Throttling backs off on a 1 s base: random × 1000 ms before the second attempt.
    expect(result.ms).toBeLessThan(1500);
  });

  test('throttled on every attempt: the throttling error, after maxAttempts, with the attempts and delay in $metadata', async () => {
    standIn.reset(() => errorAnswer(400, 'ProvisionedThroughputExceededException'));
    const result = await elapsed(() => getItem(dynamodb({ maxAttempts: 3 })));
    expect(result.error).toMatchObject({ name: 'ProvisionedThroughputExceededException', $fault: 'client', $metadata: { httpStatusCode: 400, attempts: 3 } });
    expect(standIn.calls).toHaveLength(3);
    const delay = result.error!.$metadata!.totalRetryDelay as number;
    expect(delay).toBeGreaterThanOrEqual(0);
    expect(delay).toBeLessThanOrEqual(1000 + 2000);
    expect(result.ms).toBeGreaterThanOrEqual(delay);
  });

  test('the default is the SDK DynamoDB client\'s: 4 attempts; AWS_MAX_ATTEMPTS changes it as it changes the SDK\'s', async () => {
    standIn.reset(() => errorAnswer(500, 'InternalServerError'));
    await expect(getItem(dynamodb())).rejects.toMatchObject({ name: 'InternalServerError', $fault: 'server', $metadata: { httpStatusCode: 500, attempts: 4 } });
    expect(standIn.calls).toHaveLength(4);
    standIn.reset(() => errorAnswer(503, 'ServiceUnavailable'));
    await expect(getItem(dynamodb({}, { AWS_MAX_ATTEMPTS: '2' }))).rejects.toMatchObject({ name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503, attempts: 2 } });
    expect(standIn.calls).toHaveLength(2);
  });

  test.each([
    [400, 'ValidationException'],
    [400, 'ResourceNotFoundException'],
    [403, 'AccessDeniedException'],
    [501, 'NotImplemented'],
  ])('HTTP %i %s is not retried (as in the SDK) and keeps its name', async (status, type) => {
    standIn.reset(() => errorAnswer(status, type, `injected ${type}`));
    await expect(getItem(dynamodb())).rejects.toMatchObject({ name: type, message: `injected ${type}`, $metadata: { httpStatusCode: status, attempts: 1 } });
    expect(standIn.calls).toHaveLength(1);
  });

  test('a run of failures drains the retry quota: later calls fail on their first attempt, as in the SDK', async () => {
    const client = dynamodb({ maxAttempts: 2 });
    standIn.reset(() => errorAnswer(503, 'ServiceUnavailable'));
    const attempts: number[] = [];
    for (let i = 0; i < 40; i++) {
      const { error } = await elapsed(() => getItem(client));
      attempts.push(error!.$metadata!.attempts as number);
    }
    // 500 tokens, 14 a retry: 35 calls are retried, then none.
    expect(attempts.slice(0, 35)).toEqual(Array(35).fill(2));
    expect(attempts.slice(36)).toEqual(Array(4).fill(1));
    expect(standIn.calls).toHaveLength(35 * 2 + 5);
  });
});

describe('network faults', () => {
  test('a dropped connection (ECONNRESET) is retried; dropped every time, the Node error itself is thrown', async () => {
    standIn.reset(faultThenItem('reset', 1));
    expect(await getItem(dynamodb())).toEqual({ Item: ITEM });
    expect(standIn.calls).toHaveLength(2);

    standIn.reset(() => 'reset');
    const dropped = await elapsed(() => getItem(dynamodb({ maxAttempts: 2 })));
    expect(dropped.error).toMatchObject({ code: 'ECONNRESET', $metadata: { attempts: 2 } });
    // An Error of this realm, as keygate's classification (instanceof Error) needs, also under a test runner.
    expect(dropped.error).toBeInstanceOf(Error);
    expect(standIn.calls).toHaveLength(2);
  });

  test('no answer: TimeoutError after the request timeout, on every attempt', async () => {
    standIn.reset(() => 'hang');
    const result = await elapsed(() => getItem(dynamodb({ requestTimeoutMs: 300, maxAttempts: 2 })));
    expect(result.error).toMatchObject({ name: 'TimeoutError', message: 'Connection timed out after 300 ms', $metadata: { attempts: 2 } });
    expect(standIn.calls).toHaveLength(2);
    expect(result.ms).toBeGreaterThanOrEqual(600);
    expect(result.ms).toBeLessThan(3000);
  });

  test('a slow answer within the request timeout is waited for, not cut off or sent twice', async () => {
    standIn.reset(() => ({ status: 200, body: { Item: ITEM }, delayMs: 400 }));
    const result = await elapsed(() => getItem(dynamodb({ requestTimeoutMs: 1000 })));
    expect(result.value).toEqual({ Item: ITEM });
    expect(result.ms).toBeGreaterThanOrEqual(400);
    expect(standIn.calls).toHaveLength(1);
  });

  test('nobody listening (ECONNREFUSED): retried, then the Node error, fast', async () => {
    const result = await elapsed(() => getItem(dynamodb({ maxAttempts: 2 }, { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:1' })));
    expect(result.error).toMatchObject({ code: 'ECONNREFUSED', $metadata: { attempts: 2 } });
    expect(result.error).toBeInstanceOf(Error);
    expect(result.ms).toBeLessThan(1000);
  });

  test('a connection that never opens: TimeoutError after the connection timeout, not the request timeout', async () => {
    const blackhole = await unconnectablePort();
    try {
      const result = await elapsed(() => getItem(dynamodb({ connectionTimeoutMs: 200, requestTimeoutMs: 5000, maxAttempts: 2 }, { AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${blackhole.port}` })));
      expect(result.error).toMatchObject({ name: 'TimeoutError', message: 'Socket timed out without establishing a connection within 200 ms', $metadata: { attempts: 2 } });
      expect(result.ms).toBeGreaterThanOrEqual(400);
      expect(result.ms).toBeLessThan(2000);
    } finally {
      blackhole.stop();
    }
  });
});

test('keep-alive: calls of one container reuse one connection, also after an idle pause', async () => {
  standIn.reset(faultThenItem('reset', 0));
  const client = dynamodb();
  for (let i = 0; i < 3; i++) {
    await getItem(client);
    await new Promise((resolve) => setTimeout(resolve, i === 1 ? 1500 : 20));
  }
  const ports = standIn.calls.map((call) => call.remotePort);
  expect(new Set(ports).size).toBe(1);
});

describe('Secrets Manager GetSecretValue', () => {
  const SECRET_ID = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:keygate-pepper-AbCdEf';

  test('reads the string value, signed for secretsmanager, JSON 1.1', async () => {
    standIn.reset(secretValueAnswer(SECRET_ID, { SecretString: 'the-pepper-value-of-at-least-32-characters' }));
    const output = await new SecretsManagerHttpClient({ env: env() }).getSecretValue({ SecretId: SECRET_ID });
    expect(output).toMatchObject({ ARN: SECRET_ID, SecretString: 'the-pepper-value-of-at-least-32-characters' });
    expect(standIn.calls[0]).toMatchObject({ target: 'secretsmanager.GetSecretValue', input: { SecretId: SECRET_ID }, signatureProblem: undefined });
    expect(standIn.calls[0]!.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(standIn.calls[0]!.headers.authorization).toMatch(/\/us-east-1\/secretsmanager\/aws4_request/);
  });

  test('AWS_ENDPOINT_URL serves it when no service variable is set; errors keep their names', async () => {
    standIn.reset(secretValueAnswer(SECRET_ID, { SecretBinary: new Uint8Array([1, 2, 3]) }));
    const client = new SecretsManagerHttpClient({ env: { ...env(), AWS_ENDPOINT_URL_SECRETS_MANAGER: '', AWS_ENDPOINT_URL: endpoint } });
    expect(await client.getSecretValue({ SecretId: SECRET_ID })).toMatchObject({ SecretBinary: 'AQID' });
    await expect(client.getSecretValue({ SecretId: 'another' })).rejects.toMatchObject({ name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 400, attempts: 1 } });
    // The SDK's Secrets Manager default: 3 attempts.
    standIn.reset(() => errorAnswer(500, 'InternalServiceError'));
    await expect(client.getSecretValue({ SecretId: SECRET_ID })).rejects.toMatchObject({ name: 'InternalServiceError', $metadata: { attempts: 3 } });
  });
});
