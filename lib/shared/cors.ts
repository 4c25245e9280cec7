/**
 * CORS for the session routes, defined once: the construct deploys it, the
 * local gateway answers it, and the session-route functions add it to their
 * answers. Only session routes (Authorization: Bearer) ever get CORS: keys
 * belong on servers, so a browser can neither send `x-api-key` across origins
 * (its preflight fails) nor read what a key route answers. Import-free: the
 * Lambda bundles import it.
 */

/** Request headers a session-route preflight allows. */
export const SESSION_CORS_ALLOW_HEADERS = ['Authorization', 'Content-Type'] as const;

/** How long a browser may cache a preflight answer. */
export const SESSION_CORS_MAX_AGE_SECONDS = 600;

/** `https://app.example.com` or `http://localhost:5173`: scheme, host, optional port; no path, no wildcard. */
const ORIGIN = /^https?:\/\/(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::[1-9][0-9]{0,4})?$/;

/** Why `origin` cannot be an allowed origin, or undefined when it can. */
export function corsOriginProblem(origin: string): string | undefined {
  if (origin === '*') return "'*' is not allowed: list the origins of the pages that use sessions";
  if (!ORIGIN.test(origin)) return `'${origin}' is not an origin like https://app.example.com (scheme, lowercase host, optional port; no path or trailing slash)`;
  const port = /:(\d+)$/.exec(origin.replace(/^https?:\/\/\[[^\]]*\]/, ''))?.[1];
  if (port !== undefined && Number(port) > 65535) return `'${origin}' has a port above 65535`;
  return undefined;
}

/** A comma-separated list (the CORS_ALLOWED_ORIGINS form): trimmed, empty entries and repeats dropped. */
export function parseCorsOrigins(list: string | undefined): string[] {
  return [...new Set((list ?? '').split(',').map((origin) => origin.trim()).filter((origin) => origin !== ''))];
}

/**
 * Headers a session route's own answer carries for a request from `origin`:
 * the origin itself when it is allowed, nothing that names another one, and
 * `Vary: Origin` so a cache never serves one origin's answer to another.
 */
export function corsResponseHeaders(allowed: readonly string[], origin: string | undefined): Record<string, string> {
  if (allowed.length === 0) return {};
  return origin !== undefined && allowed.includes(origin) ? { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' } : { Vary: 'Origin' };
}

/**
 * The preflight (`OPTIONS`) answer of a session route, as API Gateway's mock
 * integration gives it (aws-cdk-lib's `addCorsPreflight`): 204, the request's
 * origin when it is allowed, else the first allowed origin (which the browser
 * then refuses, since it is not its own).
 */
export function preflightHeaders(allowed: readonly string[], methods: readonly string[], origin: string | undefined): Record<string, string> {
  return {
    'Access-Control-Allow-Headers': SESSION_CORS_ALLOW_HEADERS.join(','),
    'Access-Control-Allow-Origin': origin !== undefined && allowed.includes(origin) ? origin : allowed[0]!,
    Vary: 'Origin',
    'Access-Control-Allow-Methods': methods.join(','),
    'Access-Control-Max-Age': String(SESSION_CORS_MAX_AGE_SECONDS),
  };
}

/**
 * What API Gateway's own error answers (gateway responses: 401, 403, 429,
 * 5xx) carry, so a page can read a session route's 401 and sign in again.
 * Gateway responses belong to the whole API and map headers without
 * conditions: one allowed origin is sent as is; with several, the request's
 * `Origin` is echoed. These answers carry no data.
 */
export function gatewayResponseCorsHeaders(allowed: readonly string[], origin: string | undefined): Record<string, string> {
  if (allowed.length === 0) return {};
  if (allowed.length === 1) return { 'Access-Control-Allow-Origin': allowed[0]!, Vary: 'Origin' };
  return origin === undefined ? { Vary: 'Origin' } : { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
}
