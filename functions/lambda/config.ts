import {
  DEFAULT_KEY_PREFIX,
  DEFAULT_LAST_USED_INTERVAL_SECONDS,
  DEFAULT_SESSION_LIFETIME_SECONDS,
  DEFAULT_SESSION_TOKEN_PREFIX,
  ENV,
} from '../../lib/shared/environment';
import { ConfigurationError } from '../domain/errors';

/** Reading the function's configuration from its environment (names and defaults: lib/shared/environment.ts). */

type Env = Readonly<Record<string, string | undefined>>;

export function requireEnv(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new ConfigurationError(`environment variable ${name} is not set`);
  }
  return value;
}

export function keyPrefixFrom(env: Env): string {
  return env[ENV.keyPrefix] || DEFAULT_KEY_PREFIX;
}

export function sessionTokenPrefixFrom(env: Env): string {
  return env[ENV.sessionTokenPrefix] || DEFAULT_SESSION_TOKEN_PREFIX;
}

function positiveSecondsFrom(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds <= 0) {
    throw new ConfigurationError(`${name} must be a positive whole number of seconds, got '${raw}'`);
  }
  return seconds;
}

export function sessionLifetimeSecondsFrom(env: Env): number {
  return positiveSecondsFrom(env, ENV.sessionLifetimeSeconds, DEFAULT_SESSION_LIFETIME_SECONDS);
}

export function lastUsedIntervalSecondsFrom(env: Env): number {
  return positiveSecondsFrom(env, ENV.lastUsedIntervalSeconds, DEFAULT_LAST_USED_INTERVAL_SECONDS);
}

/** Whether the authorizers accept items without a seal (the upgrade window, see seal.ts); anything but `true` is no. */
export function acceptUnsealedRecordsFrom(env: Env): boolean {
  return env[ENV.acceptUnsealedRecords] === 'true';
}
