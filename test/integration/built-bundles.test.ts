import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ENV } from '../../lib/shared/environment';
import { createLocalApiGatewayApi, LocalGatewayKeyRegistry } from '../../lib/local/gateway-keys';
import type { FunctionId } from '../../lib/shared/functions';
import { invokeBuiltBundle } from '../support/built-bundle';
import { createTestTables, scanAll, testDynamoDbClient } from '../support/dynamodb';
import { authorizerEvent, methodArn, proxyEvent } from '../support/events';

/**
 * The error contract of the admin functions (errorType ValidationError,
 * KeyNotFound, StoreUnavailable) checked on the minified bundles that deploy,
 * not on the sources: minification renames classes, so a name taken from the
 * class would read "Gr" here.
 */
const client = testDynamoDbClient();
let env: Record<string, string | undefined>;

beforeAll(async () => {
  const tables = await createTestTables(client);
  env = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: process.env.AWS_ENDPOINT_URL_DYNAMODB,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'INFO',
    [ENV.keysTable]: tables.Keys,
    [ENV.sessionsTable]: tables.Sessions,
    [ENV.usersTable]: tables.Users,
    [ENV.localPepper]: process.env[ENV.localPepper],
  };
});

const invoke = (fn: FunctionId, event: unknown, overrides: Record<string, string> = {}) => invokeBuiltBundle(fn, event, { ...env, ...overrides });

test('create-key with bad input: ValidationError naming the field, in the result and the log, and nothing written', async () => {
  const result = await invoke('createKey', { appUid: 'app-1', name: '' });
  expect(result).toMatchObject({ ok: false, errorType: 'ValidationError' });
  expect(result.ok || result.errorMessage).toMatch(/name/);
  expect(result.logs).toContainEqual(expect.objectContaining({ operation: 'create-key', errorType: 'ValidationError' }));
  expect(await scanAll(client, env[ENV.keysTable]!)).toEqual([]);
});

test('delete-key of an unknown key: KeyNotFound', async () => {
  const result = await invoke('deleteKey', { appUid: 'app-1', keyId: 'key_00000000000000000000' });
  expect(result).toMatchObject({ ok: false, errorType: 'KeyNotFound' });
  expect(result.logs).toContainEqual(expect.objectContaining({ operation: 'delete-key', errorType: 'KeyNotFound' }));
});

test('list-keys with DynamoDB unreachable: StoreUnavailable', async () => {
  const result = await invoke('listKeys', { appUid: 'app-1' }, { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:1' });
  expect(result).toMatchObject({ ok: false, errorType: 'StoreUnavailable' });
});

test('create, authorize, then delete through the bundles; the deleted key is refused', async () => {
  const created = await invoke('createKey', { appUid: 'app-1', name: 'built' });
  if (!created.ok) throw new Error(`create-key failed: ${created.errorType} ${created.errorMessage}`);
  const { apiKey, keyId } = created.value as { apiKey: string; keyId: string };
  expect(JSON.stringify(created.logs)).not.toContain(apiKey);

  const allowed = await invoke('apiKeyAuthorizer', authorizerEvent({ 'x-api-key': apiKey }, methodArn('GET', 'app-1', 'whoami')));
  expect(allowed).toMatchObject({ ok: true, value: { principalId: keyId, context: { appUid: 'app-1', keyId } } });

  expect(await invoke('deleteKey', { appUid: 'app-1', keyId })).toMatchObject({ ok: true, value: { keyId, deleted: true } });
  expect(await invoke('apiKeyAuthorizer', authorizerEvent({ 'x-api-key': apiKey }, methodArn('GET', 'app-1', 'whoami')))).toMatchObject({ ok: false, errorType: 'Error', errorMessage: 'Unauthorized' });
});

test('whoami refuses a path naming another app than the authorizer context (403)', async () => {
  const event = proxyEvent({ method: 'GET', pathParameters: { appUid: 'app-2' }, context: { appUid: 'app-1', keyId: 'key_1', role: 'app-owner' } });
  const result = await invoke('whoami', event);
  expect(result).toMatchObject({ ok: true, value: { statusCode: 403 } });
  const own = await invoke('whoami', { ...event, pathParameters: { appUid: 'app-1' } });
  expect(own).toMatchObject({ ok: true, value: { statusCode: 200 } });
});

describe('plans, through the bundles', () => {
  let registry: LocalGatewayKeyRegistry;
  let server: Server;
  let planEnv: Record<string, string>;

  beforeAll(async () => {
    registry = new LocalGatewayKeyRegistry(['local-small', 'local-large']);
    server = createLocalApiGatewayApi(registry);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    planEnv = {
      AWS_ENDPOINT_URL_API_GATEWAY: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      [ENV.usagePlans]: JSON.stringify({ small: 'local-small', large: 'local-large' }),
      [ENV.defaultPlan]: 'small',
    };
  });

  afterAll(async () => {
    await new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    });
  });

  test('create-key puts a new app on the default plan; the authorizer bundle returns its gateway key; set-app-plan moves it; get-app shows it', async () => {
    const created = await invoke('createKey', { appUid: 'bundle-plan', name: 'k' }, planEnv);
    if (!created.ok) throw new Error(`create-key failed: ${created.errorType} ${created.errorMessage}`);
    const { apiKey } = created.value as { apiKey: string };
    const [gatewayKey] = registry.all();
    expect(gatewayKey).toMatchObject({ name: 'keygate-bundle-plan', usagePlanIds: ['local-small'] });
    const allowed = await invoke('apiKeyAuthorizer', authorizerEvent({ 'x-api-key': apiKey }, methodArn('GET', 'bundle-plan', 'whoami')));
    expect(allowed).toMatchObject({ ok: true, value: { usageIdentifierKey: gatewayKey!.value } });
    // The gateway key value is no secret, but it is not logged either.
    expect(JSON.stringify([...created.logs, ...allowed.logs])).not.toContain(gatewayKey!.value);

    expect(await invoke('setAppPlan', { appUid: 'bundle-plan', plan: 'large' }, planEnv)).toMatchObject({ ok: true, value: { plan: 'large', gatewayKeyId: gatewayKey!.id } });
    expect(registry.get(gatewayKey!.id)?.usagePlanIds).toEqual(['local-large']);
    expect(await invoke('getApp', { appUid: 'bundle-plan' })).toMatchObject({ ok: true, value: { appUid: 'bundle-plan', keyCount: 1, plan: 'large', gatewayKeyId: gatewayKey!.id } });
  });

  test('set-app-plan with a plan that does not exist: ValidationError naming plan, in the result and the log, nothing written', async () => {
    const before = await scanAll(client, env[ENV.keysTable]!);
    const result = await invoke('setAppPlan', { appUid: 'bundle-plan', plan: 'gold' }, planEnv);
    expect(result).toMatchObject({ ok: false, errorType: 'ValidationError', errorMessage: expect.stringMatching(/^plan must be one of small, large/) });
    expect(result.logs).toContainEqual(expect.objectContaining({ operation: 'set-app-plan', errorType: 'ValidationError' }));
    expect(await scanAll(client, env[ENV.keysTable]!)).toEqual(before);
  });

  test('get-app of an app never seen: AppNotFound; set-app-plan with API Gateway unreachable: GatewayUnavailable', async () => {
    expect(await invoke('getApp', { appUid: 'never-seen' })).toMatchObject({ ok: false, errorType: 'AppNotFound' });
    const down = await invoke('setAppPlan', { appUid: 'bundle-down', plan: 'small' }, { ...planEnv, AWS_ENDPOINT_URL_API_GATEWAY: 'http://127.0.0.1:1' });
    expect(down).toMatchObject({ ok: false, errorType: 'GatewayUnavailable' });
    expect(down.logs).toContainEqual(expect.objectContaining({ operation: 'set-app-plan', errorType: 'GatewayUnavailable', retryable: true }));
  });
});
