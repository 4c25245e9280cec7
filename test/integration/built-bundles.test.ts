import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ENV } from '../../lib/shared/environment';
import { createLocalApiGatewayApi, LocalGatewayKeyRegistry } from '../../lib/local/gateway-keys';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { appRecordItemKey, keyHashItemKey, sessionItemKey, userItemKey } from '../../lib/shared/item-keys';
import { createHasher } from '../../functions/domain/hashing';
import { credentialFormat } from '../../functions/domain/credential-format';
import type { FunctionId } from '../../lib/shared/functions';
import { builtBundleEnv, invokeBuiltBundle } from '../support/built-bundle';
import { createTestTables, scanAll, testDynamoDbClient } from '../support/dynamodb';
import { apiKeyEvent, authorizerEvent, proxyEvent, sessionTokenEvent } from '../support/events';

/**
 * The error contract of the admin functions (errorType ValidationError,
 * KeyNotFound, StoreUnavailable, StoreMisconfigured) checked on the minified bundles that deploy,
 * not on the sources: minification renames classes, so a name taken from the
 * class would read "Gr" here.
 */
const client = testDynamoDbClient();
let env: Record<string, string | undefined>;
const hash = createHasher(async () => process.env[ENV.localPepper]!);

beforeAll(async () => {
  const tables = await createTestTables(client);
  env = builtBundleEnv(tables);
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

test('functions pointed at a table that does not exist: StoreMisconfigured (not retryable) logged at ERROR, 500 from sdkusers/auth and revoke, the authorizer fails closed', async () => {
  const missing = { [ENV.keysTable]: 'missing-keys', [ENV.usersTable]: 'missing-users' };
  const unknown = 'key_00000000000000000000';
  for (const [fn, operation, payload] of [
    ['createKey', 'create-key', { appUid: 'app-1', name: 'n' }],
    ['rollKey', 'roll-key', { appUid: 'app-1', keyId: unknown }],
    ['updateKey', 'update-key', { appUid: 'app-1', keyId: unknown, enabled: false }],
    ['listKeyEvents', 'list-key-events', { appUid: 'app-1' }],
  ] as const) {
    const result = await invoke(fn, payload, missing);
    expect([fn, result]).toEqual([fn, expect.objectContaining({ ok: false, errorType: 'StoreMisconfigured' })]);
    expect(result.logs).toContainEqual(expect.objectContaining({ level: 'ERROR', operation, errorType: 'StoreMisconfigured', retryable: false }));
  }

  const auth = await invoke('sdkUsersAuth', proxyEvent({ body: JSON.stringify({ externalId: 'u-1' }), context: { appUid: 'app-1', keyId: 'key_1' } }), missing);
  expect(auth).toMatchObject({ ok: true, value: { statusCode: 500 } });

  const valid = await invoke('createKey', { appUid: 'app-1', name: 'valid' });
  const { apiKey, keyId } = (valid as { value: { apiKey: string; keyId: string } }).value;
  const authorized = await invoke('apiKeyAuthorizer', apiKeyEvent(apiKey, 'app-1'), missing);
  expect(authorized).toMatchObject({ ok: false, errorType: 'StoreMisconfigured' });
  expect(authorized.logs).toContainEqual(expect.objectContaining({ level: 'ERROR', errorType: 'StoreMisconfigured', operatorActionNeeded: true }));
  const reported = await invoke('revokeKeys', proxyEvent({ path: '/api/v1/keys/revoke', body: JSON.stringify({ keys: [apiKey] }) }), missing);
  expect(reported).toMatchObject({ ok: true, value: { statusCode: 500, body: '{"message":"internal error"}' } });
  expect(reported.logs).toContainEqual(expect.objectContaining({ level: 'ERROR', message: 'keys/revoke failed', errorType: 'StoreMisconfigured' }));
  await invoke('deleteKey', { appUid: 'app-1', keyId });
});

test('sdkusers-auth for a user at the accountUids cap: a new id is a 400 naming accountUids, nothing written; known ids still sign in', async () => {
  const full = new Set(Array.from({ length: 100 }, (_, index) => `acct-${index}`));
  await DynamoDBDocumentClient.from(client).send(
    new PutCommand({ TableName: env[ENV.usersTable], Item: { ...userItemKey('app-1', 'capped'), userId: 'usr_capped', externalId: 'capped', accountUids: full, createdAt: '2020-01-01T00:00:00.000Z' } }),
  );
  const event = (accountUids: string[]) => proxyEvent({ body: JSON.stringify({ externalId: 'capped', accountUids }), context: { appUid: 'app-1', keyId: 'key_1' } });
  const sessionsBefore = await scanAll(client, env[ENV.sessionsTable]!);
  const refused = await invoke('sdkUsersAuth', event(['acct-1', 'acct-new']));
  expect(refused).toMatchObject({ ok: true, value: { statusCode: 400 } });
  expect(JSON.parse((refused as { value: { body: string } }).value.body)).toMatchObject({ field: 'accountUids' });
  expect(await scanAll(client, env[ENV.sessionsTable]!)).toEqual(sessionsBefore);
  expect(await invoke('sdkUsersAuth', event(['acct-1', 'acct-99']))).toMatchObject({ ok: true, value: { statusCode: 200 } });
});

test('create, authorize, then delete through the bundles; the deleted key is refused', async () => {
  const created = await invoke('createKey', { appUid: 'app-1', name: 'built' });
  if (!created.ok) throw new Error(`create-key failed: ${created.errorType} ${created.errorMessage}`);
  const { apiKey, keyId } = created.value as { apiKey: string; keyId: string };
  expect(JSON.stringify(created.logs)).not.toContain(apiKey);

  const allowed = await invoke('apiKeyAuthorizer', apiKeyEvent(apiKey, 'app-1'));
  expect(allowed).toMatchObject({ ok: true, value: { principalId: keyId, context: { appUid: 'app-1', keyId } } });

  expect(await invoke('deleteKey', { appUid: 'app-1', keyId })).toMatchObject({ ok: true, value: { keyId, deleted: true } });
  expect(await invoke('apiKeyAuthorizer', apiKeyEvent(apiKey, 'app-1'))).toMatchObject({ ok: false, errorType: 'Error', errorMessage: 'Unauthorized' });
});

test('whoami refuses a path naming another app than the authorizer context (403)', async () => {
  const event = proxyEvent({ method: 'GET', pathParameters: { appUid: 'app-2' }, context: { appUid: 'app-1', keyId: 'key_1', role: 'app-owner' } });
  const result = await invoke('whoami', event);
  expect(result).toMatchObject({ ok: true, value: { statusCode: 403 } });
  const own = await invoke('whoami', { ...event, pathParameters: { appUid: 'app-1' } });
  expect(own).toMatchObject({ ok: true, value: { statusCode: 200 } });
});

describe('fitting an existing API, in the bundles that deploy', () => {
  const legacy = { [ENV.legacyKeyPattern]: '[A-Za-z0-9]{40}', [ENV.legacyKeyMinLength]: '40', [ENV.legacyKeyMaxLength]: '40' };
  const legacyKey = 'Ab3'.repeat(13) + 'Z';
  const sha256Hex = createHash('sha256').update(legacyKey).digest('hex');

  test('import-keys: ValidationError naming the field, then KeyAlreadyExists for a key stored twice', async () => {
    const refused = await invoke('importKeys', { appUid: 'app-fit', keys: [{ keyHash: sha256Hex, name: 'no pattern configured' }] });
    expect(refused).toMatchObject({ ok: false, errorType: 'ValidationError', errorMessage: expect.stringContaining('keys[0].keyHash') });
    expect(await invoke('importKeys', { appUid: 'app-fit', keys: [{ keyHash: sha256Hex, name: 'legacy' }] }, legacy)).toMatchObject({
      ok: true,
      value: { appUid: 'app-fit', keys: [{ importedFrom: 'keyHash' }] },
    });
    const twice = await invoke('importKeys', { appUid: 'app-fit', keys: [{ key: legacyKey, name: 'again' }] }, legacy);
    expect(twice).toMatchObject({ ok: false, errorType: 'KeyAlreadyExists', errorMessage: 'keys[0] is already stored as a key (imported before?); nothing was written' });
    expect(JSON.stringify(twice.logs)).not.toContain(legacyKey);
  });

  test('api-key authorizer in context scope with a custom header: the imported key gets a stage-wide Allow; x-api-key is no credential; the log has the key id', async () => {
    const settings = { ...legacy, [ENV.appScope]: 'context', [ENV.basePath]: '/keygate', [ENV.apiKeyHeader]: 'x-customer-key', POWERTOOLS_LOG_LEVEL: 'DEBUG' };
    const arn = 'arn:aws:execute-api:us-east-1:123456789012:testapi/prod/GET/orders/7';
    const allowed = await invoke('apiKeyAuthorizer', authorizerEvent({ 'x-customer-key': legacyKey }, arn), settings);
    expect(allowed).toMatchObject({
      ok: true,
      value: { context: { appUid: 'app-fit' }, policyDocument: { Statement: [{ Effect: 'Allow', Resource: ['arn:aws:execute-api:us-east-1:123456789012:testapi/prod/*/*'] }] } },
    });
    const keyId = (allowed as { value: { principalId: string } }).value.principalId;
    expect(allowed.logs).toContainEqual(expect.objectContaining({ message: 'api key accepted', keyId }));
    expect(JSON.stringify(allowed.logs)).not.toContain(legacyKey);
    // The authorizer process records lastUsedAt of the imported key as of a native one, after answering and before it exits.
    expect(await invoke('listKeys', { appUid: 'app-fit' })).toMatchObject({
      ok: true,
      value: { keys: [{ keyId, importedFrom: 'keyHash', status: 'active', enabled: true, lastUsedAt: expect.any(String) }] },
    });
    expect(await invoke('apiKeyAuthorizer', authorizerEvent({ 'x-api-key': legacyKey }, arn), settings)).toMatchObject({ ok: false, errorMessage: 'Unauthorized' });
  });

  test('a value of neither format is refused with DynamoDB unreachable: it was never asked', async () => {
    const cutOff = { ...legacy, AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:1' };
    const event = (key: string) => apiKeyEvent(key, 'app-fit');
    const neither = await invoke('apiKeyAuthorizer', event(`${legacyKey.slice(1)}`), cutOff);
    expect(neither).toMatchObject({ ok: false, errorMessage: 'Unauthorized' });
    expect(neither.logs).not.toContainEqual(expect.objectContaining({ message: 'api key verification failed; refusing' }));
    // A legacy-format value is looked up: with DynamoDB gone that fails closed (API Gateway's 500).
    const legacyFormat = await invoke('apiKeyAuthorizer', event(legacyKey), cutOff);
    expect(legacyFormat).toMatchObject({ ok: false, errorMessage: expect.not.stringMatching(/^Unauthorized$/) });
    expect(legacyFormat.logs).toContainEqual(expect.objectContaining({ message: 'api key verification failed; refusing' }));
  });
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
    const allowed = await invoke('apiKeyAuthorizer', apiKeyEvent(apiKey, 'bundle-plan'));
    expect(allowed).toMatchObject({ ok: true, value: { usageIdentifierKey: gatewayKey!.value } });
    // The gateway key value is no secret, but it is not logged either.
    expect(JSON.stringify([...created.logs, ...allowed.logs])).not.toContain(gatewayKey!.value);

    expect(await invoke('setAppPlan', { appUid: 'bundle-plan', plan: 'large' }, planEnv)).toMatchObject({ ok: true, value: { plan: 'large', gatewayKeyId: gatewayKey!.id } });
    expect(registry.get(gatewayKey!.id)?.usagePlanIds).toEqual(['local-large']);
    expect(await invoke('getApp', { appUid: 'bundle-plan' })).toMatchObject({ ok: true, value: { appUid: 'bundle-plan', keyCount: 1, plan: 'large', gatewayKeyId: gatewayKey!.id } });
  });

  test('the roll-key bundle gives the new key its app\'s gateway key: the authorizer bundle returns it for the new key', async () => {
    const created = await invoke('createKey', { appUid: 'bundle-roll', name: 'k' }, planEnv);
    if (!created.ok) throw new Error(`create-key failed: ${created.errorType} ${created.errorMessage}`);
    const { keyId } = created.value as { keyId: string };
    const gatewayKey = registry.all().find((key) => key.name === 'keygate-bundle-roll')!;
    const rolled = await invoke('rollKey', { appUid: 'bundle-roll', keyId, gracePeriodSeconds: 0 });
    if (!rolled.ok) throw new Error(`roll-key failed: ${rolled.errorType} ${rolled.errorMessage}`);
    const next = rolled.value as { apiKey: string; keyId: string };
    const allowed = await invoke('apiKeyAuthorizer', apiKeyEvent(next.apiKey, 'bundle-roll'));
    expect(allowed).toMatchObject({ ok: true, value: { principalId: next.keyId, usageIdentifierKey: gatewayKey.value } });
    expect(await invoke('getApp', { appUid: 'bundle-roll' })).toMatchObject({ ok: true, value: { keyCount: 2, plan: 'small', gatewayKeyId: gatewayKey.id } });
  });

  test('set-app-plan with a plan that does not exist: ValidationError naming plan, in the result and the log, nothing written', async () => {
    const before = await scanAll(client, env[ENV.keysTable]!);
    const result = await invoke('setAppPlan', { appUid: 'bundle-plan', plan: 'gold' }, planEnv);
    expect(result).toMatchObject({ ok: false, errorType: 'ValidationError', errorMessage: expect.stringMatching(/^plan must be one of small, large/) });
    expect(result.logs).toContainEqual(expect.objectContaining({ operation: 'set-app-plan', errorType: 'ValidationError' }));
    expect(await scanAll(client, env[ENV.keysTable]!)).toEqual(before);
  });

  test('set-app-plan records plan-changed in the activity log; a plan changed in the table without the pepper is RecordSealInvalid from create-key and set-app-plan, logged, nothing written, and seal-records reports it', async () => {
    const created = await invoke('createKey', { appUid: 'bundle-sealed-plan', name: 'k' }, planEnv);
    if (!created.ok) throw new Error(`create-key failed: ${created.errorType} ${created.errorMessage}`);
    expect(await invoke('setAppPlan', { appUid: 'bundle-sealed-plan', plan: 'large', requestedBy: 'local:test' }, planEnv)).toMatchObject({ ok: true, value: { plan: 'large' } });
    const events = await invoke('listKeyEvents', { appUid: 'bundle-sealed-plan' });
    expect(events).toMatchObject({ ok: true, value: { events: [{ action: 'plan-changed', requestedBy: 'local:test', details: { plan: { from: 'small', to: 'large' } } }, { action: 'created' }] } });

    const other = registry.all().find((key) => key.name === 'keygate-bundle-plan')!;
    await DynamoDBDocumentClient.from(client).send(
      new UpdateCommand({ TableName: env[ENV.keysTable], Key: appRecordItemKey('bundle-sealed-plan'), UpdateExpression: 'SET gatewayKey = :v', ExpressionAttributeValues: { ':v': other.value } }),
    );
    const before = await scanAll(client, env[ENV.keysTable]!);
    for (const [fn, input] of [
      ['createKey', { appUid: 'bundle-sealed-plan', name: 'laundered' }],
      ['setAppPlan', { appUid: 'bundle-sealed-plan', plan: 'small' }],
    ] as const) {
      const refused = await invoke(fn, input, planEnv);
      expect(refused).toMatchObject({ ok: false, errorType: 'RecordSealInvalid', errorMessage: expect.stringMatching(/^app bundle-sealed-plan: the seal of its plan/) });
      expect(refused.logs).toContainEqual(expect.objectContaining({ errorType: 'RecordSealInvalid' }));
      expect(JSON.stringify(refused.logs)).not.toContain(other.value);
    }
    expect(await scanAll(client, env[ENV.keysTable]!)).toEqual(before);
    expect(await invoke('sealRecords', {})).toMatchObject({ ok: true, value: { apps: { wrongSeal: 1 } } });
  });

  test('get-app of an app never seen: AppNotFound; set-app-plan with API Gateway unreachable: GatewayUnavailable', async () => {
    expect(await invoke('getApp', { appUid: 'never-seen' })).toMatchObject({ ok: false, errorType: 'AppNotFound' });
    const down = await invoke('setAppPlan', { appUid: 'bundle-down', plan: 'small' }, { ...planEnv, AWS_ENDPOINT_URL_API_GATEWAY: 'http://127.0.0.1:1' });
    expect(down).toMatchObject({ ok: false, errorType: 'GatewayUnavailable' });
    expect(down.logs).toContainEqual(expect.objectContaining({ operation: 'set-app-plan', errorType: 'GatewayUnavailable', retryable: true }));
  });
});

test('sdkusers-me answers CORS for its allowed origins only, on every answer; without the setting, none', async () => {
  const context = { appUid: 'app-1', userKey: 'nobody', sessionExpiresAt: '2030-01-01T00:00:00.000Z' };
  const request = (origin: string) => ({ ...proxyEvent({ method: 'GET', pathParameters: { appUid: 'app-1' }, context }), headers: { Origin: origin }, multiValueHeaders: { Origin: [origin] } });
  const origins = { [ENV.corsAllowedOrigins]: 'https://a.example,http://localhost:5173' };

  const allowed = await invoke('sdkUsersMe', request('http://localhost:5173'), origins);
  expect(allowed).toMatchObject({ ok: true, value: { statusCode: 404, headers: { 'Access-Control-Allow-Origin': 'http://localhost:5173', Vary: 'Origin' } } });

  const other = await invoke('sdkUsersMe', request('https://evil.example'), origins);
  expect(other).toMatchObject({ ok: true, value: { statusCode: 404, headers: { Vary: 'Origin' } } });
  expect(JSON.stringify(other)).not.toContain('Access-Control-Allow-Origin');

  // A refused path (another app) is answered with the same headers.
  const mismatch = await invoke('sdkUsersMe', { ...request('https://a.example'), pathParameters: { appUid: 'app-2' } }, origins);
  expect(mismatch).toMatchObject({ ok: true, value: { statusCode: 403, headers: { 'Access-Control-Allow-Origin': 'https://a.example' } } });

  const none = await invoke('sdkUsersMe', request('https://a.example'));
  expect(none).toMatchObject({ ok: true, value: { statusCode: 404 } });
  expect(JSON.stringify(none)).not.toMatch(/Access-Control|Vary/);
});

test('roll-key, update-key and list-key-events bundles: ValidationError and KeyNotFound by name, nothing written', async () => {
  const unknown = 'key_00000000000000000000';
  const cases: [FunctionId, unknown, string, RegExp][] = [
    ['rollKey', { appUid: 'app-2', keyId: unknown, gracePeriodSeconds: 604801 }, 'ValidationError', /gracePeriodSeconds/],
    ['rollKey', { appUid: 'app-2', keyId: unknown }, 'KeyNotFound', /key_0+ not found in app app-2/],
    ['updateKey', { appUid: 'app-2', keyId: unknown }, 'ValidationError', /at least one of name, expiresAt/],
    ['updateKey', { appUid: 'app-2', keyId: unknown, enabled: false }, 'KeyNotFound', /not found/],
    ['listKeyEvents', { appUid: 'app-2', nextToken: 'forged' }, 'ValidationError', /nextToken/],
  ];
  const before = await scanAll(client, env[ENV.keysTable]!);
  for (const [fn, event, errorType, message] of cases) {
    const result = await invoke(fn, event);
    expect(result).toMatchObject({ ok: false, errorType });
    expect(result.ok || result.errorMessage).toMatch(message);
  }
  expect(await scanAll(client, env[ENV.keysTable]!)).toEqual(before);
});

test('the lifecycle through the bundles: disable 401, enable 200, roll with grace 0, lastUsedAt and the activity log', async () => {
  const app = 'app-3';
  const authorize = (apiKey: string) => invoke('apiKeyAuthorizer', apiKeyEvent(apiKey, app));
  const created = await invoke('createKey', { appUid: app, name: 'bundled', requestedBy: 'local:test' });
  if (!created.ok) throw new Error(`create-key failed: ${created.errorType}`);
  const { apiKey, keyId } = created.value as { apiKey: string; keyId: string };

  expect(await invoke('updateKey', { appUid: app, keyId, enabled: false })).toMatchObject({ ok: true, value: { status: 'disabled', enabled: false } });
  const refused = await authorize(apiKey);
  expect(refused).toMatchObject({ ok: false, errorType: 'Error', errorMessage: 'Unauthorized' });
  expect(refused.logs).toContainEqual(expect.objectContaining({ message: 'api key refused', reason: 'disabled', keyId }));
  expect(await invoke('updateKey', { appUid: app, keyId, enabled: true })).toMatchObject({ ok: true, value: { status: 'active' } });
  // The authorizer process writes lastUsedAt after answering and before it exits.
  expect(await authorize(apiKey)).toMatchObject({ ok: true, value: { principalId: keyId } });
  const listed = await invoke('listKeys', { appUid: app });
  expect(listed).toMatchObject({ ok: true, value: { keys: [{ keyId, status: 'active', lastUsedAt: expect.any(String) }] } });
  // update-key answers with the key's lastUsedAt, read from the hash item it checks the seal of.
  const lastUsedAt = (listed.ok && (listed.value as { keys: { lastUsedAt: string }[] }).keys[0]!.lastUsedAt)!;
  expect(await invoke('updateKey', { appUid: app, keyId, name: 'bundled, renamed' })).toMatchObject({ ok: true, value: { name: 'bundled, renamed', lastUsedAt } });

  const rolled = await invoke('rollKey', { appUid: app, keyId, gracePeriodSeconds: 0 });
  if (!rolled.ok) throw new Error(`roll-key failed: ${rolled.errorType}`);
  const next = rolled.value as { apiKey: string; keyId: string; rolledFromKeyId: string };
  expect(next.rolledFromKeyId).toBe(keyId);
  expect(JSON.stringify(rolled.logs)).not.toContain(next.apiKey);
  expect(await authorize(apiKey)).toMatchObject({ ok: false, errorMessage: 'Unauthorized' });
  expect(await authorize(next.apiKey)).toMatchObject({ ok: true });

  const events = await invoke('listKeyEvents', { appUid: app });
  expect(events.ok && (events.value as { events: { action: string }[] }).events.map((event) => event.action)).toEqual(['rolled', 'updated', 'enabled', 'disabled', 'created']);
});

test('revoke-keys, public: 202 for a live key (then refused), the same 202 for an unknown one, 400 ValidationError naming the field, 503 with DynamoDB down', async () => {
  const created = await invoke('createKey', { appUid: 'app-r', name: 'leaked' });
  if (!created.ok) throw new Error(`create-key failed: ${created.errorType} ${created.errorMessage}`);
  const { apiKey, keyId } = created.value as { apiKey: string; keyId: string };
  const report = (body: unknown, overrides?: Record<string, string>) => invoke('revokeKeys', proxyEvent({ path: '/api/v1/keys/revoke', body: JSON.stringify(body) }), overrides);

  const revoked = await report({ keys: [apiKey, 'junk'] });
  expect(revoked).toMatchObject({ ok: true, value: { statusCode: 202, body: '{"received":2}' } });
  expect(revoked.logs).toContainEqual(expect.objectContaining({ message: 'key revoked by report', keyId, appUid: 'app-r' }));
  expect(JSON.stringify(revoked.logs)).not.toContain(apiKey);
  expect(await invoke('apiKeyAuthorizer', apiKeyEvent(apiKey, 'app-r'))).toMatchObject({ ok: false, errorMessage: 'Unauthorized' });
  const events = await invoke('listKeyEvents', { appUid: 'app-r', keyId });
  expect(events.ok && (events.value as { events: { action: string }[] }).events.map((event) => event.action)).toEqual(['revoked-by-report', 'created']);
  expect(await report({ keys: [apiKey, 'junk'] })).toMatchObject({ ok: true, value: { statusCode: 202, body: '{"received":2}' } });

  const bad = await report({ keys: [apiKey, 7] });
  expect(bad).toMatchObject({ ok: true, value: { statusCode: 400 } });
  expect(JSON.parse((bad as { value: { body: string } }).value.body)).toEqual({ field: 'keys[1]', message: 'keys must contain only strings' });
  expect(bad.logs).toContainEqual(expect.objectContaining({ level: 'INFO', message: 'keys/revoke refused', statusCode: 400, errorType: 'ValidationError' }));

  const down = await report({ keys: [apiKey] }, { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:1' });
  expect(down).toMatchObject({ ok: true, value: { statusCode: 503 } });
  expect(down.logs).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'keys/revoke failed', statusCode: 503, errorType: 'StoreUnavailable' }));
});

describe('the app, session and user admin functions, as built', () => {
  test('get-app of an app that never had a key: AppNotFound; list-apps: the registry', async () => {
    expect(await invoke('getApp', { appUid: 'no-such-app' })).toMatchObject({ ok: false, errorType: 'AppNotFound', errorMessage: 'app no-such-app not found: it has no keys and no plan' });
    expect(await invoke('createKey', { appUid: 'app-built', name: 'k' })).toMatchObject({ ok: true });
    expect(await invoke('getApp', { appUid: 'app-built' })).toMatchObject({ ok: true, value: { appUid: 'app-built', keyCount: 1 } });
    const listed = await invoke('listApps', { limit: 100 });
    expect(listed.ok && (listed.value as { apps: { appUid: string }[] }).apps.map((app) => app.appUid)).toContain('app-built');
  });

  test('revoke-sessions and delete-user: ValidationError and UserNotFound keep their names', async () => {
    expect(await invoke('revokeSessions', { appUid: 'app-built' })).toMatchObject({ ok: false, errorType: 'ValidationError', errorMessage: expect.stringContaining('exactly one of userId') });
    expect(await invoke('revokeSessions', { appUid: 'app-built', externalId: 'nobody' })).toMatchObject({ ok: false, errorType: 'UserNotFound' });
    const erased = await invoke('deleteUser', { appUid: 'app-built', userEmail: 'nobody@example.com' });
    expect(erased).toMatchObject({ ok: false, errorType: 'UserNotFound', errorMessage: 'no user with that userEmail in app app-built' });
    expect(JSON.stringify(erased.logs)).not.toContain('nobody@example.com');
  });

  test('a session opened through the bundles, ended by the revoke-sessions bundle, is refused by the session authorizer bundle', async () => {
    const created = await invoke('createKey', { appUid: 'app-built', name: 'signer' });
    if (!created.ok) throw new Error(`create-key failed: ${created.errorType} ${created.errorMessage}`);
    const { keyId } = created.value as { keyId: string };
    const signIn = await invoke('sdkUsersAuth', proxyEvent({ body: JSON.stringify({ externalId: 'built-user' }), pathParameters: { appUid: 'app-built' }, context: { appUid: 'app-built', keyId } }));
    const { authToken } = JSON.parse((signIn as { value: { body: string } }).value.body) as { authToken: string };
    const asSession = sessionTokenEvent(authToken, 'app-built');
    expect(await invoke('sessionAuthorizer', asSession)).toMatchObject({ ok: true, value: { context: { appUid: 'app-built' } } });

    expect(await invoke('revokeSessions', { appUid: 'app-built', createdByKeyId: keyId })).toMatchObject({ ok: true, value: { revoked: 1 } });
    expect(await invoke('sessionAuthorizer', asSession)).toMatchObject({ ok: false, errorType: 'Error', errorMessage: 'Unauthorized' });
    expect(await invoke('deleteUser', { appUid: 'app-built', externalId: 'built-user' })).toMatchObject({ ok: true, value: { deleted: true, sessionsRevoked: 0 } });
  });
});

describe('sealed records, as built', () => {
  const db = DynamoDBDocumentClient.from(client);

  test('the minified authorizer refuses a key whose hash item was moved to another app, and logs tampered with the hash tag only', async () => {
    const created = await invoke('createKey', { appUid: 'app-seal', name: 'sealed' });
    if (!created.ok) throw new Error(`create-key failed: ${created.errorType} ${created.errorMessage}`);
    const { apiKey } = created.value as { apiKey: string };
    expect(await invoke('apiKeyAuthorizer', apiKeyEvent(apiKey, 'app-seal'))).toMatchObject({ ok: true });
    const keyHash = await hash(apiKey);
    await db.send(new UpdateCommand({ TableName: env[ENV.keysTable], Key: keyHashItemKey(keyHash), UpdateExpression: 'SET appUid = :b', ExpressionAttributeValues: { ':b': 'app-other' } }));

    const refused = await invoke('apiKeyAuthorizer', apiKeyEvent(apiKey, 'app-other'));
    expect(refused).toMatchObject({ ok: false, errorType: 'Error', errorMessage: 'Unauthorized' });
    expect(refused.logs).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'api key refused', reason: 'tampered', seal: 'wrong', hashTag: keyHash.slice(0, 8) }));
    expect(JSON.stringify(refused.logs)).not.toContain(apiKey);
    // update-key refuses to reseal it, and its errorType survives minification.
    const { keyId } = created.value as { keyId: string };
    expect(await invoke('updateKey', { appUid: 'app-seal', keyId, enabled: true, name: 'again' })).toMatchObject({ ok: false, errorType: 'RecordSealInvalid' });
  });

  test('the minified session authorizer refuses a session handed to another user, and logs tampered with the hash tag only', async () => {
    const created = await invoke('createKey', { appUid: 'app-seal-s', name: 'opener' });
    if (!created.ok) throw new Error(`create-key failed: ${created.errorType} ${created.errorMessage}`);
    const signIn = await invoke('sdkUsersAuth', proxyEvent({ body: JSON.stringify({ externalId: 'sealed-user' }), pathParameters: { appUid: 'app-seal-s' }, context: { appUid: 'app-seal-s', keyId: (created.value as { keyId: string }).keyId } }));
    const { authToken } = JSON.parse((signIn as { value: { body: string } }).value.body) as { authToken: string };
    const asSession = sessionTokenEvent(authToken, 'app-seal-s');
    expect(await invoke('sessionAuthorizer', asSession)).toMatchObject({ ok: true, value: { context: { userKey: 'sealed-user' } } });
    const tokenHash = await hash(authToken);
    await db.send(new UpdateCommand({ TableName: env[ENV.sessionsTable], Key: sessionItemKey(tokenHash), UpdateExpression: 'SET userKey = :u', ExpressionAttributeValues: { ':u': 'someone-else' } }));
    const refused = await invoke('sessionAuthorizer', asSession);
    expect(refused).toMatchObject({ ok: false, errorType: 'Error', errorMessage: 'Unauthorized' });
    expect(refused.logs).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'session token refused', reason: 'tampered', seal: 'wrong', hashTag: tokenHash.slice(0, 8) }));
    expect(JSON.stringify(refused.logs)).not.toContain(authToken);
  });

  test('seal-records seals a legacy item; before that, the authorizer accepts it only with ACCEPT_UNSEALED_RECORDS=true, which still refuses a wrong seal', async () => {
    const apiKey = credentialFormat('kg').generate();
    const keyHash = await hash(apiKey);
    const legacy = { keyId: 'key_BUILTBUILTBUILTBUIL', appUid: 'app-legacy', name: 'legacy', displayPrefix: apiKey.slice(0, 11), createdAt: '2025-01-01T00:00:00.000Z' };
    await db.send(new PutCommand({ TableName: env[ENV.keysTable], Item: { ...keyHashItemKey(keyHash), ...legacy } }));
    const window = { [ENV.acceptUnsealedRecords]: 'true' };

    const strict = await invoke('apiKeyAuthorizer', apiKeyEvent(apiKey, 'app-legacy'));
    expect(strict).toMatchObject({ ok: false, errorMessage: 'Unauthorized' });
    expect(strict.logs).toContainEqual(expect.objectContaining({ reason: 'tampered', seal: 'missing' }));
    expect(await invoke('apiKeyAuthorizer', apiKeyEvent(apiKey, 'app-legacy'), window)).toMatchObject({ ok: true, value: { principalId: legacy.keyId } });

    expect(await invoke('sealRecords', { limit: 0 })).toMatchObject({ ok: false, errorType: 'ValidationError', errorMessage: expect.stringContaining('limit') });
    const sealed = await invoke('sealRecords', {});
    expect(sealed).toMatchObject({ ok: true, value: { keys: { sealed: 1, wrongSeal: 1 } } });
    expect(sealed.logs).toContainEqual(expect.objectContaining({ operation: 'seal-records', message: 'seal-records succeeded' }));
    expect(await invoke('apiKeyAuthorizer', apiKeyEvent(apiKey, 'app-legacy'))).toMatchObject({ ok: true, value: { principalId: legacy.keyId } });

    // A wrong seal is refused in the window too.
    await db.send(new UpdateCommand({ TableName: env[ENV.keysTable], Key: keyHashItemKey(keyHash), UpdateExpression: 'SET appUid = :b', ExpressionAttributeValues: { ':b': 'app-other' } }));
    const wrong = await invoke('apiKeyAuthorizer', apiKeyEvent(apiKey, 'app-other'), window);
    expect(wrong).toMatchObject({ ok: false, errorMessage: 'Unauthorized' });
    expect(wrong.logs).toContainEqual(expect.objectContaining({ reason: 'tampered', seal: 'wrong' }));
  });
});
