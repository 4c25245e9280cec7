/**
 * keygate: API-key authentication for API Gateway REST APIs, as a CDK
 * construct library. `KeygateAuth` adds keygate to your own stack and API;
 * `KeygateStack` is the whole deployable stack.
 */
export {
  KeygateAuth,
  MAX_AUTHORIZER_CACHE_TTL_SECONDS,
  DEFAULT_MEMORY_SIZE_MB,
  MIN_PER_IP_RATE_LIMIT,
  MAX_PER_IP_RATE_LIMIT,
  PER_IP_RATE_WINDOW_SECONDS,
  type KeygateAuthProps,
  type AddRoutesOptions,
} from './construct/keygate-auth';
export {
  KeygateStack,
  STAGE_NAME,
  DEFAULT_THROTTLING_BURST_LIMIT,
  DEFAULT_THROTTLING_RATE_LIMIT,
  DEFAULT_PER_IP_RATE_LIMIT,
  type KeygateStackProps,
  type KeygateStackMonitoringProps,
} from './construct/keygate-stack';
export { KeygateMonitoring, DEFAULT_ALARM_THRESHOLDS, WATCHED_TABLE_OPERATIONS, type KeygateMonitoringProps, type KeygateAlarmName } from './construct/keygate-monitoring';
export { METRIC, DEFAULT_METRICS_NAMESPACE, REFUSAL_OUTCOMES, type CredentialKind } from './shared/metrics';
export {
  ROUTES,
  AUTHORIZERS,
  API_BASE_PATH,
  REVOKE_ROUTE,
  authorizerDefinitions,
  type RouteDefinition,
  type AppRouteDefinition,
  type PublicRouteDefinition,
  type AuthorizerKind,
  type AuthorizerDefinition,
  type HttpMethod,
} from './shared/routes';
export { AppScope, DEFAULT_BASE_PATH, DEFAULT_API_KEY_HEADER, type AuthSettings, type LegacyKeyPattern } from './shared/auth-settings';
export { FUNCTIONS, ADMIN_FUNCTIONS, type FunctionId, type FunctionDefinition } from './shared/functions';
export { DEFAULT_PLANS, DEFAULT_PLAN_NAME, QUOTA_PERIODS, type PlanDefinition, type PlanQuota, type QuotaPeriod, type ThrottleLimits } from './shared/plans';
