import { quotaPeriodStart, UsagePlanEnforcer, type GatewayKeyLookup } from '../../lib/local/usage-plans';
import type { PlanDefinition } from '../../lib/shared/plans';

/** The local gateway's usage plans, on a clock the test moves. */
const SMALL: PlanDefinition = { name: 'small', rateLimit: 5, burstLimit: 5, methodThrottles: { 'POST /sdkusers/auth': { rateLimit: 1, burstLimit: 1 } } };
const QUOTA: PlanDefinition = { name: 'quota', rateLimit: 100, burstLimit: 100, quota: { limit: 3, period: 'DAY' } };

function setup() {
  let now = Date.UTC(2026, 10, 29, 12, 0, 0);
  const keys: Record<string, { id: string; enabled: boolean; usagePlanIds: string[] }> = {
    'value-a': { id: 'a', enabled: true, usagePlanIds: ['p-small'] },
    'value-b': { id: 'b', enabled: true, usagePlanIds: ['p-small'] },
    'value-q': { id: 'q', enabled: true, usagePlanIds: ['p-quota'] },
    'value-none': { id: 'n', enabled: true, usagePlanIds: [] },
    'value-off': { id: 'o', enabled: false, usagePlanIds: ['p-small'] },
    'value-gone-plan': { id: 'g', enabled: true, usagePlanIds: ['p-removed'] },
  };
  const lookup: GatewayKeyLookup = { byValue: (value) => keys[value] };
  const enforcer = new UsagePlanEnforcer(
    [
      { definition: SMALL, usagePlanId: 'p-small' },
      { definition: QUOTA, usagePlanId: 'p-quota' },
    ],
    lookup,
    () => now,
  );
  const burst = (value: string, count: number, method = 'GET', path = '/whoami') =>
    Array.from({ length: count }, () => {
      const admission = enforcer.admit(value, method, path);
      return admission.ok ? 'ok' : admission.refusal;
    });
  return { enforcer, burst, advance: (ms: number) => (now += ms) };
}

test('a key gets its burst at once, then 429 (throttled) until tokens refill at the plan rate', () => {
  const { burst, advance } = setup();
  expect(burst('value-a', 7)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'throttled', 'throttled']);
  advance(199);
  expect(burst('value-a', 1)).toEqual(['throttled']);
  advance(1); // 200 ms at 5/s: one token
  expect(burst('value-a', 2)).toEqual(['ok', 'throttled']);
  advance(10_000); // refills to the burst, never beyond it
  expect(burst('value-a', 6)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'throttled']);
});

test('each key has its own bucket: one app throttled leaves another untouched', () => {
  const { burst } = setup();
  expect(burst('value-a', 20).filter((outcome) => outcome === 'ok')).toHaveLength(5);
  expect(burst('value-b', 5)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
});

test('a per-route throttle has its own bucket with its own limits', () => {
  const { burst } = setup();
  expect(burst('value-a', 2, 'POST', '/sdkusers/auth')).toEqual(['ok', 'throttled']);
  expect(burst('value-a', 5)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
});

test('a quota of N per day refuses request N+1 with quotaExceeded, and counts again the next UTC day', () => {
  const { burst, advance } = setup();
  expect(burst('value-q', 5)).toEqual(['ok', 'ok', 'ok', 'quotaExceeded', 'quotaExceeded']);
  advance(11 * 60 * 60 * 1000); // 23:00 UTC, same day
  expect(burst('value-q', 1)).toEqual(['quotaExceeded']);
  advance(60 * 60 * 1000); // midnight UTC
  expect(burst('value-q', 4)).toEqual(['ok', 'ok', 'ok', 'quotaExceeded']);
});

test('a throttled request does not count against the quota', () => {
  let now = Date.UTC(2026, 0, 1);
  const tight = new UsagePlanEnforcer(
    [{ definition: { name: 't', rateLimit: 1, burstLimit: 1, quota: { limit: 2, period: 'MONTH' } }, usagePlanId: 'p-t' }],
    { byValue: () => ({ id: 't', enabled: true, usagePlanIds: ['p-t'] }) },
    () => now,
  );
  const outcome = () => {
    const admission = tight.admit('v', 'GET', '/whoami');
    return admission.ok ? 'ok' : admission.refusal;
  };
  expect([outcome(), outcome(), outcome()]).toEqual(['ok', 'throttled', 'throttled']);
  now += 1000;
  expect(outcome()).toBe('ok'); // the second counted request: the two throttled ones were not counted
  now += 1000;
  expect(outcome()).toBe('quotaExceeded');
});

test('no key, an unknown, disabled or plan-less key, or one in a plan that no longer exists: forbidden (403)', () => {
  const { enforcer } = setup();
  for (const value of [undefined, 'value-unknown', 'value-off', 'value-none', 'value-gone-plan']) {
    expect(enforcer.admit(value, 'GET', '/whoami')).toEqual({ ok: false, refusal: 'forbidden' });
  }
  expect(enforcer.admit('value-a', 'GET', '/whoami')).toEqual({ ok: true, gatewayKeyId: 'a' });
});

test('quota periods start at 00:00 UTC: the day, Monday of the week, the 1st of the month', () => {
  const sunday = Date.UTC(2026, 10, 29, 15, 30); // Sunday 29 November 2026
  expect(new Date(quotaPeriodStart('DAY', sunday)).toISOString()).toBe('2026-11-29T00:00:00.000Z');
  expect(new Date(quotaPeriodStart('WEEK', sunday)).toISOString()).toBe('2026-11-23T00:00:00.000Z');
  expect(new Date(quotaPeriodStart('WEEK', Date.UTC(2026, 10, 23, 0, 0))).toISOString()).toBe('2026-11-23T00:00:00.000Z');
  expect(new Date(quotaPeriodStart('MONTH', sunday)).toISOString()).toBe('2026-11-01T00:00:00.000Z');
});
