import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { ENV } from '../../lib/shared/environment';
import { ConfigurationError, PepperUnavailable } from './errors';

/** Reads the pepper; injected so the core never knows where it comes from. */
export type PepperSource = () => Promise<string>;

/**
 * After a failed read, calls fail at once with the same cause for this long
 * before the source is asked again: a Secrets Manager outage must not turn
 * every request of every container into another GetSecretValue call.
 */
export const PEPPER_RETRY_DELAY_MS = 5_000;

export interface PepperCacheOptions {
  /** @default PEPPER_RETRY_DELAY_MS */
  readonly retryDelayMs?: number;
  readonly now?: () => number;
}

/**
 * Memoizes a pepper source for the life of the container. Concurrent callers
 * share one read. A failed read is remembered for `retryDelayMs` (a short,
 * bounded negative cache), then the next call reads again, so the same
 * container recovers once the cause clears.
 */
export function cachedPepper(source: PepperSource, options: PepperCacheOptions = {}): PepperSource {
  const retryDelayMs = options.retryDelayMs ?? PEPPER_RETRY_DELAY_MS;
  const now = options.now ?? (() => Date.now());
  let pending: Promise<string> | undefined;
  let failure: { readonly error: PepperUnavailable; readonly at: number } | undefined;
  return () => {
    if (pending) return pending;
    if (failure) {
      const ago = now() - failure.at;
      if (ago < retryDelayMs) {
        return Promise.reject(new PepperUnavailable(`${failure.error.message} (${ago} ms ago; read again ${retryDelayMs} ms after a failure)`, { cause: failure.error.cause }));
      }
    }
    pending = source()
      .then((pepper) => {
        if (pepper.length < 32) throw new PepperUnavailable('pepper is shorter than 32 characters');
        failure = undefined;
        return pepper;
      })
      .catch((error: unknown) => {
        pending = undefined;
        const unavailable = error instanceof PepperUnavailable ? error : new PepperUnavailable('could not read the pepper', { cause: error });
        failure = { error: unavailable, at: now() };
        throw unavailable;
      });
    return pending;
  };
}

/** Reads a secret's string value; in Lambda this wraps Secrets Manager GetSecretValue. */
export type SecretReader = (secretId: string) => Promise<string | undefined>;

/**
 * The pepper a function uses: Secrets Manager when `PEPPER_SECRET_ID` is set
 * (deployed), else `KEYGATE_LOCAL_PEPPER` (local stack, tests). Neither set is
 * a configuration error: never fall back to an unpeppered hash.
 */
export function pepperFromEnvironment(env: Readonly<Record<string, string | undefined>>, readSecret: SecretReader, cache?: PepperCacheOptions): PepperSource {
  const secretId = env[ENV.pepperSecretId];
  if (secretId) {
    return cachedPepper(async () => {
      const value = await readSecret(secretId);
      if (!value) throw new PepperUnavailable(`secret ${secretId} has no string value`);
      return value;
    }, cache);
  }
  const local = env[ENV.localPepper];
  if (local) return cachedPepper(async () => local, cache);
  return () => Promise.reject(new ConfigurationError(`neither ${ENV.pepperSecretId} nor ${ENV.localPepper} is set`));
}

/** `base64url(HMAC-SHA256(pepper, value))`: what the tables store in place of a key or token. */
export type Hasher = (value: string) => Promise<string>;

export function createHasher(pepper: PepperSource): Hasher {
  // The HMAC key is derived from the pepper once, not on every request.
  let key: KeyObject | undefined;
  return async (value) => {
    key ??= createSecretKey(Buffer.from(await pepper(), 'utf8'));
    return createHmac('sha256', key).update(value).digest('base64url');
  };
}

/** A short, non-reversible tag for logs: enough to correlate, useless to an attacker. */
export function logTag(hash: string): string {
  return hash.slice(0, 8);
}
