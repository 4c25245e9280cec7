/**
 * Plans: per-application throttling and quotas, enforced by API Gateway usage
 * plans (one usage plan per plan, one gateway API key per app). Defined once:
 * the construct makes a usage plan of each definition, the local gateway
 * enforces the same definitions, and both answer 429 the same way.
 * Import-free: the construct, the local stack and the functions read it.
 */
export type QuotaPeriod = 'DAY' | 'WEEK' | 'MONTH';
export const QUOTA_PERIODS: readonly QuotaPeriod[] = ['DAY', 'WEEK', 'MONTH'];

/** A token bucket: `burstLimit` requests at once, refilled at `rateLimit` requests per second. */
export interface ThrottleLimits {
  /** Steady-state requests per second. */
  readonly rateLimit: number;
  /** Bucket size: how many requests may arrive at once. */
  readonly burstLimit: number;
}

export interface PlanQuota {
  /** Requests per period. */
  readonly limit: number;
  readonly period: QuotaPeriod;
}

export interface PlanDefinition extends ThrottleLimits {
  /** What admins call the plan (`keygate apps set-plan --plan <name>`): letters, digits, `_` and `-`, at most 64. */
  readonly name: string;
  /** Requests per day, week or month; none when left out. */
  readonly quota?: PlanQuota;
  /**
   * Tighter (or looser) limits for single keygate routes, keyed by the route
   * as `'<METHOD> <path below /api/v1/appuid/{appUid}>'`, e.g. `'POST /sdkusers/auth'`.
   */
  readonly methodThrottles?: Readonly<Record<string, ThrottleLimits>>;
}

export const PLAN_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** API Gateway allows 300 usage plans per account and region (not raisable). */
export const MAX_PLANS = 300;

/**
 * The tiers KeygateStack (and `npm start`) use unless told otherwise. All sit
 * under the stack's stage limit (100 requests/s, burst 200), which still caps
 * the sum of every app's traffic.
 */
export const DEFAULT_PLANS: readonly PlanDefinition[] = [
  { name: 'free', rateLimit: 10, burstLimit: 20, quota: { limit: 10_000, period: 'DAY' } },
  { name: 'standard', rateLimit: 50, burstLimit: 100, quota: { limit: 1_000_000, period: 'MONTH' } },
  { name: 'premium', rateLimit: 100, burstLimit: 200 },
];
export const DEFAULT_PLAN_NAME = 'free';

/** How `methodThrottles` names a route: `'GET /whoami'`. */
export function routeKey(method: string, path: string): string {
  return `${method} ${path}`;
}

/**
 * The route keys a plan's `methodThrottles` may name: the app routes among
 * `routes`. A public route (the revoke route) takes no API key, so no plan
 * applies to it.
 */
export function planRouteKeys(routes: readonly { readonly method: string; readonly path: string; readonly authorizer: string }[]): string[] {
  return routes.filter((route) => route.authorizer !== 'none').map((route) => routeKey(route.method, route.path));
}

/**
 * API Gateway's answers when a plan refuses a request (gateway responses
 * THROTTLED and QUOTA_EXCEEDED): the construct sets these status codes and
 * headers, and the local gateway answers with the same status, body and
 * `x-amzn-ErrorType`. The messages are API Gateway's defaults.
 */
export const PLAN_GATEWAY_RESPONSES = {
  THROTTLED: { statusCode: 429, errorType: 'TooManyRequestsException', message: 'Too Many Requests', headers: { 'Retry-After': '1' } },
  QUOTA_EXCEEDED: { statusCode: 429, errorType: 'LimitExceededException', message: 'Limit Exceeded', headers: {} },
} as const satisfies Record<string, { statusCode: number; errorType: string; message: string; headers: Record<string, string> }>;

/** Why `limits` (API Gateway throttling: rate per second, burst) cannot be deployed, naming `where`; undefined when they can. */
export function throttleProblem(where: string, limits: ThrottleLimits): string | undefined {
  const { rateLimit, burstLimit } = limits as Partial<ThrottleLimits>;
  if (typeof rateLimit !== 'number' || !Number.isFinite(rateLimit) || rateLimit <= 0) {
    return `${where}.rateLimit must be a number of requests per second greater than 0, got ${String(rateLimit)}`;
  }
  if (typeof burstLimit !== 'number' || !Number.isInteger(burstLimit) || burstLimit < 1) {
    return `${where}.burstLimit must be a whole number of requests of at least 1, got ${String(burstLimit)}`;
  }
  return undefined;
}

/**
 * Why a list of plans (and the default plan's name) cannot be deployed, or
 * undefined when it can. `routeKeys` are the routes `methodThrottles` may name.
 */
export function plansProblem(plans: readonly PlanDefinition[], defaultPlan: string | undefined, routeKeys: readonly string[]): string | undefined {
  if (!Array.isArray(plans)) return 'plans must be a list of plans';
  if (plans.length > MAX_PLANS) return `plans: at most ${MAX_PLANS} (API Gateway's usage plans per account and region), got ${plans.length}`;
  const names = new Set<string>();
  for (const [index, plan] of plans.entries()) {
    const where = `plans[${index}]`;
    if (typeof plan !== 'object' || plan === null) return `${where} must be an object`;
    if (typeof plan.name !== 'string' || !PLAN_NAME_PATTERN.test(plan.name)) {
      return `${where}.name must be 1-64 letters, digits, _ or -, got '${String(plan.name)}'`;
    }
    if (names.has(plan.name)) return `${where}.name: two plans are called '${plan.name}'`;
    names.add(plan.name);
    const throttle = throttleProblem(where, plan);
    if (throttle) return throttle;
    if (plan.quota !== undefined) {
      const { limit, period } = plan.quota;
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) return `${where}.quota.limit must be a whole number of requests of at least 1, got ${String(limit)}`;
      if (!QUOTA_PERIODS.includes(period)) return `${where}.quota.period must be one of ${QUOTA_PERIODS.join(', ')}, got '${String(period)}'`;
    }
    for (const [route, limits] of Object.entries<ThrottleLimits>(plan.methodThrottles ?? {})) {
      if (!routeKeys.includes(route)) return `${where}.methodThrottles: '${route}' is not a keygate route; the routes are ${routeKeys.map((key) => `'${key}'`).join(', ')}`;
      const problem = throttleProblem(`${where}.methodThrottles['${route}']`, limits);
      if (problem) return problem;
    }
  }
  if (defaultPlan !== undefined && !names.has(defaultPlan)) {
    return plans.length === 0 ? `defaultPlan '${defaultPlan}' needs plans` : `defaultPlan '${defaultPlan}' is not one of the plans (${[...names].join(', ')})`;
  }
  return undefined;
}

/**
 * The plans a stack runs with (KeygateStack, `npm start`): your own plans come
 * with your own default plan (or none); the built-in tiers with 'free'.
 */
export function plansInForce(plans: readonly PlanDefinition[] | undefined, defaultPlan: string | undefined): { plans: readonly PlanDefinition[]; defaultPlan: string | undefined } {
  return { plans: plans ?? DEFAULT_PLANS, defaultPlan: plans ? defaultPlan : (defaultPlan ?? DEFAULT_PLAN_NAME) };
}
