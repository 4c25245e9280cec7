import type { FunctionId } from './functions';

/**
 * The HTTP API, defined once: the CDK stack builds its REST API resources from
 * this table (KeygateAuth.addRoutes) and the local gateway serves exactly the
 * same routes.
 */
export type AuthorizerKind = 'apiKey' | 'session';

export interface AuthorizerDefinition {
  readonly function: FunctionId;
  /** The single request header API Gateway uses as identity source. */
  readonly identityHeader: string;
}

export const AUTHORIZERS: Record<AuthorizerKind, AuthorizerDefinition> = {
  apiKey: { function: 'apiKeyAuthorizer', identityHeader: 'x-api-key' },
  session: { function: 'sessionAuthorizer', identityHeader: 'Authorization' },
};

/** Every route of an app lives under this path; `{appUid}` is a path parameter. */
export const API_BASE_PATH = '/api/v1/appuid/{appUid}';

export type HttpMethod = 'GET' | 'POST';

/** A route of one app: below API_BASE_PATH, behind an authorizer whose Allow covers that app's paths. */
export interface AppRouteDefinition {
  readonly method: HttpMethod;
  /** Path below API_BASE_PATH, starting with '/'. */
  readonly path: string;
  readonly function: FunctionId;
  readonly authorizer: AuthorizerKind;
}

/** A route of no app, called without a credential. */
export interface PublicRouteDefinition {
  readonly method: HttpMethod;
  /** The full path, starting with '/': the route belongs to no app, so it is not below API_BASE_PATH. */
  readonly path: string;
  readonly function: FunctionId;
  readonly authorizer: 'none';
}

export type RouteDefinition = AppRouteDefinition | PublicRouteDefinition;

/**
 * Whoever holds a leaked key may revoke it: holding the key is the proof, and
 * revoking a key gives its holder nothing. Throttled on its own (the
 * construct's `revokeThrottling`).
 */
export const REVOKE_ROUTE: PublicRouteDefinition = { method: 'POST', path: '/api/v1/keys/revoke', function: 'revokeKeys', authorizer: 'none' };

export const ROUTES: readonly RouteDefinition[] = [
  { method: 'GET', path: '/whoami', function: 'whoami', authorizer: 'apiKey' },
  { method: 'POST', path: '/sdkusers/auth', function: 'sdkUsersAuth', authorizer: 'apiKey' },
  { method: 'GET', path: '/sdkusers/me', function: 'sdkUsersMe', authorizer: 'session' },
  REVOKE_ROUTE,
];

/** The full resource path of a route, e.g. `/api/v1/appuid/{appUid}/whoami` or `/api/v1/keys/revoke`. */
export function routeResourcePath(route: RouteDefinition): string {
  return route.authorizer === 'none' ? route.path : `${API_BASE_PATH}${route.path}`;
}

/**
 * The resources that carry session routes, with those routes' methods: where
 * CORS preflights go when origins are allowed (lib/shared/cors.ts). Key
 * routes never get one.
 */
export function sessionRouteMethods(routes: readonly RouteDefinition[]): Map<string, HttpMethod[]> {
  const byResource = new Map<string, HttpMethod[]>();
  for (const route of routes) {
    if (route.authorizer !== 'session') continue;
    const path = routeResourcePath(route);
    byResource.set(path, [...(byResource.get(path) ?? []), route.method]);
  }
  return byResource;
}
