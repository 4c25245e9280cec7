import { AUTHORIZATION_IDENTITY_HEADER, apiKeyIdentityHeaders, DEFAULT_AUTH_SETTINGS, DEFAULT_BASE_PATH, type AuthSettings } from './auth-settings';
import type { FunctionId } from './functions';

/**
 * The HTTP API, defined once: the CDK stack builds its REST API resources from
 * this table (KeygateAuth.addRoutes) and the local gateway serves exactly the
 * same routes.
 */
export type AuthorizerKind = 'apiKey' | 'session';

export interface AuthorizerDefinition {
  readonly function: FunctionId;
  /**
   * The request headers API Gateway uses as identity sources: all must be
   * present and non-empty or it answers 401 without calling the authorizer.
   * Empty when the authorizer itself decides where the credential is.
   */
  readonly identityHeaders: readonly string[];
}

/** The authorizers under the given settings (the API-key header is configurable; the session header is not). */
export function authorizerDefinitions(settings: Pick<AuthSettings, 'apiKeyHeader' | 'acceptBearerKeys'>): Record<AuthorizerKind, AuthorizerDefinition> {
  return {
    apiKey: { function: 'apiKeyAuthorizer', identityHeaders: apiKeyIdentityHeaders(settings) },
    session: { function: 'sessionAuthorizer', identityHeaders: [AUTHORIZATION_IDENTITY_HEADER] },
  };
}

/** The authorizers with the default settings: `x-api-key` and `Authorization: Bearer`. */
export const AUTHORIZERS: Record<AuthorizerKind, AuthorizerDefinition> = authorizerDefinitions(DEFAULT_AUTH_SETTINGS);

/** Default base path of every route of an app; `{appUid}` is a path parameter. The `basePath` setting moves it. */
export const API_BASE_PATH = DEFAULT_BASE_PATH;

export type HttpMethod = 'GET' | 'POST';

/** A route of one app: below the base path, behind an authorizer whose Allow covers that app's paths. */
export interface AppRouteDefinition {
  readonly method: HttpMethod;
  /** Path below the base path, starting with '/'. */
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

/**
 * The full resource path of a route, e.g. `/api/v1/appuid/{appUid}/whoami`,
 * or `/api/v1/keys/revoke` whatever the base path: a public route belongs to no app.
 */
export function routeResourcePath(route: RouteDefinition, basePath: string = API_BASE_PATH): string {
  return route.authorizer === 'none' ? route.path : `${basePath}${route.path}`;
}
