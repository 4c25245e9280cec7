/**
 * keygate: API-key authentication for API Gateway REST APIs, as a CDK
 * construct library. `KeygateAuth` adds keygate to your own stack and API;
 * `KeygateStack` is the whole deployable stack.
 */
export { KeygateAuth, MAX_AUTHORIZER_CACHE_TTL_SECONDS, DEFAULT_MEMORY_SIZE_MB, type KeygateAuthProps, type AddRoutesOptions } from './construct/keygate-auth';
export { KeygateStack, STAGE_NAME, DEFAULT_THROTTLING_BURST_LIMIT, DEFAULT_THROTTLING_RATE_LIMIT, type KeygateStackProps } from './construct/keygate-stack';
export { ROUTES, AUTHORIZERS, API_BASE_PATH, REVOKE_ROUTE, type RouteDefinition, type AppRouteDefinition, type PublicRouteDefinition, type AuthorizerKind, type HttpMethod } from './shared/routes';
export { FUNCTIONS, ADMIN_FUNCTIONS, type FunctionId, type FunctionDefinition } from './shared/functions';
