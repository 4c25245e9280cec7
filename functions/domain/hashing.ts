import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { ENV } from '../../lib/shared/environment';
import { ConfigurationError, PepperUnavailable } from './errors';

/** Reads the pepper; injected so the core never knows where it comes from. */
export type PepperSource = () => Promise<string>;

/**
 * Memoizes a pepper source for the life of the container. A failed read is not
 * cached, so the next request tries again once the cause clears.
 */
export function cachedPepper(source: PepperSource): PepperSource {
  let pending: Promise<string> | undefined;
  return () => {
    pending ??= source().then(
      (pepper) => {
        if (pepper.length < 32) throw new PepperUnavailable('pepper is shorter than 32 characters');
        return pepper;
      },
    ).catch((error: unknown) => {
      pending = undefined;
      throw error instanceof PepperUnavailable ? error : new PepperUnavailable('could not read the pepper', { cause: error });
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
export function pepperFromEnvironment(env: Readonly<Record<string, string | undefined>>, readSecret: SecretReader): PepperSource {
  const secretId = env[ENV.pepperSecretId];
  if (secretId) {
    return cachedPepper(async () => {
      const value = await readSecret(secretId);
      if (!value) throw new PepperUnavailable(`secret ${secretId} has no string value`);
      return value;
    });
  }
  const local = env[ENV.localPepper];
  if (local) return cachedPepper(async () => local);
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
