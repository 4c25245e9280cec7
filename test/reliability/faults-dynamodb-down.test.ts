import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../lib/local/dynamodb-local';
import { ensureTables, type TableNames } from '../../lib/local/tables';
import { scanAll, testTableNames } from '../support/dynamodb';
import { apiKeyEvent, gatewayOutcome, proxyEvent, sessionTokenEvent } from '../support/events';
import { OutputCapture, coldStartHandlers, type ColdStartHandlers } from './support';

/**
 * DynamoDB really down: this file starts its own DynamoDB Local (on disk, in a
 * temporary folder), stops the process, then starts it again on the same port.
 * The handlers are loaded once, pointed at it, and must serve again after the
 * restart with the same module instances (same clients, same pepper cache).
 */

let dataDir: string;
let dynamodb: DynamoDbLocal;
let client: DynamoDBClient;
let tables: TableNames;
let fns: ColdStartHandlers;
const output = new OutputCapture();

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'keygate-outage-'));
  dynamodb = await startDynamoDbLocal({ dataDir });
  client = new DynamoDBClient({ endpoint: dynamodb.endpoint, maxAttempts: 1 });
  tables = testTableNames();
  await ensureTables(client, tables);
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamodb.endpoint;
  process.env.AWS_MAX_ATTEMPTS = '2';
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
  fns = coldStartHandlers();
  output.start();
}, 120_000);

afterAll(async () => {
  output.stop();
  client?.destroy();
  await dynamodb?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const APP = 'outage-app';
const keyEvent = (apiKey: string) => apiKeyEvent(apiKey, APP);
const sessionEvent = (token: string) => sessionTokenEvent(token, APP);
const snapshot = async () =>
  JSON.stringify(await Promise.all([tables.Keys, tables.Sessions, tables.Users].map(async (name) => (await scanAll(client, name)).map((item) => JSON.stringify(item)).sort())));

test('DynamoDB Local stopped: authorizers 500 (never Allow), admin StoreUnavailable (retryable); restarted on the same port: everything works, nothing half-written', async () => {
  const live = await fns.createKey({ appUid: APP, name: 'live' });
  const granted = await gatewayOutcome(fns.apiKeyAuthorizer, keyEvent(live.apiKey));
  expect(granted.status).toBe(200);
  const issued = await fns.sdkUsersAuth(proxyEvent({ body: JSON.stringify({ externalId: 'outage-user' }), context: (granted as { context: Record<string, string> }).context }));
  const token = (JSON.parse(issued.body) as { authToken: string }).authToken;
  const before = await snapshot();

  await dynamodb.stop();
  output.clear();
  const started = Date.now();
  expect(await gatewayOutcome(fns.apiKeyAuthorizer, keyEvent(live.apiKey))).toEqual({ status: 500 });
  expect(await gatewayOutcome(fns.sessionAuthorizer, sessionEvent(token))).toEqual({ status: 500 });
  expect(await gatewayOutcome(fns.apiKeyAuthorizer, keyEvent('kg_not-even-well-formed'))).toEqual({ status: 401 });
  for (const call of [
    () => fns.createKey({ appUid: APP, name: 'while down' }),
    () => fns.listKeys({ appUid: APP }),
    () => fns.deleteKey({ appUid: APP, keyId: live.keyId }),
  ]) {
    await expect(call()).rejects.toMatchObject({ name: 'StoreUnavailable', retryable: true, message: expect.stringMatching(/failed: DynamoDB .*nothing was written, try again/) });
  }
  const auth = await fns.sdkUsersAuth(proxyEvent({ body: JSON.stringify({ externalId: 'while-down' }), context: { appUid: APP, keyId: live.keyId } }));
  expect(auth.statusCode).toBe(503);
  const downFor = Date.now() - started;

  // The logs say what failed: the authorizer's error names the connection failure; admin warnings carry errorType and retryable.
  const lines = output.lines();
  const refusals = lines.filter((line) => line.level === 'ERROR' && /verification failed; refusing/.test(String(line.message)));
  expect(refusals).toHaveLength(2);
  for (const line of refusals) expect(JSON.stringify(line.error)).toMatch(/ECONNREFUSED|connect/i);
  expect(lines.filter((line) => line.level === 'WARN' && line.errorType === 'StoreUnavailable' && line.retryable === true)).toHaveLength(3);
  // Failing fast matters: an authorizer that hangs holds the caller until API Gateway's timeout.
  expect(downFor).toBeLessThan(15_000);

  dynamodb = await startDynamoDbLocal({ dataDir, port: dynamodb.port });
  expect(await snapshot()).toBe(before);
  expect(await gatewayOutcome(fns.apiKeyAuthorizer, keyEvent(live.apiKey))).toMatchObject({ status: 200 });
  expect(await gatewayOutcome(fns.sessionAuthorizer, sessionEvent(token))).toMatchObject({ status: 200 });
  const after = await fns.createKey({ appUid: APP, name: 'after restart' });
  expect((await fns.listKeys({ appUid: APP })).keys).toHaveLength(2);
  await fns.deleteKey({ appUid: APP, keyId: live.keyId });
  expect(await gatewayOutcome(fns.apiKeyAuthorizer, keyEvent(live.apiKey))).toEqual({ status: 401 });
  expect((await gatewayOutcome(fns.apiKeyAuthorizer, keyEvent(after.apiKey))).status).toBe(200);
  // The session outlives its key, across the outage too.
  expect((await gatewayOutcome(fns.sessionAuthorizer, sessionEvent(token))).status).toBe(200);
  output.stop();
  process.stdout.write(`\n[faults-dynamodb-down] refusals while down took ${downFor} ms in total\n`);
}, 120_000);
