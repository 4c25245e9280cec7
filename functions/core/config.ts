import { ConfigurationError } from './errors';

/**
 * Environment variables the functions read. The CDK construct and the local
 * stack set them from these names, so the two cannot disagree.
 */
export const ENV = {
  keysTable: 'KEYS_TABLE_NAME',
  sessionsTable: 'SESSIONS_TABLE_NAME',
  usersTable: 'USERS_TABLE_NAME',
  /** Secrets Manager id (ARN or name) of the pepper; set when deployed. */
  pepperSecretId: 'PEPPER_SECRET_ID',
  /** A pepper given directly; only the local stack and tests set it. */
  localPepper: 'KEYGATE_LOCAL_PEPPER',
  keyPrefix: 'KEY_PREFIX',
  sessionTokenPrefix: 'SESSION_TOKEN_PREFIX',
  sessionLifetimeSeconds: 'SESSION_LIFETIME_SECONDS',
} as const;

export const DEFAULT_KEY_PREFIX = 'kg';
export const DEFAULT_SESSION_TOKEN_PREFIX = 'kgs';
export const DEFAULT_SESSION_LIFETIME_SECONDS = 24 * 60 * 60;

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

export function sessionLifetimeSecondsFrom(env: Env): number {
  const raw = env[ENV.sessionLifetimeSeconds];
  if (raw === undefined || raw === '') return DEFAULT_SESSION_LIFETIME_SECONDS;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds <= 0) {
    throw new ConfigurationError(`${ENV.sessionLifetimeSeconds} must be a positive whole number of seconds, got '${raw}'`);
  }
  return seconds;
}
