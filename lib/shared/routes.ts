import type { FunctionId } from './functions';

/**
 * The HTTP API, defined once: the CDK stack builds its REST API resources from
 * this table and the local gateway serves exactly the same routes.
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

/** Every route lives under this path; `{appUid}` is a path parameter. */
export const API_BASE_PATH = '/api/v1/appuid/{appUid}';

export type HttpMethod = 'GET' | 'POST';

export interface RouteDefinition {
  readonly method: HttpMethod;
  /** Path below API_BASE_PATH, starting with '/'. */
  readonly path: string;
  readonly function: FunctionId;
  readonly authorizer: AuthorizerKind;
}

export const ROUTES: readonly RouteDefinition[] = [
  { method: 'GET', path: '/whoami', function: 'whoami', authorizer: 'apiKey' },
  { method: 'POST', path: '/sdkusers/auth', function: 'sdkUsersAuth', authorizer: 'apiKey' },
  { method: 'GET', path: '/sdkusers/me', function: 'sdkUsersMe', authorizer: 'session' },
];

/** The full resource path of a route, e.g. `/api/v1/appuid/{appUid}/whoami`. */
export function routeResourcePath(route: RouteDefinition): string {
  return `${API_BASE_PATH}${route.path}`;
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
