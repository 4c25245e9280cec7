import {
  DEFAULT_KEY_PREFIX,
  DEFAULT_LAST_USED_INTERVAL_SECONDS,
  DEFAULT_SESSION_LIFETIME_SECONDS,
  DEFAULT_SESSION_TOKEN_PREFIX,
  ENV,
} from '../../lib/shared/environment';
import { authSettingsFromEnvironment, type AuthSettings } from '../../lib/shared/auth-settings';
import { parseCorsOrigins } from '../../lib/shared/cors';
import { ConfigurationError } from '../domain/errors';
import type { PlanCatalog } from '../domain/apps';

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

/** Scope, base path, API-key header and legacy key pattern (lib/shared/auth-settings.ts); an unusable value stops the function. */
export function authSettingsFrom(env: Env): AuthSettings {
  try {
    return authSettingsFromEnvironment(env);
  } catch (error) {
    throw new ConfigurationError((error as Error).message);
  }
}

/**
 * The plans of this deployment, from `USAGE_PLANS` (JSON `{ "<name>": "<usage plan id>" }`)
 * and `DEFAULT_PLAN`; undefined when plans are off (`USAGE_PLANS` unset).
 */
export function planCatalogFrom(env: Env): PlanCatalog | undefined {
  const raw = env[ENV.usagePlans];
  if (raw === undefined || raw === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigurationError(`${ENV.usagePlans} is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.values(parsed).every((id) => typeof id === 'string' && id !== '')) {
    throw new ConfigurationError(`${ENV.usagePlans} must map plan names to usage plan ids`);
  }
  const usagePlanIds = parsed as Record<string, string>;
  const defaultPlan = env[ENV.defaultPlan] || undefined;
  if (defaultPlan !== undefined && !Object.hasOwn(usagePlanIds, defaultPlan)) {
    throw new ConfigurationError(`${ENV.defaultPlan} '${defaultPlan}' is not one of the plans in ${ENV.usagePlans}`);
  }
  return defaultPlan === undefined ? { usagePlanIds } : { usagePlanIds, defaultPlan };
}

/** Origins whose pages may read this function's answers (session routes only); none when unset. */
export function corsAllowedOriginsFrom(env: Env): string[] {
  return parseCorsOrigins(env[ENV.corsAllowedOrigins]);
}

/** Whether the authorizers accept items without a seal (the upgrade window, see seal.ts); anything but `true` is no. */
export function acceptUnsealedRecordsFrom(env: Env): boolean {
  return env[ENV.acceptUnsealedRecords] === 'true';
}
