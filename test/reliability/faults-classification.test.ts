import { DynamoDBClient, GetItemCommand, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { ENV } from '../../lib/shared/environment';
import { isTransientStoreFailure, storeError } from '../../functions/stores/dynamodb-errors';
import { apiKeyLookup } from '../../functions/stores/credential-lookup';
import { DynamoDbHttpClient } from '../../functions/aws-http/dynamodb';
import { createTestTables, scanAll, testDynamoDbClient } from '../support/dynamodb';
import { apiKeyEvent, gatewayOutcome, proxyEvent } from '../support/events';
import type { TableNames } from '../../lib/local/tables';
import { FaultProxy, OutputCapture, coldStartHandlers, failure, lastUsedRecorded, type ColdStartHandlers } from './support';

/**
 * DynamoDB failures sorted into the two kinds a caller must tell apart:
 * StoreUnavailable (retryable: admin errorType, 503 from sdkusers/auth and the
 * public revoke route) and
 * StoreMisconfigured (retrying cannot help: 500, logged at ERROR). The errors
 * are real: DynamoDB Local's own for a missing table and a bad expression, and
 * AccessDenied or a 5xx answered in DynamoDB's wire format by the fault proxy
 * (DynamoDB Local accepts any signature, so it never denies access).
 */

let client: DynamoDBClient;
let tables: TableNames;
let proxy: FaultProxy;
let viaProxy: ColdStartHandlers;
let onMissingTables: ColdStartHandlers;
const output = new OutputCapture();

beforeAll(async () => {
  client = testDynamoDbClient();
  tables = await createTestTables(client);
  proxy = new FaultProxy(process.env.KEYGATE_TEST_DYNAMODB_ENDPOINT!);
  const proxyEndpoint = await proxy.start();
  process.env.AWS_MAX_ATTEMPTS = '2';
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';

  // Functions deployed with table names that do not exist: DynamoDB answers ResourceNotFoundException.
  const configured = { [ENV.keysTable]: tables.Keys, [ENV.sessionsTable]: tables.Sessions, [ENV.usersTable]: tables.Users };
  Object.assign(process.env, { [ENV.keysTable]: 'missing-keys', [ENV.sessionsTable]: 'missing-sessions', [ENV.usersTable]: 'missing-users' });
  onMissingTables = coldStartHandlers();
  Object.assign(process.env, configured);

  process.env.AWS_ENDPOINT_URL_DYNAMODB = proxyEndpoint;
  viaProxy = coldStartHandlers();
  output.start();
});

afterAll(async () => {
  output.stop();
  await proxy.stop();
  client.destroy();
});

afterEach(() => {
  proxy.mode = { kind: 'pass' };
  output.clear();
});

const everything = async () => [...(await scanAll(client, tables.Keys)), ...(await scanAll(client, tables.Sessions)), ...(await scanAll(client, tables.Users))];

test("DynamoDB Local's ResourceNotFoundException (missing table) and ValidationException (bad expression) are StoreMisconfigured, not retryable", async () => {
  const missingTable = await failure(client.send(new GetItemCommand({ TableName: 'no-such-table', Key: { pk: { S: 'x' }, sk: { S: 'y' } } })));
  expect(missingTable).toMatchObject({ name: 'ResourceNotFoundException' });
  const badExpression = await failure(
    client.send(new GetItemCommand({ TableName: tables.Keys, Key: { pk: { S: 'x' }, sk: { S: 'y' } }, ProjectionExpression: 'a b c' })),
  );
  expect(badExpression).toMatchObject({ name: 'ValidationException' });
  for (const error of [missingTable, badExpression]) {
    expect(isTransientStoreFailure(error)).toBe(false);
    expect(storeError('read', error)).toMatchObject({ name: 'StoreMisconfigured', retryable: false });
  }
});

test("the authorizers' client failing before it sends (no credentials, no region): StoreMisconfigured, not a retryable outage", async () => {
  const lookUp = (env: Record<string, string | undefined>) => apiKeyLookup(new DynamoDbHttpClient({ env }), tables.Keys)('x');
  const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  const noCredentials = await failure(lookUp({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_DYNAMODB: endpoint }));
  expect(noCredentials).toMatchObject({ name: 'StoreMisconfigured', retryable: false, cause: expect.objectContaining({ name: 'CredentialsProviderError' }) });
  const noRegion = await failure(lookUp({ AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_ENDPOINT_URL_DYNAMODB: endpoint }));
  expect(noRegion).toMatchObject({ name: 'StoreMisconfigured', retryable: false, cause: expect.objectContaining({ name: 'ConfigurationError' }) });
});

test('a cancelled transaction is retryable only when every reason is transient', () => {
  const cancelled = (...codes: string[]) =>
    new TransactionCanceledException({ message: 'cancelled', $metadata: { httpStatusCode: 400 }, CancellationReasons: codes.map((Code) => ({ Code })) });
  expect(storeError('write', cancelled('None', 'TransactionConflict'))).toMatchObject({ name: 'StoreUnavailable', retryable: true });
  expect(storeError('write', cancelled('ThrottlingError', 'ProvisionedThroughputExceeded'))).toMatchObject({ name: 'StoreUnavailable' });
  expect(storeError('write', cancelled('None', 'ValidationError'))).toMatchObject({ name: 'StoreMisconfigured', retryable: false });
  expect(storeError('write', cancelled('ItemCollectionSizeLimitExceeded'))).toMatchObject({ name: 'StoreMisconfigured' });
  // A failed condition means something to the caller (a collision, a deleted key): passed through unchanged.
  const conditionFailed = cancelled('ConditionalCheckFailed', 'None');
  expect(storeError('write', conditionFailed)).toBe(conditionFailed);
});

/** Every admin function, each called as its handler would be by the CLI, on an unknown key where it takes one. */
const adminCalls = (handlers: ColdStartHandlers, appUid: string) =>
  [
    ['create-key', () => handlers.createKey({ appUid, name: 'n' })],
    ['list-keys', () => handlers.listKeys({ appUid })],
    ['delete-key', () => handlers.deleteKey({ appUid, keyId: 'key_00000000000000000000' })],
    ['roll-key', () => handlers.rollKey({ appUid, keyId: 'key_00000000000000000000' })],
    ['update-key', () => handlers.updateKey({ appUid, keyId: 'key_00000000000000000000', enabled: false })],
    ['list-key-events', () => handlers.listKeyEvents({ appUid })],
  ] as const;

test('functions pointed at tables that do not exist: admin StoreMisconfigured logged at ERROR, sdkusers/auth and revoke 500, authorizers 500 logged as StoreMisconfigured', async () => {
  // Real keys for the authorizer and the revoke route to look up, made first: the snapshot holds them and their events.
  const key = (await viaProxy.createKey({ appUid: 'cfg', name: 'real' })).apiKey;
  const reportedKey = (await viaProxy.createKey({ appUid: 'cfg-r', name: 'reported' })).apiKey;
  const before = await everything();
  output.clear();
  const calls = adminCalls(onMissingTables, 'cfg');
  for (const [name, call] of calls) {
    const failed = await failure(call());
    expect([name, failed]).toEqual([name, expect.objectContaining({ name: 'StoreMisconfigured', retryable: false })]);
    expect(failed?.message).toContain('failed: DynamoDB ResourceNotFoundException');
    expect(failed?.message).not.toContain('try again');
  }
  const adminLogs = output.lines().filter((line) => line.errorType === 'StoreMisconfigured');
  expect(adminLogs.map((line) => [line.operation, line.level])).toEqual(calls.map(([name]) => [name, 'ERROR']));

  const auth = await onMissingTables.sdkUsersAuth(proxyEvent({ body: JSON.stringify({ externalId: 'u-1' }), context: { appUid: 'cfg', keyId: 'key_1' } }));
  expect(auth.statusCode).toBe(500);
  expect(JSON.parse(auth.body)).toEqual({ message: 'internal error' });
  expect(output.lines()).toContainEqual(expect.objectContaining({ level: 'ERROR', message: 'sdkusers/auth failed', errorType: 'StoreMisconfigured' }));

  // The public revoke route: a well-formed key must be looked up, so the missing table is reached.
  const reported = await onMissingTables.revokeKeys(proxyEvent({ body: JSON.stringify({ keys: [reportedKey] }) }));
  expect(reported.statusCode).toBe(500);
  expect(JSON.parse(reported.body)).toEqual({ message: 'internal error' });
  expect(output.lines()).toContainEqual(expect.objectContaining({ level: 'ERROR', message: 'keys/revoke failed', errorType: 'StoreMisconfigured' }));

  expect(await gatewayOutcome(onMissingTables.apiKeyAuthorizer, apiKeyEvent(key, 'cfg'))).toEqual({ status: 500 });
  expect(output.lines()).toContainEqual(
    expect.objectContaining({ level: 'ERROR', message: 'api key verification failed; refusing', errorType: 'StoreMisconfigured', retryable: false, operatorActionNeeded: true }),
  );
  expect(await everything()).toEqual(before);
});

describe.each([
  ['AccessDeniedException', 400, 'StoreMisconfigured', false, 500],
  ['UnrecognizedClientException', 400, 'StoreMisconfigured', false, 500],
  ['InternalServerError', 500, 'StoreUnavailable', true, 503],
  ['ServiceUnavailable', 503, 'StoreUnavailable', true, 503],
] as const)('DynamoDB answering %s (HTTP %i)', (error, status, errorType, retryable, httpStatus) => {
  test(`every admin function ${errorType} (retryable ${retryable}), sdkusers/auth and revoke ${httpStatus}, authorizer 500 logged as ${errorType}; nothing written`, async () => {
    const app = `cls-${status}-${error.length}`;
    const live = await viaProxy.createKey({ appUid: app, name: 'live' });
    const before = await everything();
    output.clear();

    proxy.mode = { kind: 'refuse', error, status };
    const failed = await failure(viaProxy.createKey({ appUid: app, name: 'during' }));
    expect(failed).toMatchObject({ name: errorType, retryable });
    expect(failed?.message).toContain(`create-key failed: DynamoDB ${error}`);
    for (const [name, call] of adminCalls(viaProxy, app)) {
      expect([name, await failure(call())]).toEqual([name, expect.objectContaining({ name: errorType, retryable })]);
    }

    const auth = await viaProxy.sdkUsersAuth(proxyEvent({ body: JSON.stringify({ externalId: 'u-1' }), context: { appUid: app, keyId: live.keyId } }));
    expect(auth.statusCode).toBe(httpStatus);
    const reported = await viaProxy.revokeKeys(proxyEvent({ body: JSON.stringify({ keys: [live.apiKey] }) }));
    expect(reported.statusCode).toBe(httpStatus);

    expect(await gatewayOutcome(viaProxy.apiKeyAuthorizer, apiKeyEvent(live.apiKey, app))).toEqual({ status: 500 });
    expect(output.lines()).toContainEqual(expect.objectContaining({ level: 'ERROR', message: 'api key verification failed; refusing', errorType, retryable }));
    const adminLevel = retryable ? 'WARN' : 'ERROR';
    for (const [name] of adminCalls(viaProxy, app)) expect(output.lines()).toContainEqual(expect.objectContaining({ level: adminLevel, operation: name, errorType }));
    expect(output.lines()).toContainEqual(expect.objectContaining({ level: adminLevel, message: 'keys/revoke failed', errorType }));

    proxy.mode = { kind: 'pass' };
    expect(await everything()).toEqual(before);
    expect((await gatewayOutcome(viaProxy.apiKeyAuthorizer, apiKeyEvent(live.apiKey, app))).status).toBe(200);
    // Its lastUsedAt write runs after the answer: let it land here, not in the next test's snapshot.
    await lastUsedRecorded(client, tables.Keys, app);
  });
});

test("the authorizer's lastUsedAt write refused for good (AccessDenied on UpdateItem): the key is let in, the write is logged at ERROR as StoreMisconfigured", async () => {
  const app = 'cls-last-used';
  const live = await viaProxy.createKey({ appUid: app, name: 'used' });
  output.clear();
  proxy.mode = { kind: 'refuse', error: 'AccessDeniedException', status: 400, operations: ['UpdateItem'] };
  expect((await gatewayOutcome(viaProxy.apiKeyAuthorizer, apiKeyEvent(live.apiKey, app))).status).toBe(200);
  const notRecorded = () => output.lines().filter((line) => line.message === 'lastUsedAt not recorded');
  for (let i = 0; i < 250 && notRecorded().length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(notRecorded()).toEqual([
    expect.objectContaining({ level: 'ERROR', keyId: live.keyId, errorType: 'StoreMisconfigured', errorMessage: expect.stringContaining('DynamoDB AccessDeniedException') }),
  ]);
});
