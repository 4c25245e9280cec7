import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { handler as apiKeyAuthorizer } from '../../functions/api-key-authorizer/index';
import { handler as sessionAuthorizer } from '../../functions/session-authorizer/index';
import { handler as createKeyHandler } from '../../functions/create-key/index';
import { handler as deleteKeyHandler } from '../../functions/delete-key/index';
import { handler as sdkUsersAuth } from '../../functions/sdkusers-auth/index';
import { handler as sdkUsersMe } from '../../functions/sdkusers-me/index';
import { createTestTables, scanAll, testDynamoDbClient } from '../support/dynamodb';
import { authorizerEvent, gatewayOutcome, methodArn, proxyEvent, sessionTokenEvent } from '../support/events';
import type { TableNames } from '../../lib/local/tables';
import { inBatches, requestsAround } from './support';

/**
 * Revocation race: create a key, use it concurrently, delete it while
 * requests are in flight, then use it again. A request that starts after
 * delete-key returned must never be let in; a session created with the key
 * before the delete keeps working (DESIGN §3, §5). Cycles run in parallel
 * batches so that deletes of one cycle overlap verifies of others.
 */

const CYCLES = 500;
const PARALLEL_CYCLES = 12;
const VERIFIES_BEFORE = 2;
const VERIFIES_AFTER = 3;
const MAX_VERIFIES_DURING = 6;

let client: DynamoDBClient;
let tables: TableNames;
beforeAll(async () => {
  client = testDynamoDbClient();
  tables = await createTestTables(client);
});
afterAll(() => client.destroy());

interface CycleResult {
  readonly allowsBeforeDelete: number;
  readonly duringDelete: { allowed: number; refused: number };
  readonly allowsAfterDelete: number;
  readonly refusalsAfterDelete: number;
  readonly otherAfterDelete: number[];
  readonly sessionOk: boolean;
  readonly sessionChecks: number;
}

async function cycle(index: number): Promise<CycleResult> {
  const appUid = `race-${index % 16}`;
  const created = await createKeyHandler({ appUid, name: `cycle ${index}` });
  const asKey = (route = 'whoami') => authorizerEvent({ 'x-api-key': created.apiKey }, methodArn('GET', appUid, route));
  const verifyKey = () => gatewayOutcome(apiKeyAuthorizer, asKey()).then((outcome) => outcome.status);

  // A session created with the key before it is deleted, through the real sdkusers/auth handler, alongside the first verifies.
  const [granted, ...before] = await Promise.all([
    gatewayOutcome(apiKeyAuthorizer, authorizerEvent({ 'x-api-key': created.apiKey }, methodArn('POST', appUid, 'sdkusers/auth'))),
    ...Array.from({ length: VERIFIES_BEFORE - 1 }, verifyKey),
  ]);
  if (granted.status !== 200) throw new Error(`cycle ${index}: fresh key refused with ${granted.status}`);
  before.push(granted.status);
  const issued = await sdkUsersAuth(proxyEvent({ body: JSON.stringify({ externalId: `user-${index}` }), context: granted.context }));
  if (issued.statusCode !== 200) throw new Error(`cycle ${index}: sdkusers/auth answered ${issued.statusCode}`);
  const { authToken } = JSON.parse(issued.body) as { authToken: string };
  // The session authorizer on every check; the sdkusers/me handler behind it on every fifth cycle (it reads the users table).
  const useSession = async (withBackend: boolean) => {
    const outcome = await gatewayOutcome(sessionAuthorizer, sessionTokenEvent(authToken, appUid));
    if (outcome.status !== 200) return false;
    if (!withBackend) return true;
    const me = await sdkUsersMe(proxyEvent({ method: 'GET', context: outcome.context }));
    return me.statusCode === 200 && (JSON.parse(me.body) as { externalId?: string }).externalId === `user-${index}`;
  };

  // Delete while requests keep arriving; each request remembers whether delete-key had already returned when it started.
  const sessionDuring = useSession(false);
  const deletion = await requestsAround(() => deleteKeyHandler({ appUid, keyId: created.keyId }), verifyKey, { maxRequests: MAX_VERIFIES_DURING, afterCount: 2 });
  if (!deletion.result.deleted) throw new Error(`cycle ${index}: delete did not report deleted`);
  const after = await Promise.all([...Array.from({ length: VERIFIES_AFTER }, verifyKey), ...deletion.startedAfter]);
  const sessionResults = await Promise.all([sessionDuring, useSession(index % 5 === 0)]);

  const inFlight = deletion.inFlight;
  return {
    allowsBeforeDelete: before.filter((status) => status === 200).length,
    duringDelete: { allowed: inFlight.filter((status) => status === 200).length, refused: inFlight.filter((status) => status === 401).length },
    allowsAfterDelete: after.filter((status) => status === 200).length,
    refusalsAfterDelete: after.filter((status) => status === 401).length,
    otherAfterDelete: after.filter((status) => status !== 200 && status !== 401),
    sessionOk: sessionResults.every(Boolean),
    sessionChecks: sessionResults.length,
  };
}

test(`${CYCLES} create → concurrent verifies → delete → verifies cycles: 0 Allows after delete returned, every session survives`, async () => {
  const started = Date.now();
  const results = await inBatches(CYCLES, PARALLEL_CYCLES, cycle);
  const seconds = (Date.now() - started) / 1000;

  const sum = (pick: (r: CycleResult) => number) => results.reduce((total, r) => total + pick(r), 0);
  const figures = {
    cycles: results.length,
    seconds,
    allowsBeforeDelete: sum((r) => r.allowsBeforeDelete),
    inFlightDuringDelete: { allowed: sum((r) => r.duringDelete.allowed), refused: sum((r) => r.duringDelete.refused) },
    allowsAfterDelete: sum((r) => r.allowsAfterDelete),
    refusalsAfterDelete: sum((r) => r.refusalsAfterDelete),
    sessionChecks: sum((r) => r.sessionChecks),
    cyclesWithSessionBroken: results.filter((r) => !r.sessionOk).length,
  };
  process.stdout.write(`\n[revocation-race] ${JSON.stringify(figures)}\n`);

  expect(results).toHaveLength(CYCLES);
  expect(figures.allowsBeforeDelete).toBe(CYCLES * VERIFIES_BEFORE);
  expect(figures.allowsAfterDelete).toBe(0);
  expect(results.flatMap((r) => r.otherAfterDelete)).toEqual([]);
  expect(figures.refusalsAfterDelete).toBeGreaterThanOrEqual(CYCLES * VERIFIES_AFTER);
  expect(figures.cyclesWithSessionBroken).toBe(0);

  // Nothing of any deleted key is left behind (no lastUsedAt write brought an item back; each app's registry item
  // remains, counting no keys), only the log of each key's creation and deletion; every session is still stored.
  const keyItems = await scanAll(client, tables.Keys);
  expect(keyItems.filter((item) => !String(item.sk).startsWith('event#') && !(item.pk === 'apps' && item.keyCount === 0))).toEqual([]);
  expect(keyItems.filter((item) => String(item.sk).startsWith('event#')).length).toBe(CYCLES * 2);
  expect((await scanAll(client, tables.Sessions)).filter((item) => String(item.pk).startsWith('token#')).length).toBe(CYCLES);
}, 240_000);
