import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { handler as apiKeyAuthorizer } from '../../functions/api-key-authorizer/index';
import { handler as sessionAuthorizer } from '../../functions/session-authorizer/index';
import { handler as createKeyHandler } from '../../functions/create-key/index';
import { handler as updateKeyHandler } from '../../functions/update-key/index';
import { handler as listKeyEventsHandler } from '../../functions/list-key-events/index';
import { handler as sdkUsersAuth } from '../../functions/sdkusers-auth/index';
import { createTestTables, testDynamoDbClient } from '../support/dynamodb';
import { apiKeyEvent, authorizerEvent, gatewayOutcome, methodArn, proxyEvent, sessionTokenEvent } from '../support/events';
import { inBatches, requestsAround } from './support';

/**
 * Disable race: disable a key while requests with it are in flight, then
 * enable it again while more arrive. A request that starts after update-key
 * `{ enabled: false }` returned must never be let in, and one that starts
 * after `{ enabled: true }` returned must be (no stale state anywhere). The
 * session opened with the key lives through both. Cycles run in parallel
 * batches, so one cycle's writes overlap another's verifies.
 */

const CYCLES = 200;
const PARALLEL_CYCLES = 10;
const MAX_VERIFIES_DURING = 6;
const VERIFIES_AFTER = 3;

let client: DynamoDBClient;
beforeAll(async () => {
  client = testDynamoDbClient();
  await createTestTables(client);
});
afterAll(() => client.destroy());

interface CycleResult {
  readonly duringDisable: { allowed: number; refused: number };
  readonly allowsAfterDisable: number;
  readonly refusalsAfterDisable: number;
  readonly duringEnable: { allowed: number; refused: number };
  readonly allowsAfterEnable: number;
  readonly refusalsAfterEnable: number;
  readonly other: number[];
  readonly sessionOk: boolean;
}

const count = (statuses: number[]) => ({ allowed: statuses.filter((s) => s === 200).length, refused: statuses.filter((s) => s === 401).length });

async function cycle(index: number): Promise<CycleResult> {
  const appUid = `drace-${index % 16}`;
  const created = await createKeyHandler({ appUid, name: `cycle ${index}` });
  const verifyKey = () =>
    gatewayOutcome(apiKeyAuthorizer, apiKeyEvent(created.apiKey, appUid)).then((outcome) => outcome.status);

  const granted = await gatewayOutcome(apiKeyAuthorizer, authorizerEvent({ 'x-api-key': created.apiKey }, methodArn('POST', appUid, 'sdkusers/auth')));
  if (granted.status !== 200) throw new Error(`cycle ${index}: fresh key refused with ${granted.status}`);
  const issued = await sdkUsersAuth(proxyEvent({ body: JSON.stringify({ externalId: `user-${index}` }), context: granted.context }));
  const { authToken } = JSON.parse(issued.body) as { authToken: string };
  const sessionWorks = async () =>
    (await gatewayOutcome(sessionAuthorizer, sessionTokenEvent(authToken, appUid))).status === 200;

  const setEnabled = (enabled: boolean) => () => updateKeyHandler({ appUid, keyId: created.keyId, enabled });
  const options = { maxRequests: MAX_VERIFIES_DURING, afterCount: 2 };

  const disabling = await requestsAround(setEnabled(false), verifyKey, options);
  if (disabling.result.enabled !== false) throw new Error(`cycle ${index}: update-key did not report the key disabled`);
  const afterDisable = await Promise.all([...Array.from({ length: VERIFIES_AFTER }, verifyKey), ...disabling.startedAfter]);
  const sessionWhileDisabled = await sessionWorks();

  const enabling = await requestsAround(setEnabled(true), verifyKey, options);
  const afterEnable = await Promise.all([...Array.from({ length: VERIFIES_AFTER }, verifyKey), ...enabling.startedAfter]);

  return {
    duringDisable: count(disabling.inFlight),
    allowsAfterDisable: count(afterDisable).allowed,
    refusalsAfterDisable: count(afterDisable).refused,
    duringEnable: count(enabling.inFlight),
    allowsAfterEnable: count(afterEnable).allowed,
    refusalsAfterEnable: count(afterEnable).refused,
    other: [...disabling.inFlight, ...afterDisable, ...enabling.inFlight, ...afterEnable].filter((s) => s !== 200 && s !== 401),
    sessionOk: sessionWhileDisabled && (await sessionWorks()),
  };
}

test(`${CYCLES} cycles of disable and enable with requests in flight: 0 Allows after disable returned, 0 refusals after enable returned`, async () => {
  const started = Date.now();
  const results = await inBatches(CYCLES, PARALLEL_CYCLES, cycle);
  const sum = (pick: (r: CycleResult) => number) => results.reduce((total, r) => total + pick(r), 0);
  const figures = {
    cycles: results.length,
    seconds: (Date.now() - started) / 1000,
    inFlightDuringDisable: { allowed: sum((r) => r.duringDisable.allowed), refused: sum((r) => r.duringDisable.refused) },
    allowsAfterDisable: sum((r) => r.allowsAfterDisable),
    refusalsAfterDisable: sum((r) => r.refusalsAfterDisable),
    inFlightDuringEnable: { allowed: sum((r) => r.duringEnable.allowed), refused: sum((r) => r.duringEnable.refused) },
    allowsAfterEnable: sum((r) => r.allowsAfterEnable),
    refusalsAfterEnable: sum((r) => r.refusalsAfterEnable),
    cyclesWithSessionBroken: results.filter((r) => !r.sessionOk).length,
  };
  process.stdout.write(`\n[disable-race] ${JSON.stringify(figures)}\n`);

  expect(results).toHaveLength(CYCLES);
  expect(figures.allowsAfterDisable).toBe(0);
  expect(figures.refusalsAfterDisable).toBeGreaterThanOrEqual(CYCLES * VERIFIES_AFTER);
  expect(figures.refusalsAfterEnable).toBe(0);
  expect(figures.allowsAfterEnable).toBeGreaterThanOrEqual(CYCLES * VERIFIES_AFTER);
  expect(results.flatMap((r) => r.other)).toEqual([]);
  expect(figures.cyclesWithSessionBroken).toBe(0);

  // Every change was logged exactly once: per key, created, disabled, enabled.
  for (let app = 0; app < 16; app++) {
    const events: { action: string }[] = [];
    let nextToken: string | undefined;
    do {
      const page = await listKeyEventsHandler({ appUid: `drace-${app}`, limit: 100, ...(nextToken ? { nextToken } : {}) });
      events.push(...page.events);
      nextToken = page.nextToken;
    } while (nextToken);
    const cyclesOfApp = results.filter((_, index) => index % 16 === app).length;
    expect(events.filter((e) => e.action === 'disabled')).toHaveLength(cyclesOfApp);
    expect(events.filter((e) => e.action === 'enabled')).toHaveLength(cyclesOfApp);
    expect(events.filter((e) => e.action === 'created')).toHaveLength(cyclesOfApp);
  }
}, 240_000);
