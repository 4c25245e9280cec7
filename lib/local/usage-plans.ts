import { routeKey, type PlanDefinition, type QuotaPeriod, type ThrottleLimits } from '../shared/plans';

/**
 * The local gateway's stand-in for API Gateway usage plans: for each request
 * the authorizer returned a `usageIdentifierKey` for, find that gateway key
 * and its plan, take a token from the key's bucket (rate/burst, or the
 * plan's per-route limits) and count it against the plan's quota. As on API
 * Gateway, a request without a known key in a plan is refused (403),
 * throttled or over quota ones get 429.
 */
export interface LocalPlan {
  readonly definition: PlanDefinition;
  readonly usagePlanId: string;
}

/** What the enforcer needs to know of a gateway key (see gateway-keys.ts). */
export interface GatewayKeyLookup {
  byValue(value: string): { readonly id: string; readonly enabled: boolean; readonly usagePlanIds: readonly string[] } | undefined;
}

export type Admission =
  | { readonly ok: true; readonly gatewayKeyId: string }
  | { readonly ok: false; readonly refusal: 'forbidden' | 'throttled' | 'quotaExceeded' };

interface Bucket {
  tokens: number;
  at: number;
}

/** Start of the quota period holding `now` (UTC): the day, the week from Monday, the month. */
export function quotaPeriodStart(period: QuotaPeriod, now: number): number {
  const date = new Date(now);
  const day = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
  if (period === 'DAY') return day;
  if (period === 'WEEK') return day - ((date.getUTCDay() + 6) % 7) * 86_400_000;
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
}

export class UsagePlanEnforcer {
  private readonly plans: ReadonlyMap<string, LocalPlan>;
  private readonly buckets = new Map<string, Bucket>();
  private readonly counts = new Map<string, { periodStart: number; count: number }>();

  constructor(
    plans: readonly LocalPlan[],
    private readonly keys: GatewayKeyLookup,
    private readonly now: () => number = Date.now,
  ) {
    this.plans = new Map(plans.map((plan) => [plan.usagePlanId, plan]));
  }

  /** Admits or refuses one request of route `method path` carrying `usageIdentifierKey`. */
  admit(usageIdentifierKey: string | undefined, method: string, path: string): Admission {
    const key = usageIdentifierKey === undefined ? undefined : this.keys.byValue(usageIdentifierKey);
    const planId = key?.enabled ? key.usagePlanIds.find((id) => this.plans.has(id)) : undefined;
    if (!key || planId === undefined) return { ok: false, refusal: 'forbidden' };
    const { definition } = this.plans.get(planId)!;
    const route = routeKey(method, path);
    const now = this.now();

    const quota = definition.quota;
    const countKey = `${key.id}|${planId}`;
    let counted = this.counts.get(countKey);
    if (quota) {
      const periodStart = quotaPeriodStart(quota.period, now);
      if (!counted || counted.periodStart !== periodStart) this.counts.set(countKey, (counted = { periodStart, count: 0 }));
      if (counted.count >= quota.limit) return { ok: false, refusal: 'quotaExceeded' };
    }

    const perRoute = definition.methodThrottles?.[route];
    if (!this.take(`${countKey}|${perRoute ? route : '*'}`, perRoute ?? definition, now)) return { ok: false, refusal: 'throttled' };
    if (counted) counted.count += 1;
    return { ok: true, gatewayKeyId: key.id };
  }

  /** Token bucket: starts full at `burstLimit`, refills at `rateLimit` tokens per second. */
  private take(id: string, limits: ThrottleLimits, now: number): boolean {
    let bucket = this.buckets.get(id);
    if (!bucket) this.buckets.set(id, (bucket = { tokens: limits.burstLimit, at: now }));
    bucket.tokens = Math.min(limits.burstLimit, bucket.tokens + ((now - bucket.at) / 1000) * limits.rateLimit);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
