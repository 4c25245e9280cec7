import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { handler as apiKeyAuthorizer } from '../../functions/api-key-authorizer/index';
import { handler as sessionAuthorizer } from '../../functions/session-authorizer/index';
import { handler as sdkUsersAuth } from '../../functions/sdkusers-auth/index';
import { getApp, setAppPlan, type AppPlanDeps, type GatewayKeys, type SetAppPlanDeps } from '../../functions/domain/apps';
import { ActivityStore } from '../../functions/stores/activity-store';
import { createKey, deleteKey, rollKey } from '../../functions/domain/keys';
import { importKeys } from '../../functions/domain/key-import';
import { AppNotFound, ConfigurationError, GatewayUnavailable, StoreUnavailable, ValidationError } from '../../functions/domain/errors';
import { credentialFormat } from '../../functions/domain/credential-format';
import { createHasher } from '../../functions/domain/hashing';
import { revokeReportedKeys } from '../../functions/domain/revocation';
import { verifyApiKey } from '../../functions/domain/verify';
import { apiGatewayKeys } from '../../functions/lambda/gateway-keys';
import { apiKeyLookup } from '../../functions/stores/credential-lookup';
import { KeyStore } from '../../functions/stores/key-store';
import { createLocalApiGatewayApi, LocalGatewayKeyRegistry } from '../../lib/local/gateway-keys';
import { UsagePlanEnforcer } from '../../lib/local/usage-plans';
import { appKeyItemKey, appRecordItemKey, keyHashItemKey } from '../../lib/shared/item-keys';
import type { TableNames } from '../../lib/local/tables';
import { createTestTables, scanAll, testAuthorizerDynamoDb, testDynamoDbClient } from '../support/dynamodb';
import { apiKeyEvent, sessionTokenEvent } from '../support/events';
import { testSealer } from '../support/seals';

/**
 * Plans end to end below HTTP: the app registry and hash items in DynamoDB
 * Local, gateway keys through the API Gateway SDK client against the local
 * stack's emulation of API Gateway's key calls, and the authorizers reading
 * the result in their one GetItem.
 */
const USAGE_PLANS = { small: 'local-small', large: 'local-large' };
const keyFormat = credentialFormat('kg');
const hash = createHasher(async () => process.env.KEYGATE_LOCAL_PEPPER!);

let client: DynamoDBClient;
let tables: TableNames;
let registry: LocalGatewayKeyRegistry;
let server: Server;
let db: DynamoDBDocumentClient;
const warnings: Record<string, string>[] = [];

beforeAll(async () => {
  client = testDynamoDbClient();
  tables = await createTestTables(client);
  db = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  registry = new LocalGatewayKeyRegistry(Object.values(USAGE_PLANS));
  server = createLocalApiGatewayApi(registry);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.env.AWS_ENDPOINT_URL_API_GATEWAY = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  client.destroy();
  await new Promise((resolve) => {
    server.close(resolve);
    server.closeAllConnections();
  });
});

function planDeps(options: { defaultPlan?: string; gatewayKeys?: GatewayKeys; usagePlanIds?: Record<string, string> } = {}): SetAppPlanDeps {
  return {
    store: new KeyStore(db, tables.Keys, testSealer),
    activity: new ActivityStore(db, tables.Keys),
    gatewayKeys: options.gatewayKeys ?? apiGatewayKeys(),
    plans: { usagePlanIds: options.usagePlanIds ?? USAGE_PLANS, ...(options.defaultPlan && { defaultPlan: options.defaultPlan }) },
    now: () => new Date(),
    warn: (_message, fields) => warnings.push(fields),
  };
}

const appDeps = () => ({ store: new KeyStore(db, tables.Keys, testSealer) });

const keyDeps = (plans?: AppPlanDeps) => ({ keyFormat, hash, store: new KeyStore(db, tables.Keys, testSealer), now: () => new Date(), ...(plans && { plans }) });

async function hashItemOf(apiKey: string): Promise<Record<string, unknown> | undefined> {
  const { pk } = keyHashItemKey(await hash(apiKey));
  return (await scanAll(client, tables.Keys)).find((item) => item.pk === pk);
}

const allow = (apiKey: string, appUid: string) => apiKeyAuthorizer(apiKeyEvent(apiKey, appUid));

describe('set-app-plan and get-app', () => {
  test('puts an app on a plan: one gateway key in that usage plan, kept with the app and on every hash item; the authorizer returns it', async () => {
    const [first, second] = [await createKey(keyDeps(), { appUid: 'plan-a', name: 'one' }), await createKey(keyDeps(), { appUid: 'plan-a', name: 'two' })];
    const app = await setAppPlan(planDeps(), { appUid: 'plan-a', plan: 'small' });
    expect(app).toEqual({ appUid: 'plan-a', createdAt: first.createdAt, keyCount: 2, plan: 'small', gatewayKeyId: expect.stringMatching(/^[a-z0-9]{10}$/) });
    expect(Object.keys(app)).not.toContain('gatewayKey');

    const gatewayKey = registry.get(app.gatewayKeyId!)!;
    expect(gatewayKey).toMatchObject({ name: 'keygate-plan-a', enabled: true, usagePlanIds: ['local-small'] });
    expect(gatewayKey.value).toMatch(/^[0-9A-Za-z]{40}$/);
    for (const key of [first, second]) {
      expect((await hashItemOf(key.apiKey))?.gatewayKey).toBe(gatewayKey.value);
      expect(await allow(key.apiKey, 'plan-a')).toMatchObject({ principalId: key.keyId, usageIdentifierKey: gatewayKey.value });
    }
    // A value random and unrelated to any customer key.
    expect(gatewayKey.value).not.toContain(first.apiKey.slice(3, 20));
    expect(await getApp(appDeps(), { appUid: 'plan-a' })).toEqual(app);
  });

  test('the authorizer gets the gateway key from its one GetItem', async () => {
    const created = await createKey(keyDeps(), { appUid: 'plan-one-read', name: 'k' });
    const { gatewayKeyId } = await setAppPlan(planDeps(), { appUid: 'plan-one-read', plan: 'large' });
    const counting = testAuthorizerDynamoDb();
    const call = jest.spyOn(counting, 'call');
    const result = await verifyApiKey({ keyFormat, hash, sealer: testSealer, findKey: apiKeyLookup(counting, tables.Keys) }, created.apiKey, new Date());
    expect(result).toEqual({ code: 'valid', appUid: 'plan-one-read', keyId: created.keyId, gatewayKey: registry.get(gatewayKeyId!)!.value });
    expect(call).toHaveBeenCalledTimes(1);
    expect(call).toHaveBeenCalledWith('GetItem', expect.objectContaining({ TableName: tables.Keys, ConsistentRead: true }));
  });

  test('a key created for an app on a plan carries its gateway key; the registry counts keys up and down', async () => {
    await createKey(keyDeps(), { appUid: 'plan-b', name: 'first' });
    const { gatewayKeyId } = await setAppPlan(planDeps(), { appUid: 'plan-b', plan: 'small' });
    const later = await createKey(keyDeps(planDeps()), { appUid: 'plan-b', name: 'later' });
    expect((await hashItemOf(later.apiKey))?.gatewayKey).toBe(registry.get(gatewayKeyId!)!.value);
    expect((await getApp(appDeps(), { appUid: 'plan-b' })).keyCount).toBe(2);
    await deleteKey(keyDeps(), { appUid: 'plan-b', keyId: later.keyId });
    expect((await getApp(appDeps(), { appUid: 'plan-b' })).keyCount).toBe(1);
  });

  test('replacing an app\'s key (a new key, the old one deleted) keeps its gateway key, so its quota count carries on', async () => {
    const old = await createKey(keyDeps(planDeps({ defaultPlan: 'small' })), { appUid: 'plan-roll', name: 'old' });
    const before = (await hashItemOf(old.apiKey))?.gatewayKey;
    const replacement = await createKey(keyDeps(planDeps({ defaultPlan: 'small' })), { appUid: 'plan-roll', name: 'new' });
    await deleteKey(keyDeps(), { appUid: 'plan-roll', keyId: old.keyId });
    expect(before).toMatch(/^[0-9A-Za-z]{40}$/);
    expect((await hashItemOf(replacement.apiKey))?.gatewayKey).toBe(before);
    expect(registryKeysOf('plan-roll')).toHaveLength(1);
  });

  test('moving an app to another plan keeps its gateway key (id and value) and moves it between usage plans', async () => {
    const created = await createKey(keyDeps(), { appUid: 'plan-c', name: 'k' });
    const small = await setAppPlan(planDeps(), { appUid: 'plan-c', plan: 'small' });
    const value = registry.get(small.gatewayKeyId!)!.value;
    const large = await setAppPlan(planDeps(), { appUid: 'plan-c', plan: 'large' });
    expect(large).toMatchObject({ plan: 'large', gatewayKeyId: small.gatewayKeyId });
    expect(registry.get(small.gatewayKeyId!)).toMatchObject({ value, usagePlanIds: ['local-large'] });
    expect((await hashItemOf(created.apiKey))?.gatewayKey).toBe(value);
    // Setting the same plan again changes nothing.
    expect(await setAppPlan(planDeps(), { appUid: 'plan-c', plan: 'large' })).toEqual(large);
  });

  test('plan null without a default plan: the gateway key is deleted, the app forgets it, the hash items lose it', async () => {
    const created = await createKey(keyDeps(), { appUid: 'plan-d', name: 'k' });
    const { gatewayKeyId } = await setAppPlan(planDeps(), { appUid: 'plan-d', plan: 'small' });
    const app = await setAppPlan(planDeps(), { appUid: 'plan-d', plan: null });
    expect(app).toEqual({ appUid: 'plan-d', createdAt: created.createdAt, keyCount: 1 });
    expect(registry.get(gatewayKeyId!)).toBeUndefined();
    expect((await hashItemOf(created.apiKey))?.gatewayKey).toBeUndefined();
    const result = await allow(created.apiKey, 'plan-d');
    expect(result.usageIdentifierKey).toBeUndefined();
    expect(Object.keys(result)).not.toContain('usageIdentifierKey');
  });

  test('plan null with a default plan: back onto the default plan, same gateway key', async () => {
    await createKey(keyDeps(), { appUid: 'plan-e', name: 'k' });
    const large = await setAppPlan(planDeps({ defaultPlan: 'small' }), { appUid: 'plan-e', plan: 'large' });
    const back = await setAppPlan(planDeps({ defaultPlan: 'small' }), { appUid: 'plan-e', plan: null });
    expect(back).toMatchObject({ plan: 'small', gatewayKeyId: large.gatewayKeyId });
  });

  test('an app may get a plan before its first key; that key then carries the gateway key', async () => {
    const app = await setAppPlan(planDeps(), { appUid: 'plan-early', plan: 'small' });
    expect(app).toMatchObject({ appUid: 'plan-early', keyCount: 0, plan: 'small' });
    const created = await createKey(keyDeps(planDeps()), { appUid: 'plan-early', name: 'k' });
    expect((await hashItemOf(created.apiKey))?.gatewayKey).toBe(registry.get(app.gatewayKeyId!)!.value);
  });
});

describe('the default plan', () => {
  test('an app\'s first key puts it on the default plan; its next keys share the one gateway key', async () => {
    const deps = keyDeps(planDeps({ defaultPlan: 'small' }));
    const first = await createKey(deps, { appUid: 'default-a', name: 'one' });
    const second = await createKey(deps, { appUid: 'default-a', name: 'two' });
    const app = await getApp(appDeps(), { appUid: 'default-a' });
    expect(app).toMatchObject({ plan: 'small', keyCount: 2 });
    const value = registry.get(app.gatewayKeyId!)!.value;
    expect([(await hashItemOf(first.apiKey))?.gatewayKey, (await hashItemOf(second.apiKey))?.gatewayKey]).toEqual([value, value]);
    expect(registryKeysOf('default-a')).toHaveLength(1);
  });

  test('an app with keys from before plans were on gets the default plan with its next key, and its old keys get the gateway key too', async () => {
    const legacy = await createKey(keyDeps(), { appUid: 'default-legacy', name: 'before plans' });
    expect((await hashItemOf(legacy.apiKey))?.gatewayKey).toBeUndefined();
    await createKey(keyDeps(planDeps({ defaultPlan: 'large' })), { appUid: 'default-legacy', name: 'after' });
    expect((await hashItemOf(legacy.apiKey))?.gatewayKey).toMatch(/^[0-9A-Za-z]{40}$/);
  });

  test('without a default plan, a new app\'s key carries no gateway key (the app needs set-app-plan)', async () => {
    const created = await createKey(keyDeps(planDeps()), { appUid: 'default-none', name: 'k' });
    expect((await hashItemOf(created.apiKey))?.gatewayKey).toBeUndefined();
    expect(await getApp(appDeps(), { appUid: 'default-none' })).toEqual({ appUid: 'default-none', createdAt: created.createdAt, keyCount: 1 });
  });
});

describe('imported keys', () => {
  test('keys imported for a new app put it on the default plan and all carry its gateway key, counted once each', async () => {
    const deps = keyDeps(planDeps({ defaultPlan: 'small' }));
    // Keys of another keygate with the same prefix: imported as they are.
    const keys = [keyFormat.generate(), keyFormat.generate()];
    await importKeys(deps, { appUid: 'import-plan', keys: keys.map((key, index) => ({ key, name: `imported ${index}` })) });
    const app = await getApp(appDeps(), { appUid: 'import-plan' });
    expect(app).toMatchObject({ plan: 'small', keyCount: 2 });
    const value = registry.get(app.gatewayKeyId!)!.value;
    const hashItems = (await scanAll(client, tables.Keys)).filter((item) => String(item.pk).startsWith('hash#') && item.appUid === 'import-plan');
    expect(hashItems.map((item) => item.gatewayKey)).toEqual([value, value]);
  });

  test('keys imported for an app already on a plan carry its gateway key', async () => {
    const deps = keyDeps(planDeps());
    await createKey(deps, { appUid: 'import-onto-plan', name: 'first' });
    await setAppPlan(planDeps(), { appUid: 'import-onto-plan', plan: 'large' });
    await importKeys(deps, { appUid: 'import-onto-plan', keys: [{ key: keyFormat.generate(), name: 'imported' }] });
    const app = await getApp(appDeps(), { appUid: 'import-onto-plan' });
    expect(app).toMatchObject({ plan: 'large', keyCount: 2 });
    const hashItems = (await scanAll(client, tables.Keys)).filter((item) => String(item.pk).startsWith('hash#') && item.appUid === 'import-onto-plan');
    expect(new Set(hashItems.map((item) => item.gatewayKey))).toEqual(new Set([registry.get(app.gatewayKeyId!)!.value]));
  });
});

describe('roll-key, revocation and the one registry item', () => {
  /** The local gateway's check of a request's usageIdentifierKey against the plans, as after the authorizer. */
  const planCheck = () =>
    new UsagePlanEnforcer(
      Object.entries(USAGE_PLANS).map(([name, usagePlanId]) => ({ definition: { name, rateLimit: 1000, burstLimit: 1000 }, usagePlanId })),
      registry,
    );

  test('a rolled key carries its app\'s gateway key: the authorizer returns it from its one read and the plan admits it', async () => {
    const old = await createKey(keyDeps(planDeps({ defaultPlan: 'small' })), { appUid: 'roll-a', name: 'old' });
    const app = await getApp(appDeps(), { appUid: 'roll-a' });
    const value = registry.get(app.gatewayKeyId!)!.value;
    const rolled = await rollKey(keyDeps(), { appUid: 'roll-a', keyId: old.keyId, gracePeriodSeconds: 0 });
    expect((await hashItemOf(rolled.apiKey))?.gatewayKey).toBe(value);
    const result = await allow(rolled.apiKey, 'roll-a');
    expect(result).toMatchObject({ principalId: rolled.keyId, usageIdentifierKey: value });
    expect(planCheck().admit(result.usageIdentifierKey, 'GET', '/whoami')).toEqual({ ok: true, gatewayKeyId: app.gatewayKeyId });
    // One registry item, counting both keys (the old one until it is deleted), with the plan unchanged.
    expect(await getApp(appDeps(), { appUid: 'roll-a' })).toEqual({ ...app, keyCount: 2 });
    expect((await scanAll(client, tables.Keys)).filter((item) => item.pk === 'apps' && item.sk === 'app#roll-a')).toHaveLength(1);
  });

  test('a key of an app on no plan rolls to a key without a gateway key, which the plan check refuses (403)', async () => {
    const old = await createKey(keyDeps(planDeps()), { appUid: 'roll-none', name: 'old' });
    const rolled = await rollKey(keyDeps(), { appUid: 'roll-none', keyId: old.keyId });
    expect((await hashItemOf(rolled.apiKey))?.gatewayKey).toBeUndefined();
    expect(planCheck().admit((await allow(rolled.apiKey, 'roll-none')).usageIdentifierKey, 'GET', '/whoami')).toEqual({ ok: false, refusal: 'forbidden' });
  });

  test('keys rolled while their app is put on a plan all end up with its gateway key', async () => {
    const keys = [];
    for (let index = 0; index < 6; index++) keys.push(await createKey(keyDeps(), { appUid: 'roll-race', name: `k${index}` }));
    const rolls = keys.map((key) => rollKey(keyDeps(), { appUid: 'roll-race', keyId: key.keyId }));
    const [app, ...rolled] = await Promise.all([setAppPlan(planDeps(), { appUid: 'roll-race', plan: 'small' }), ...rolls]);
    const value = registry.get(app.gatewayKeyId!)!.value;
    for (const key of [...keys, ...rolled]) expect((await hashItemOf(key.apiKey))?.gatewayKey).toBe(value);
    expect((await getApp(appDeps(), { appUid: 'roll-race' })).keyCount).toBe(12);
  });

  test('keys rolled while their app is taken off its plan keep none of the deleted gateway key', async () => {
    const keys = [];
    for (let index = 0; index < 4; index++) keys.push(await createKey(keyDeps(), { appUid: 'roll-off', name: `k${index}` }));
    await setAppPlan(planDeps(), { appUid: 'roll-off', plan: 'large' });
    const rolls = keys.map((key) => rollKey(keyDeps(), { appUid: 'roll-off', keyId: key.keyId }));
    const [, ...rolled] = await Promise.all([setAppPlan(planDeps(), { appUid: 'roll-off', plan: null }), ...rolls]);
    for (const key of [...keys, ...rolled]) expect((await hashItemOf(key.apiKey))?.gatewayKey).toBeUndefined();
    expect(await getApp(appDeps(), { appUid: 'roll-off' })).toMatchObject({ keyCount: 8 });
    expect(Object.keys(await getApp(appDeps(), { appUid: 'roll-off' }))).not.toContain('plan');
  });

  test('revocation by report and delete-key count down the app of a plan, which keeps its plan and gateway key', async () => {
    const deps = keyDeps(planDeps({ defaultPlan: 'small' }));
    const [first, second, third] = [await createKey(deps, { appUid: 'count-plan', name: 'a' }), await createKey(deps, { appUid: 'count-plan', name: 'b' }), await createKey(deps, { appUid: 'count-plan', name: 'c' })];
    const before = await getApp(appDeps(), { appUid: 'count-plan' });
    expect(before).toMatchObject({ keyCount: 3, plan: 'small' });
    const outcome = await revokeReportedKeys({ keyFormat, hash, store: new KeyStore(db, tables.Keys, testSealer), now: () => new Date() }, { keys: [first.apiKey, first.apiKey] });
    expect(outcome.revoked).toEqual([{ keyId: first.keyId, appUid: 'count-plan' }]);
    await deleteKey(keyDeps(), { appUid: 'count-plan', keyId: second.keyId });
    expect(await getApp(appDeps(), { appUid: 'count-plan' })).toEqual({ ...before, keyCount: 1 });
    expect((await allow(third.apiKey, 'count-plan')).usageIdentifierKey).toBe(registry.get(before.gatewayKeyId!)!.value);
  });

  test('an app with keys from before the registry, put on a plan by set-app-plan, is registered counting them and dated by the oldest', async () => {
    for (const [keyId, createdAt] of [
      ['key_PLANLEGACY0000000001', '2025-01-02T00:00:00.000Z'],
      ['key_PLANLEGACY0000000002', '2025-01-01T00:00:00.000Z'],
    ] as const) {
      const key = { keyId, appUid: 'plan-legacy', name: 'old', displayPrefix: 'kg_OLDOLDOL', createdAt };
      await db.send(new PutCommand({ TableName: tables.Keys, Item: { ...keyHashItemKey(`legacy-${keyId}`), ...key } }));
      await db.send(new PutCommand({ TableName: tables.Keys, Item: { ...appKeyItemKey('plan-legacy', keyId), ...key, keyHash: `legacy-${keyId}` } }));
    }
    const app = await setAppPlan(planDeps(), { appUid: 'plan-legacy', plan: 'small' });
    expect(app).toMatchObject({ appUid: 'plan-legacy', createdAt: '2025-01-01T00:00:00.000Z', keyCount: 2, plan: 'small' });
    const hashItems = (await scanAll(client, tables.Keys)).filter((item) => String(item.pk).startsWith('hash#legacy-key_PLANLEGACY'));
    expect(hashItems.map((item) => item.gatewayKey)).toEqual([registry.get(app.gatewayKeyId!)!.value, registry.get(app.gatewayKeyId!)!.value]);
    await deleteKey(keyDeps(), { appUid: 'plan-legacy', keyId: 'key_PLANLEGACY0000000001' });
    expect((await getApp(appDeps(), { appUid: 'plan-legacy' })).keyCount).toBe(1);
  });
});

describe('races', () => {
  test('keys created while the app is put on a plan all end up with its gateway key', async () => {
    await createKey(keyDeps(), { appUid: 'race-a', name: 'seed' });
    const creates = Array.from({ length: 12 }, (_, index) => createKey(keyDeps(planDeps()), { appUid: 'race-a', name: `k${index}` }));
    const [app, ...created] = await Promise.all([setAppPlan(planDeps(), { appUid: 'race-a', plan: 'small' }), ...creates]);
    const value = registry.get(app.gatewayKeyId!)!.value;
    for (const key of created) expect((await hashItemOf(key.apiKey))?.gatewayKey).toBe(value);
    expect((await getApp(appDeps(), { appUid: 'race-a' })).keyCount).toBe(13);
  });

  test('first keys of a new app created at once with a default plan: one gateway key, no orphan in API Gateway', async () => {
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, index) => createKey(keyDeps(planDeps({ defaultPlan: 'small' })), { appUid: 'race-b', name: `k${index}` })));
    const app = await getApp(appDeps(), { appUid: 'race-b' });
    const value = registry.get(app.gatewayKeyId!)!.value;
    for (const result of results) {
      // A loser of the race may be told to try again (retryable), never left half done.
      if (result.status === 'rejected') expect(result.reason).toMatchObject({ name: 'StoreUnavailable', retryable: true });
      else expect((await hashItemOf(result.value.apiKey))?.gatewayKey).toBe(value);
    }
    expect(results.filter((result) => result.status === 'fulfilled').length).toBeGreaterThan(0);
    expect(registryKeysOf('race-b')).toEqual([app.gatewayKeyId]);
  });
});

describe('the activity log', () => {
  test('each change of plan is one plan-changed event with who asked and what it was and is; a call that changes nothing records nothing', async () => {
    const events = async () => (await new ActivityStore(db, tables.Keys).list('plan-log', { limit: 100 })).events.filter((event) => event.action === 'plan-changed');
    await setAppPlan(planDeps(), { appUid: 'plan-log', plan: 'small', requestedBy: 'local:alice' });
    await setAppPlan(planDeps(), { appUid: 'plan-log', plan: 'small', requestedBy: 'local:alice' });
    await setAppPlan(planDeps(), { appUid: 'plan-log', plan: 'large' });
    await setAppPlan(planDeps(), { appUid: 'plan-log', plan: null, requestedBy: 'local:bob' });
    expect((await events()).map(({ requestedBy, details }) => ({ requestedBy, details }))).toEqual([
      { requestedBy: 'local:bob', details: { plan: { from: 'large', to: null } } },
      { requestedBy: undefined, details: { plan: { from: 'small', to: 'large' } } },
      { requestedBy: 'local:alice', details: { plan: { from: null, to: 'small' } } },
    ]);
  });
});

describe('the activity log, when a later step fails', () => {
  test('a change is recorded as soon as the registry has it: if copying the gateway key onto the keys then fails, the event is there, and the retry finishes the copy without a second event', async () => {
    const created = await createKey(keyDeps(), { appUid: 'plan-log-fail', name: 'k' });
    const deps = planDeps();
    jest.spyOn(deps.store, 'setGatewayKeyOnKeys').mockRejectedValueOnce(new StoreUnavailable('set gateway key on keys failed; try again'));
    await expect(setAppPlan(deps, { appUid: 'plan-log-fail', plan: 'small' })).rejects.toMatchObject({ name: 'StoreUnavailable' });
    const events = async () => (await new ActivityStore(db, tables.Keys).list('plan-log-fail', { limit: 100 })).events.filter((event) => event.action === 'plan-changed');
    expect(await events()).toHaveLength(1);
    expect((await hashItemOf(created.apiKey))?.gatewayKey).toBeUndefined();
    await setAppPlan(planDeps(), { appUid: 'plan-log-fail', plan: 'small' });
    expect(await events()).toHaveLength(1);
    expect((await hashItemOf(created.apiKey))?.gatewayKey).toEqual(expect.any(String));
  });
});

describe("a plan changed in the table without the pepper (the registry item's seal)", () => {
  test("another app's gateway key written into an app's registry item is refused by create-key, roll-key and set-app-plan, which write nothing and delete no gateway key", async () => {
    const victim = await setAppPlan(planDeps(), { appUid: 'seal-victim', plan: 'large' });
    const victimKey = registry.get(victim.gatewayKeyId!)!;
    const mine = await createKey(keyDeps(), { appUid: 'seal-mine', name: 'k' });
    await setAppPlan(planDeps(), { appUid: 'seal-mine', plan: 'small' });
    expect(await allow(mine.apiKey, 'seal-mine')).toMatchObject({ usageIdentifierKey: expect.any(String) });
    // A table writer points seal-mine's plan at seal-victim's gateway key (id and value), to be metered on the large plan.
    await db.send(
      new UpdateCommand({
        TableName: tables.Keys,
        Key: appRecordItemKey('seal-mine'),
        UpdateExpression: 'SET gatewayKey = :value, gatewayKeyId = :id, #plan = :plan',
        ExpressionAttributeNames: { '#plan': 'plan' },
        ExpressionAttributeValues: { ':value': victimKey.value, ':id': victim.gatewayKeyId, ':plan': 'large' },
      }),
    );
    // Without lastUsedAt, which the authorizer writes after it has answered.
    const keyItems = async () => (await scanAll(client, tables.Keys)).map(({ lastUsedAt: _lastUsedAt, ...item }) => item);
    const itemsBefore = await keyItems();
    const refused = { name: 'RecordSealInvalid', message: expect.stringMatching(/^app seal-mine: the seal of its plan .* does not verify/) };
    await expect(createKey(keyDeps(planDeps()), { appUid: 'seal-mine', name: 'laundered' })).rejects.toMatchObject(refused);
    await expect(rollKey(keyDeps(), { appUid: 'seal-mine', keyId: mine.keyId })).rejects.toMatchObject(refused);
    await expect(setAppPlan(planDeps(), { appUid: 'seal-mine', plan: 'small' })).rejects.toMatchObject(refused);
    // Taking it off its plan would delete the gateway key it names: the victim's.
    await expect(setAppPlan(planDeps(), { appUid: 'seal-mine', plan: null })).rejects.toMatchObject(refused);
    expect(await keyItems()).toEqual(itemsBefore);
    expect(registry.get(victim.gatewayKeyId!)).toMatchObject({ enabled: true, usagePlanIds: ['local-large'] });
    // The key itself is untouched: still on its own gateway key, not the victim's.
    expect(await allow(mine.apiKey, 'seal-mine')).not.toMatchObject({ usageIdentifierKey: victimKey.value });
  });

  test('set-app-plan seals what it records, and taking an app off its plan removes the seal with it', async () => {
    await setAppPlan(planDeps(), { appUid: 'seal-rec', plan: 'small' });
    const item = async () => (await db.send(new GetCommand({ TableName: tables.Keys, Key: appRecordItemKey('seal-rec'), ConsistentRead: true }))).Item!;
    expect((await item()).seal).toMatch(/^v1\./);
    await setAppPlan(planDeps(), { appUid: 'seal-rec', plan: null });
    expect(await item()).not.toHaveProperty('seal');
    expect(await item()).not.toHaveProperty('gatewayKey');
  });
});

describe('refusals write nothing', () => {
  test.each<[string, unknown, string, RegExp]>([
    ['a plan that does not exist', { appUid: 'bad-a', plan: 'gold' }, 'plan', /^plan must be one of small, large, or null to take the app off its plan$/],
    ['a plan that is not a string', { appUid: 'bad-a', plan: 3 }, 'plan', /plan must be a plan name or null/],
    ['no plan field', { appUid: 'bad-a' }, 'plan', /plan is required/],
    ['a bad appUid', { appUid: 'a/b', plan: 'small' }, 'appUid', /appUid may contain only/],
    ['an unknown field', { appUid: 'bad-a', plan: 'small', tier: 'x' }, 'tier', /unknown field tier/],
  ])('%s: ValidationError naming %s', async (_name, input, field, message) => {
    const before = await scanAll(client, tables.Keys);
    const keysBefore = registry.all();
    const error = await setAppPlan(planDeps(), input).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field, message: expect.stringMatching(message) });
    expect(await scanAll(client, tables.Keys)).toEqual(before);
    expect(registry.all()).toEqual(keysBefore);
  });

  test('a pasted key in the plan field is not repeated in the error', async () => {
    const pasted = keyFormat.generate();
    const error = (await setAppPlan(planDeps(), { appUid: 'bad-a', plan: pasted }).catch((caught: unknown) => caught)) as Error;
    expect(error.message).not.toContain(pasted.slice(3, 20));
  });

  test('plans off: set-app-plan says so (ValidationError on plan)', async () => {
    await expect(setAppPlan(planDeps({ usagePlanIds: {} }), { appUid: 'bad-a', plan: 'small' })).rejects.toMatchObject({
      name: 'ValidationError',
      field: 'plan',
      message: 'plans are off in this deployment: there is no plan to put an app on',
    });
  });

  test('get-app and set-app-plan null of an app never seen: AppNotFound', async () => {
    await expect(getApp(appDeps(), { appUid: 'never-seen' })).rejects.toBeInstanceOf(AppNotFound);
    await expect(setAppPlan(planDeps(), { appUid: 'never-seen', plan: null })).rejects.toBeInstanceOf(AppNotFound);
  });

  test('API Gateway unreachable: GatewayUnavailable, and the app gets no plan', async () => {
    await createKey(keyDeps(), { appUid: 'gw-down', name: 'k' });
    const saved = process.env.AWS_ENDPOINT_URL_API_GATEWAY;
    process.env.AWS_ENDPOINT_URL_API_GATEWAY = 'http://127.0.0.1:1';
    try {
      await expect(setAppPlan(planDeps(), { appUid: 'gw-down', plan: 'small' })).rejects.toBeInstanceOf(GatewayUnavailable);
    } finally {
      process.env.AWS_ENDPOINT_URL_API_GATEWAY = saved;
    }
    expect((await getApp(appDeps(), { appUid: 'gw-down' })).plan).toBeUndefined();
  });

  test('a usage plan API Gateway does not know: the gateway key just made is deleted again', async () => {
    await createKey(keyDeps(), { appUid: 'gw-noplan', name: 'k' });
    await expect(setAppPlan(planDeps({ usagePlanIds: { small: 'not-a-usage-plan' } }), { appUid: 'gw-noplan', plan: 'small' })).rejects.toBeInstanceOf(ConfigurationError);
    expect(registryKeysOf('gw-noplan')).toEqual([]);
    expect((await getApp(appDeps(), { appUid: 'gw-noplan' })).gatewayKeyId).toBeUndefined();
  });

  test('a failed clean-up is reported with the gateway key id to delete by hand', async () => {
    const real = apiGatewayKeys();
    const flaky: GatewayKeys = { ...real, attach: async () => Promise.reject(new GatewayUnavailable('down')), remove: async () => Promise.reject(new GatewayUnavailable('down')) };
    await createKey(keyDeps(), { appUid: 'gw-orphan', name: 'k' });
    warnings.length = 0;
    await expect(setAppPlan(planDeps({ gatewayKeys: flaky }), { appUid: 'gw-orphan', plan: 'small' })).rejects.toBeInstanceOf(GatewayUnavailable);
    const [orphan] = registryKeysOf('gw-orphan');
    expect(warnings).toEqual([{ appUid: 'gw-orphan', gatewayKeyId: orphan }]);
  });
});

describe('sessions', () => {
  test('a session opened with a key of an app on a plan carries its gateway key; the session authorizer returns it', async () => {
    await createKey(keyDeps(), { appUid: 'plan-s', name: 'k' });
    const { gatewayKeyId } = await setAppPlan(planDeps(), { appUid: 'plan-s', plan: 'small' });
    const value = registry.get(gatewayKeyId!)!.value;
    const event = {
      httpMethod: 'POST',
      path: '/api/v1/appuid/plan-s/sdkusers/auth',
      body: JSON.stringify({ externalId: 'user-1' }),
      isBase64Encoded: false,
      headers: { 'content-type': 'application/json' },
      pathParameters: { appUid: 'plan-s' },
      requestContext: { authorizer: { appUid: 'plan-s', keyId: 'key_AAAAAAAAAAAAAAAAAAAA', role: 'app-owner' }, identity: { apiKey: value, apiKeyId: gatewayKeyId } },
    } as unknown as APIGatewayProxyEvent;
    const response = await sdkUsersAuth(event);
    expect(response.statusCode).toBe(200);
    const { authToken } = JSON.parse(response.body) as { authToken: string };
    const result = await sessionAuthorizer(sessionTokenEvent(authToken, 'plan-s'));
    expect(result.usageIdentifierKey).toBe(value);
  });
});

/** Gateway key ids in the local registry named for an app. */
function registryKeysOf(appUid: string): string[] {
  return registry.all().filter((key) => key.name === `keygate-${appUid}`).map((key) => key.id);
}
