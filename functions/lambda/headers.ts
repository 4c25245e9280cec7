import { AUTHORIZATION_HEADER, type AuthSettings } from '../../lib/shared/auth-settings';

/** Header shapes of API Gateway REST events: single-value and multi-value maps, names as the client sent them. */
export interface HeaderMaps {
  readonly headers?: Readonly<Record<string, string | undefined>> | null;
  readonly multiValueHeaders?: Readonly<Record<string, readonly string[] | undefined>> | null;
}

/**
 * The one value of a header, looked up case-insensitively. Returns undefined
 * when it is absent, or when the request carries it more than once with
 * different values: an ambiguous credential is no credential.
 */
export function singleHeader(event: HeaderMaps, name: string): string | undefined {
  const wanted = name.toLowerCase();
  let found: string | undefined;
  let conflicting = false;
  const see = (value: string) => {
    if (found === undefined) found = value;
    else if (value !== found) conflicting = true;
  };
  // On every request of the authorizer's hot path: plain loops, no intermediate arrays.
  const multi = event.multiValueHeaders;
  if (multi) {
    for (const key in multi) {
      if (key.length === wanted.length && key.toLowerCase() === wanted) for (const value of multi[key] ?? []) see(value);
    }
  }
  const single = event.headers;
  if (single) {
    for (const key in single) {
      const value = single[key];
      if (value !== undefined && key.length === wanted.length && key.toLowerCase() === wanted) see(value);
    }
  }
  return conflicting ? undefined : found;
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Bearer ([^\s]+)$/i.exec(authorization);
  return match?.[1];
}

/**
 * The API key a request presents under the settings: the configured header
 * (`authorization` meaning `Authorization: Bearer <key>`), and with
 * `acceptBearerKeys` also `Authorization: Bearer <key>`. Two different values
 * are no credential (refused), as in singleHeader; an empty header is absent.
 */
export function presentedApiKey(event: HeaderMaps, settings: Pick<AuthSettings, 'apiKeyHeader' | 'acceptBearerKeys'>): string | undefined {
  const bearer = () => bearerToken(singleHeader(event, AUTHORIZATION_HEADER));
  if (settings.apiKeyHeader === AUTHORIZATION_HEADER) return bearer();
  const fromHeader = singleHeader(event, settings.apiKeyHeader) || undefined;
  if (!settings.acceptBearerKeys) return fromHeader;
  const fromBearer = bearer();
  if (fromHeader === undefined || fromBearer === undefined) return fromHeader ?? fromBearer;
  return fromHeader === fromBearer ? fromHeader : undefined;
}
