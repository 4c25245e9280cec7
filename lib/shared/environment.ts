/**
 * What the deployed functions and the CDK side must agree on about
 * configuration: the environment variable names the construct and the local
 * stack set and the functions read, their defaults, and the credential prefix
 * rule the construct validates at synth time. Import-free on purpose: the
 * Lambda bundles and the construct both import it.
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
  /** CloudWatch namespace of the functions' metrics (Powertools' own variable). */
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  /**
   * The usage plans an app can be put on, as JSON `{ "<plan name>": "<usage plan id>" }`;
   * set on the functions that manage gateway keys when plans are on (lib/shared/plans.ts).
   */
  usagePlans: 'USAGE_PLANS',
  /** Name of the plan an app without one is put on when its first key is created; unset for none. */
  defaultPlan: 'DEFAULT_PLAN',
  /** How often, at most, one authorizer container records a key's lastUsedAt. */
  lastUsedIntervalSeconds: 'LAST_USED_INTERVAL_SECONDS',
  /**
   * How the authorizers scope an Allow and where keygate's routes live (see
   * auth-settings.ts). KEYGATE_-prefixed because `npm start` reads them from
   * the developer's shell too, where short names could mean something else.
   */
  appScope: 'KEYGATE_APP_SCOPE',
  basePath: 'KEYGATE_BASE_PATH',
  apiKeyHeader: 'KEYGATE_API_KEY_HEADER',
  acceptBearerKeys: 'KEYGATE_ACCEPT_BEARER_KEYS',
  legacyKeyPattern: 'KEYGATE_LEGACY_KEY_PATTERN',
  legacyKeyMinLength: 'KEYGATE_LEGACY_KEY_MIN_LENGTH',
  legacyKeyMaxLength: 'KEYGATE_LEGACY_KEY_MAX_LENGTH',
  /** Comma-separated origins the session routes answer CORS for (lib/shared/cors.ts); `npm start` reads the same name. */
  corsAllowedOrigins: 'CORS_ALLOWED_ORIGINS',
  /** `true` only during an upgrade: the authorizers accept items with no seal at all (a wrong seal is still refused). */
  acceptUnsealedRecords: 'ACCEPT_UNSEALED_RECORDS',
} as const;

export const DEFAULT_KEY_PREFIX = 'kg';
export const DEFAULT_SESSION_TOKEN_PREFIX = 'kgs';
export const DEFAULT_SESSION_LIFETIME_SECONDS = 24 * 60 * 60;
/** lastUsedAt is at most this stale (15 minutes): each authorizer container writes it once per key per interval. */
export const DEFAULT_LAST_USED_INTERVAL_SECONDS = 15 * 60;
export const MAX_LAST_USED_INTERVAL_SECONDS = 24 * 60 * 60;

/** Key and session-token prefixes: 1-16 lowercase letters or digits, starting with a letter. */
export const CREDENTIAL_PREFIX_PATTERN = /^[a-z][a-z0-9]{0,15}$/;

/** Why `prefix` is not a valid credential prefix, or undefined when it is. */
export function credentialPrefixProblem(prefix: string): string | undefined {
  return CREDENTIAL_PREFIX_PATTERN.test(prefix) ? undefined : `prefix must be 1-16 lowercase letters or digits starting with a letter, got '${prefix}'`;
}
