import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { PlanDefinition } from '../../lib/shared/plans';
import { isAlive, keygateCli, runStackProcess, startStackProcess, stopStackProcess, type StackProcess } from './support/local-stack-process';

/**
 * Plans through `npm start` (issue 17): real HTTP to the local gateway, which
 * enforces the plans the way API Gateway's usage plans do, and the CLI
 * driving the admin bundles, which manage gateway keys through the local
 * emulation of API Gateway's key calls. The tests run in order on one stack.
 */
jest.setTimeout(120_000);

const PLANS: PlanDefinition[] = [
  { name: 'five', rateLimit: 5, burstLimit: 5 },
  { name: 'big', rateLimit: 1000, burstLimit: 1000 },
  { name: 'quota', rateLimit: 100, burstLimit: 100, quota: { limit: 5, period: 'DAY' } },
];

let home: string;
let stack: StackProcess | undefined;
const javaPids: number[] = [];

beforeAll(async () => {
  home = mkdtempSync(path.join(tmpdir(), 'keygate-e2e-plans-'));
  // No default plan: an app needs set-plan before its keys work.
  stack = await startStackProcess(home, { KEYGATE_PLANS: JSON.stringify(PLANS), KEYGATE_DEFAULT_PLAN: '' });
  javaPids.push(stack.info.dynamodbPid!);
});

afterAll(async () => {
  if (stack) await stopStackProcess(stack);
  for (const pid of javaPids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(home, { recursive: true, force: true });
});

const cli = async (...argv: string[]) => {
  const result = await keygateCli(home, ...argv);
  if (result.code !== 0) throw new Error(`keygate ${argv.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
};
const createKey = async (appUid: string) => JSON.parse(await cli('keys', 'create', '--app', appUid, '--name', 'e2e', '--new-app', '--json')) as { keyId: string; apiKey: string };
const setPlan = async (appUid: string, plan: string | null) =>
  JSON.parse(await cli('apps', 'set-plan', '--app', appUid, ...(plan === null ? ['--no-plan'] : ['--plan', plan]), '--json')) as { plan?: string; gatewayKeyId?: string };

async function whoami(appUid: string, apiKey: string) {
  const response = await fetch(`${stack!.info.apiUrl}/api/v1/appuid/${appUid}/whoami`, { headers: { 'x-api-key': apiKey } });
  return { status: response.status, body: await response.text(), errorType: response.headers.get('x-amzn-errortype') };
}

/** `count` requests spread evenly over one second; the statuses in order. */
async function oneSecondOf(count: number, send: () => Promise<{ status: number }>): Promise<number[]> {
  const started = Date.now();
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + (index * 1000) / count - Date.now())));
      return (await send()).status;
    }),
  );
}

const tally = (statuses: number[]) => statuses.reduce<Record<number, number>>((counts, status) => ({ ...counts, [status]: (counts[status] ?? 0) + 1 }), {});

let small: { appUid: string; apiKey: string };
let large: { appUid: string; apiKey: string };

test('an app on no plan is refused with 403 (no gateway key); set-plan makes its key work', async () => {
  small = { appUid: 'plan-small', apiKey: (await createKey('plan-small')).apiKey };
  large = { appUid: 'plan-large', apiKey: (await createKey('plan-large')).apiKey };
  expect(await whoami(small.appUid, small.apiKey)).toEqual({ status: 403, body: '{"message":"Forbidden"}', errorType: 'ForbiddenException' });
  expect(await setPlan(small.appUid, 'five')).toMatchObject({ plan: 'five', gatewayKeyId: expect.any(String) });
  expect(await setPlan(large.appUid, 'big')).toMatchObject({ plan: 'big' });
  expect((await whoami(small.appUid, small.apiKey)).status).toBe(200);
});

test('in the same second, an app on 5 requests/s sending 50 gets 429s; an app on a larger plan sending 50 gets none', async () => {
  await new Promise((resolve) => setTimeout(resolve, 1100)); // let the small app's bucket refill after the test above
  const [smallStatuses, largeStatuses] = await Promise.all([
    oneSecondOf(50, () => whoami(small.appUid, small.apiKey)),
    oneSecondOf(50, () => whoami(large.appUid, large.apiKey)),
  ]);
  process.stdout.write(`\n[e2e plans] 50 requests in one second: 5/s plan ${JSON.stringify(tally(smallStatuses))}, larger plan ${JSON.stringify(tally(largeStatuses))}\n`);
  expect(tally(largeStatuses)).toEqual({ 200: 50 });
  // Burst 5, then about 5 more over the second: never all, never none, never anything but 200 or 429.
  const ok = smallStatuses.filter((status) => status === 200).length;
  expect(ok).toBeGreaterThanOrEqual(5);
  expect(ok).toBeLessThanOrEqual(12);
  expect(smallStatuses.filter((status) => status !== 200).every((status) => status === 429)).toBe(true);
  const refused = await whoami(small.appUid, small.apiKey).then(async (first) => (first.status === 429 ? first : whoami(small.appUid, small.apiKey)));
  expect(refused).toEqual({ status: 429, body: '{"message":"Too Many Requests"}', errorType: 'TooManyRequestsException' });
});

test('a quota of 5 per day: requests and session calls count, request 6 gets 429; replacing the app\'s key keeps the count', async () => {
  const appUid = 'plan-quota';
  const first = await createKey(appUid);
  await setPlan(appUid, 'quota');
  const base = `${stack!.info.apiUrl}/api/v1/appuid/${appUid}`;
  const auth = await fetch(`${base}/sdkusers/auth`, {
    method: 'POST',
    headers: { 'x-api-key': first.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ externalId: 'quota-user' }),
  });
  expect(auth.status).toBe(200); // 1
  const { authToken } = (await auth.json()) as { authToken: string };
  const me = () => fetch(`${base}/sdkusers/me`, { headers: { authorization: `Bearer ${authToken}` } });
  expect((await me()).status).toBe(200); // 2: session calls count against the app's plan too
  for (let count = 3; count <= 5; count++) expect((await whoami(appUid, first.apiKey)).status).toBe(200);
  expect(await whoami(appUid, first.apiKey)).toEqual({ status: 429, body: '{"message":"Limit Exceeded"}', errorType: 'LimitExceededException' });
  expect((await me()).status).toBe(429);

  // Roll: a new key, the old one deleted. The app's gateway key, and so its count, is the same.
  const second = await createKey(appUid);
  await cli('keys', 'delete', '--app', appUid, '--key', first.keyId);
  expect((await whoami(appUid, first.apiKey)).status).toBe(401);
  expect(await whoami(appUid, second.apiKey)).toMatchObject({ status: 429, body: '{"message":"Limit Exceeded"}' });
  const shown = JSON.parse(await cli('apps', 'show', '--app', appUid, '--json')) as { plan: string; keyCount: number };
  expect(shown).toMatchObject({ plan: 'quota', keyCount: 1 });
});

test('moving an app to a larger plan lifts its limit at once; taking it off its plan (no default plan) refuses its key with 403', async () => {
  const moved = await setPlan(small.appUid, 'big');
  expect(moved.plan).toBe('big');
  expect(tally(await oneSecondOf(30, () => whoami(small.appUid, small.apiKey)))).toEqual({ 200: 30 });
  expect(await setPlan(small.appUid, null)).not.toHaveProperty('plan');
  expect(await whoami(small.appUid, small.apiKey)).toMatchObject({ status: 403, errorType: 'ForbiddenException' });
});

test('a key rolled with the CLI works at once under its app\'s plan (200, never 403): it carries the app\'s gateway key', async () => {
  const [{ keyId }] = (JSON.parse(await cli('keys', 'list', '--app', large.appUid, '--json')) as { keys: { keyId: string }[] }).keys;
  const rolled = JSON.parse(await cli('keys', 'roll', '--app', large.appUid, '--key', keyId!, '--grace', '0', '--json')) as { apiKey: string; rolledFromKeyId: string };
  expect(rolled.rolledFromKeyId).toBe(keyId);
  expect(await whoami(large.appUid, large.apiKey)).toMatchObject({ status: 401 });
  expect(tally(await oneSecondOf(20, () => whoami(large.appUid, rolled.apiKey)))).toEqual({ 200: 20 });
  large = { ...large, apiKey: rolled.apiKey };
  expect(JSON.parse(await cli('apps', 'show', '--app', large.appUid, '--json'))).toMatchObject({ plan: 'big', keyCount: 2 });
});

test('bad input from the CLI: one line naming the field, nothing changed', async () => {
  const result = await keygateCli(home, 'apps', 'set-plan', '--app', large.appUid, '--plan', 'gold');
  expect(result).toEqual({ code: 1, stdout: '', stderr: 'keygate: --plan must be one of five, big, quota, or null to take the app off its plan\n' });
  expect(JSON.parse(await cli('apps', 'show', '--app', large.appUid, '--json'))).toMatchObject({ plan: 'big' });
});

test('a restart keeps every app\'s gateway key and plan', async () => {
  expect(await stopStackProcess(stack!)).toBe(0);
  stack = await startStackProcess(home, { KEYGATE_PLANS: JSON.stringify(PLANS), KEYGATE_DEFAULT_PLAN: '' });
  javaPids.push(stack.info.dynamodbPid!);
  expect((await whoami(large.appUid, large.apiKey)).status).toBe(200);
  expect((await whoami(small.appUid, small.apiKey)).status).toBe(403);
});

test.each([
  ['not JSON', 'free', 'keygate: KEYGATE_PLANS must be a JSON list of plans, e.g. [{"name":"free","rateLimit":10,"burstLimit":20}]'],
  ['a plan with no rate', '[{"name":"x","rateLimit":0,"burstLimit":1}]', 'keygate: KEYGATE_PLANS: plans[0].rateLimit must be a number of requests per second greater than 0, got 0'],
])('KEYGATE_PLANS %s: npm start refuses with one line naming it, before starting anything', async (_name, plans, line) => {
  const other = mkdtempSync(path.join(tmpdir(), 'keygate-e2e-badplans-'));
  try {
    const result = await runStackProcess(other, { KEYGATE_PLANS: plans });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n').filter((text) => text.startsWith('keygate:'))).toEqual([line]);
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});
