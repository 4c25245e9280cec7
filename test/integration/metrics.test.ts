import { ENV } from '../../lib/shared/environment';
import { DEFAULT_METRICS_NAMESPACE } from '../../lib/shared/metrics';
import { FUNCTIONS, type FunctionId } from '../../lib/shared/functions';
import { credentialFormat } from '../../functions/domain/credential-format';
import { cachedPepper, createHasher } from '../../functions/domain/hashing';
import { createKey } from '../../functions/domain/keys';
import { documentClient } from '../../functions/stores/document-client';
import { KeyStore } from '../../functions/stores/key-store';
import { builtBundleEnv, invokeBuiltBundle, metricRecords, runBuiltBundle } from '../support/built-bundle';
import { createTestTables, testDynamoDbClient } from '../support/dynamodb';
import { authorizerEvent, methodArn, proxyEvent } from '../support/events';
import { FaultProxy } from '../reliability/support';
import { createSealer } from '../../functions/domain/seal';

/**
 * What the built bundles (what deploys) write to their logs: the EMF metric
 * records CloudWatch turns into metrics, exactly, and the Lambda request id
 * and cold-start flag on every log line.
 */
const client = testDynamoDbClient();
let env: Record<string, string | undefined>;

beforeAll(async () => {
  const tables = await createTestTables(client);
  env = builtBundleEnv(tables);
});
afterAll(() => client.destroy());

const APP = 'metrics-app';
const keyEvent = (apiKey: string | undefined) =>
  ({ ...authorizerEvent(apiKey === undefined ? {} : { 'x-api-key': apiKey }, methodArn('GET', APP, 'whoami')), requestContext: { requestId: 'api-req-1' } }) as unknown;
const invoke = (fn: FunctionId, event: unknown, overrides: Record<string, string> = {}) => invokeBuiltBundle(fn, event, { ...env, ...overrides });

/** The one EMF record a single verification writes, as CloudWatch reads it. */
function verificationRecord(credential: string, outcome: string, withLatency: boolean, namespace = DEFAULT_METRICS_NAMESPACE) {
  return {
    _aws: {
      Timestamp: expect.any(Number),
      CloudWatchMetrics: [
        {
          Namespace: namespace,
          Dimensions: [['service', 'credential', 'outcome']],
          Metrics: [{ Name: 'Verifications', Unit: 'Count' }, ...(withLatency ? [{ Name: 'VerificationLatency', Unit: 'Milliseconds' }] : [])],
        },
      ],
    },
    service: 'keygate',
    credential,
    outcome,
    Verifications: 1,
    ...(withLatency && { VerificationLatency: expect.any(Number) }),
  };
}

async function createdKey(name: string): Promise<{ apiKey: string; keyId: string }> {
  const created = await invoke('createKey', { appUid: APP, name });
  if (!created.ok) throw new Error(`create-key failed: ${created.errorType} ${created.errorMessage}`);
  return created.value as { apiKey: string; keyId: string };
}

describe('the API-key authorizer bundle writes exactly one record per verification, by credential and outcome, never by app', () => {
  let apiKey: string;
  let expiredKey: string;
  beforeAll(async () => {
    ({ apiKey } = await createdKey('metrics'));
    // A key whose expiry has passed, written with the same pepper the bundles use.
    const hash = createHasher(cachedPepper(async () => env[ENV.localPepper]!));
    const past = new Date('2020-01-01T00:00:00Z');
    const store = new KeyStore(documentClient(client), env[ENV.keysTable]!, createSealer(async () => env[ENV.localPepper]!));
    ({ apiKey: expiredKey } = await createKey({ keyFormat: credentialFormat('kg'), hash, store, now: () => past }, { appUid: APP, name: 'expired', expiresAt: '2020-01-02T00:00:00Z' }));
  });

  test.each([
    ['valid', () => apiKey, true, true],
    ['malformed', () => 'kg_not-a-key', false, false],
    ['malformed', () => undefined, false, false],
    ['not_found', () => credentialFormat('kg').generate(), true, false],
    ['expired', () => expiredKey, true, false],
  ])('%s', async (outcome, key, withLatency, allowed) => {
    const result = await invoke('apiKeyAuthorizer', keyEvent(key()));
    expect(result.ok).toBe(allowed);
    const records = metricRecords(result.logs);
    expect(records).toEqual([verificationRecord('api_key', outcome, withLatency)]);
    // No app anywhere in a metric record: not as a dimension, not as a property.
    expect(JSON.stringify(records)).not.toContain(APP);
    const latency = records[0]!.VerificationLatency;
    if (withLatency) expect(latency).toBeGreaterThan(0);
  });

  test('the namespace comes from the environment the construct sets', async () => {
    const result = await invoke('apiKeyAuthorizer', keyEvent('nope'), { [ENV.metricsNamespace]: 'team/keygate-prod' });
    expect(metricRecords(result.logs)).toEqual([verificationRecord('api_key', 'malformed', false, 'team/keygate-prod')]);
  });

  test('a store failure counts as outcome error, with its latency', async () => {
    const result = await invoke('apiKeyAuthorizer', keyEvent(credentialFormat('kg').generate()), { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:1', AWS_MAX_ATTEMPTS: '1' });
    // Anything but `Unauthorized` is API Gateway's 500.
    expect(result.ok || result.errorMessage).not.toBe('Unauthorized');
    expect(result.ok).toBe(false);
    expect(metricRecords(result.logs)).toEqual([verificationRecord('api_key', 'error', true)]);
  });

  test('log lines carry the Lambda request id, the cold-start flag and API Gateway request id; never the key', async () => {
    const unknownKey = credentialFormat('kg').generate();
    const { outcomes, logs } = await runBuiltBundle(
      'apiKeyAuthorizer',
      [
        { event: keyEvent(unknownKey), requestId: 'req-cold' },
        { event: keyEvent(unknownKey), requestId: 'req-warm' },
      ],
      env,
    );
    expect(outcomes).toEqual([
      { ok: false, errorType: 'Error', errorMessage: 'Unauthorized' },
      { ok: false, errorType: 'Error', errorMessage: 'Unauthorized' },
    ]);
    const refusals = logs.filter((line) => line.message === 'api key refused');
    expect(refusals).toEqual([
      expect.objectContaining({ level: 'INFO', reason: 'not_found', function_request_id: 'req-cold', cold_start: true, function_name: 'api-key-authorizer', apiRequestId: 'api-req-1', hashTag: expect.any(String) }),
      expect.objectContaining({ level: 'INFO', reason: 'not_found', function_request_id: 'req-warm', cold_start: false, apiRequestId: 'api-req-1' }),
    ]);
    expect(JSON.stringify(logs)).not.toContain(unknownKey);
  });
});

test('the session authorizer counts under credential session_token', async () => {
  const result = await invoke('sessionAuthorizer', { ...(authorizerEvent({ authorization: 'Bearer nope' }, methodArn('GET', APP, 'sdkusers/me')) as object), requestContext: { requestId: 'r' } });
  expect(metricRecords(result.logs)).toEqual([verificationRecord('session_token', 'malformed', false)]);
});

test('a busy container writes about one record set per second, and the counts add up exactly', async () => {
  const { apiKey } = await createdKey('busy');
  const steps = [];
  for (let i = 0; i < 60; i++) steps.push({ event: keyEvent(i % 3 === 0 ? apiKey : 'kg_junk') });
  // Quiet for longer than two write intervals, then one more: the figures left over are written first, with their own time.
  const { outcomes, logs } = await runBuiltBundle('apiKeyAuthorizer', [...steps, { sleepMs: 2_100 }, { event: keyEvent(apiKey) }], env);
  expect(outcomes).toHaveLength(61);
  const records = metricRecords(logs);
  // The burst takes well under a second: one record per outcome at its start, one per outcome for the rest.
  expect(records.length).toBeLessThanOrEqual(6);
  const total = (outcome: string) => records.filter((r) => r.outcome === outcome).reduce((sum, r) => sum + (r.Verifications as number), 0);
  expect({ valid: total('valid'), malformed: total('malformed') }).toEqual({ valid: 21, malformed: 40 });
  const latencies = records.filter((r) => r.outcome === 'valid').flatMap((r) => [r.VerificationLatency].flat());
  expect(latencies).toHaveLength(21);
  // The last record is the lone invocation after the pause, stamped after the left-over figures.
  const last = records.at(-1)!;
  expect(last).toMatchObject({ outcome: 'valid', Verifications: 1 });
  const stamp = (r: Record<string, unknown>) => (r._aws as { Timestamp: number }).Timestamp;
  expect(stamp(last) - Math.max(...records.slice(0, -1).map(stamp))).toBeGreaterThanOrEqual(2_000);
});

describe('admin functions count each operation by operation and outcome, written at once', () => {
  const adminRecord = (operation: string, outcome: string) => ({
    _aws: { Timestamp: expect.any(Number), CloudWatchMetrics: [{ Namespace: 'keygate', Dimensions: [['service', 'operation', 'outcome']], Metrics: [{ Name: 'AdminOperations', Unit: 'Count' }] }] },
    service: 'keygate',
    operation,
    outcome,
    AdminOperations: 1,
  });

  const unknownKeyId = 'key_00000000000000000000';
  test.each([
    ['createKey', { appUid: APP, name: 'counted' }, 'create-key', 'success'],
    ['createKey', { appUid: APP, name: '' }, 'create-key', 'ValidationError'],
    ['deleteKey', { appUid: APP, keyId: unknownKeyId }, 'delete-key', 'KeyNotFound'],
    ['listKeys', { appUid: APP }, 'list-keys', 'success'],
    ['rollKey', { appUid: APP, keyId: unknownKeyId }, 'roll-key', 'KeyNotFound'],
    ['updateKey', { appUid: APP, keyId: unknownKeyId }, 'update-key', 'ValidationError'],
    ['updateKey', { appUid: APP, keyId: unknownKeyId, enabled: false }, 'update-key', 'KeyNotFound'],
    ['listKeyEvents', { appUid: APP }, 'list-key-events', 'success'],
  ] as const)('%s %j → %s %s', async (fn, payload, operation, outcome) => {
    const result = await invoke(fn, payload);
    expect(metricRecords(result.logs)).toEqual([adminRecord(operation, outcome)]);
    const lines = result.logs.filter((line) => line.level !== undefined && line.operation === operation);
    expect(lines).toEqual([expect.objectContaining({ function_request_id: 'req-built-bundle', cold_start: true, function_name: FUNCTIONS[fn].name })]);
  });

  test('roll-key and update-key count their successes', async () => {
    const { keyId } = await createdKey('to roll');
    const rolled = await invoke('rollKey', { appUid: APP, keyId, gracePeriodSeconds: 0 });
    expect(metricRecords(rolled.logs)).toEqual([adminRecord('roll-key', 'success')]);
    const updated = await invoke('updateKey', { appUid: APP, keyId: (rolled as { value: { keyId: string } }).value.keyId, name: 'rolled' });
    expect(metricRecords(updated.logs)).toEqual([adminRecord('update-key', 'success')]);
  });
});

test('HTTP handlers log their failures with the request ids and write no metric record of their own', async () => {
  const event = { httpMethod: 'GET', path: '/', headers: {}, pathParameters: { appUid: 'other' }, requestContext: { requestId: 'api-req-2', authorizer: { appUid: APP, keyId: 'key_1', role: 'app-owner', principalId: 'key_1' } } };
  const result = await invoke('whoami', event);
  expect(result).toMatchObject({ ok: true, value: { statusCode: 403 } });
  expect(metricRecords(result.logs)).toEqual([]);
  expect(result.logs).toEqual([
    expect.objectContaining({ level: 'INFO', message: 'whoami refused', statusCode: 403, errorType: 'AppMismatch', apiRequestId: 'api-req-2', appUid: APP, principalId: 'key_1', function_request_id: 'req-built-bundle', cold_start: true }),
  ]);
});

describe('revoke-keys counts each processed report, the keys it named and the keys it revoked', () => {
  const report = (body: unknown) =>
    invoke('revokeKeys', { ...(proxyEvent({ path: '/api/v1/keys/revoke', body: JSON.stringify(body) }) as object), requestContext: { requestId: 'api-req-3' } });

  test('one record per report, written at once: well-formed keys named (each once), keys revoked; never a key or an app', async () => {
    const { apiKey } = await createdKey('leaked');
    const unknownKey = credentialFormat('kg').generate();
    const result = await report({ keys: [apiKey, unknownKey, unknownKey, 'junk', credentialFormat('kgs').generate()] });
    expect(result).toMatchObject({ ok: true, value: { statusCode: 202, body: '{"received":5}' } });
    const records = metricRecords(result.logs);
    expect(records).toEqual([
      {
        _aws: {
          Timestamp: expect.any(Number),
          CloudWatchMetrics: [
            {
              Namespace: 'keygate',
              Dimensions: [['service']],
              Metrics: [
                { Name: 'KeysReported', Unit: 'Count' },
                { Name: 'KeysRevoked', Unit: 'Count' },
                { Name: 'RevocationReports', Unit: 'Count' },
              ],
            },
          ],
        },
        service: 'keygate',
        KeysReported: 2,
        KeysRevoked: 1,
        RevocationReports: 1,
      },
    ]);
    expect(JSON.stringify(result.logs)).not.toContain(apiKey);
    expect(JSON.stringify(records)).not.toContain(APP);
    expect(result.logs).toContainEqual(expect.objectContaining({ message: 'revocation report', function_request_id: 'req-built-bundle', cold_start: true, function_name: 'revoke-keys' }));
  });

  test('a refused report counts nothing and is logged as a refusal with the request ids', async () => {
    const result = await report({ keys: [] });
    expect(result).toMatchObject({ ok: true, value: { statusCode: 400 } });
    expect(metricRecords(result.logs)).toEqual([]);
    expect(result.logs).toEqual([
      expect.objectContaining({ level: 'INFO', message: 'keys/revoke refused', route: 'keys/revoke', statusCode: 400, errorType: 'ValidationError', apiRequestId: 'api-req-3', function_request_id: 'req-built-bundle' }),
    ]);
  });
});

test('the API-key authorizer counts lastUsedAt writes that failed, with the figures it writes next; the key is let in all the same', async () => {
  const proxy = new FaultProxy(process.env.AWS_ENDPOINT_URL_DYNAMODB!);
  const endpoint = await proxy.start();
  try {
    const { apiKey, keyId } = await createdKey('last used');
    proxy.mode = { kind: 'throttle', error: 'ThrottlingException', operations: ['UpdateItem'] };
    const { outcomes, logs } = await runBuiltBundle(
      'apiKeyAuthorizer',
      // The failed write ends after its answer; the next invocation a write interval on writes it.
      [{ event: keyEvent(apiKey) }, { sleepMs: 1_500 }, { event: keyEvent('kg_junk') }],
      // One attempt: the write fails at once rather than after the SDK's backoff.
      { ...env, AWS_ENDPOINT_URL_DYNAMODB: endpoint, AWS_MAX_ATTEMPTS: '1' },
    );
    expect(outcomes[0]).toMatchObject({ ok: true });
    expect(proxy.faulted.UpdateItem).toBe(1);
    expect(logs).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'lastUsedAt not recorded', keyId, errorType: 'StoreUnavailable', errorMessage: expect.stringContaining('ThrottlingException') }));
    const failures = metricRecords(logs).filter((record) => 'LastUsedWriteFailures' in record);
    expect(failures).toEqual([
      {
        _aws: { Timestamp: expect.any(Number), CloudWatchMetrics: [{ Namespace: 'keygate', Dimensions: [['service']], Metrics: [{ Name: 'LastUsedWriteFailures', Unit: 'Count' }] }] },
        service: 'keygate',
        LastUsedWriteFailures: 1,
      },
    ]);
    expect(metricRecords(logs).map((record) => record.outcome ?? 'last-used')).toEqual(['valid', 'last-used', 'malformed']);
  } finally {
    await proxy.stop();
  }
});
