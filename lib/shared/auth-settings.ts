import { ENV } from './environment';

/**
 * How keygate fits an API: where an app's identity comes from (and so what an
 * Allow covers), where keygate's own routes live, which header carries API
 * keys, and which existing keys the API-key authorizer accepts besides
 * keygate's own format. Defined once for the three places that must agree:
 * the construct writes these settings into the functions' environment, the
 * functions read them back, and `npm start` reads the same variables from its
 * own environment for the local gateway and the bundles. Import-free apart
 * from the environment names.
 */
export enum AppScope {
  /**
   * The app id is a path segment (`{appUid}` in the base path); an Allow
   * covers the paths below that app's base path, one resource per HTTP verb.
   */
  PATH = 'path',
  /**
   * The app is not in the URL. An Allow covers every method of the API and
   * stage the request was made to (never another API, stage or account);
   * the backend reads `appUid` from the authorizer context.
   */
  CONTEXT = 'context',
}

/** Existing keys the API-key authorizer accepts besides keygate's own format (imported keys). */
export interface LegacyKeyPattern {
  /** A JavaScript regular expression, without delimiters or flags, that the whole key must match. */
  readonly pattern: string;
  /** Shortest key accepted; at least 16. */
  readonly minLength: number;
  /** Longest key accepted; at most 512. Checked before the pattern runs. */
  readonly maxLength: number;
}

export interface AuthSettings {
  readonly appScope: AppScope;
  /** Where keygate's routes live; in `path` scope, the prefix an Allow covers once `{appUid}` is filled in. */
  readonly basePath: string;
  /** The header that carries API keys, lower case. `authorization` means `Authorization: Bearer <key>` only. */
  readonly apiKeyHeader: string;
  /** Also take a key from `Authorization: Bearer <key>` (the prefix tells keys from session tokens). */
  readonly acceptBearerKeys: boolean;
  readonly legacyKeys?: LegacyKeyPattern;
}

export const APP_UID_SEGMENT = '{appUid}';
export const DEFAULT_BASE_PATH = `/api/v1/appuid/${APP_UID_SEGMENT}`;
export const DEFAULT_API_KEY_HEADER = 'x-api-key';
/** Session tokens always travel here; API keys only when the settings say so. Lower case, as compared. */
export const AUTHORIZATION_HEADER = 'authorization';
/** The same header as identity source, spelled as API Gateway documents it. */
export const AUTHORIZATION_IDENTITY_HEADER = 'Authorization';

export const DEFAULT_AUTH_SETTINGS: AuthSettings = {
  appScope: AppScope.PATH,
  basePath: DEFAULT_BASE_PATH,
  apiKeyHeader: DEFAULT_API_KEY_HEADER,
  acceptBearerKeys: false,
};

export const LEGACY_KEY_MIN_LENGTH_FLOOR = 16;
export const LEGACY_KEY_MAX_LENGTH_CEILING = 512;
const LEGACY_PATTERN_MAX_LENGTH = 1000;
const BASE_PATH_MAX_LENGTH = 512;
const LITERAL_SEGMENT = /^[A-Za-z0-9._-]+$/;
const HEADER_NAME = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;

export type AuthSetting = 'appScope' | 'basePath' | 'apiKeyHeader' | 'acceptBearerKeys' | 'legacyKeys.pattern' | 'legacyKeys.minLength' | 'legacyKeys.maxLength';

/** What is wrong with one setting, named as the construct prop is. */
export interface AuthSettingsProblem {
  readonly setting: AuthSetting;
  readonly problem: string;
}

/** The first problem with `settings`, or undefined when they are usable. */
export function authSettingsProblem(settings: AuthSettings): AuthSettingsProblem | undefined {
  const problem = (setting: AuthSetting, text: string | undefined) => (text === undefined ? undefined : { setting, problem: text });
  return (
    problem('appScope', Object.values(AppScope).includes(settings.appScope) ? undefined : `must be one of ${Object.values(AppScope).join(', ')}, got '${String(settings.appScope)}'`) ??
    problem('basePath', basePathProblem(settings.basePath, settings.appScope)) ??
    problem('apiKeyHeader', HEADER_NAME.test(settings.apiKeyHeader) ? undefined : `must be a header name of at most 64 letters, digits and '-', starting with a letter, got '${settings.apiKeyHeader}'`) ??
    (settings.legacyKeys ? legacyKeysProblem(settings.legacyKeys) : undefined)
  );
}

function basePathProblem(basePath: string, appScope: AppScope): string | undefined {
  if (typeof basePath !== 'string' || basePath.length > BASE_PATH_MAX_LENGTH) return `must be a path of at most ${BASE_PATH_MAX_LENGTH} characters`;
  if (!basePath.startsWith('/') || basePath.endsWith('/')) return `must start with '/' and not end with one, got '${basePath}'`;
  const segments = basePath.slice(1).split('/');
  for (const segment of segments) {
    // A parameter or greedy segment before the app would need a '*' in the Allow, and IAM's '*' spans '/'.
    if (segment !== APP_UID_SEGMENT && !LITERAL_SEGMENT.test(segment)) {
      return `segments must be literal (letters, digits, '.', '_', '-') or ${APP_UID_SEGMENT}, got '${segment}' in '${basePath}'`;
    }
  }
  const appSegments = segments.filter((segment) => segment === APP_UID_SEGMENT).length;
  if (appSegments > 1) return `may contain ${APP_UID_SEGMENT} only once, got '${basePath}'`;
  if (appScope === AppScope.PATH && appSegments === 0) return `must contain the ${APP_UID_SEGMENT} segment when appScope is path, got '${basePath}'`;
  return undefined;
}

function legacyKeysProblem(legacy: LegacyKeyPattern): AuthSettingsProblem | undefined {
  const { pattern, minLength, maxLength } = legacy;
  if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > LEGACY_PATTERN_MAX_LENGTH) {
    return { setting: 'legacyKeys.pattern', problem: `must be a regular expression of 1 to ${LEGACY_PATTERN_MAX_LENGTH} characters` };
  }
  try {
    // Compiled on its own first: a pattern like `a)|(.*` only compiles once wrapped, and would then match anything.
    new RegExp(pattern);
  } catch (error) {
    return { setting: 'legacyKeys.pattern', problem: `is not a valid regular expression: ${(error as Error).message}` };
  }
  if (!Number.isInteger(minLength) || minLength < LEGACY_KEY_MIN_LENGTH_FLOOR) {
    return { setting: 'legacyKeys.minLength', problem: `must be a whole number of at least ${LEGACY_KEY_MIN_LENGTH_FLOOR}, got ${minLength}` };
  }
  if (!Number.isInteger(maxLength) || maxLength > LEGACY_KEY_MAX_LENGTH_CEILING || maxLength < minLength) {
    return { setting: 'legacyKeys.maxLength', problem: `must be a whole number between minLength (${minLength}) and ${LEGACY_KEY_MAX_LENGTH_CEILING}, got ${maxLength}` };
  }
  return undefined;
}

/** The whole-value regular expression of a legacy pattern (the pattern alone must compile: see legacyKeysProblem). */
export function legacyKeyRegExp(legacy: LegacyKeyPattern): RegExp {
  return new RegExp(`^(?:${legacy.pattern})$`);
}

/** The headers API Gateway must find, all of them non-empty, before it calls the API-key authorizer (its identity sources). */
export function apiKeyIdentityHeaders(settings: Pick<AuthSettings, 'apiKeyHeader' | 'acceptBearerKeys'>): string[] {
  // A key may arrive in either of two headers: require neither, so the authorizer runs on every request and decides.
  if (settings.apiKeyHeader === AUTHORIZATION_HEADER) return [AUTHORIZATION_IDENTITY_HEADER];
  if (settings.acceptBearerKeys) return [];
  return [settings.apiKeyHeader];
}

/** The base path with the app filled in, e.g. `/api/v1/appuid/demo`. */
export function appBasePath(basePath: string, appUid: string): string {
  return basePath.replace(APP_UID_SEGMENT, appUid);
}

type Env = Readonly<Record<string, string | undefined>>;

/** Both authorizers: how they scope an Allow. */
export function scopeEnvironment(settings: AuthSettings): Record<string, string> {
  return { [ENV.appScope]: settings.appScope, [ENV.basePath]: settings.basePath };
}

/** The API-key authorizer: where it finds the key. */
export function apiKeyHeaderEnvironment(settings: AuthSettings): Record<string, string> {
  return { [ENV.apiKeyHeader]: settings.apiKeyHeader, [ENV.acceptBearerKeys]: String(settings.acceptBearerKeys) };
}

/** The API-key authorizer and import-keys: which existing keys are accepted. */
export function legacyKeysEnvironment(settings: AuthSettings): Record<string, string> {
  const legacy = settings.legacyKeys;
  if (!legacy) return {};
  return { [ENV.legacyKeyPattern]: legacy.pattern, [ENV.legacyKeyMinLength]: String(legacy.minLength), [ENV.legacyKeyMaxLength]: String(legacy.maxLength) };
}

const ENV_OF: Record<AuthSetting, string> = {
  appScope: ENV.appScope,
  basePath: ENV.basePath,
  apiKeyHeader: ENV.apiKeyHeader,
  acceptBearerKeys: ENV.acceptBearerKeys,
  'legacyKeys.pattern': ENV.legacyKeyPattern,
  'legacyKeys.minLength': ENV.legacyKeyMinLength,
  'legacyKeys.maxLength': ENV.legacyKeyMaxLength,
};

/**
 * The settings in `env`; unset variables take the defaults. Throws an Error
 * naming the variable when a value is unusable: a function, or `npm start`,
 * must not run with settings other than the ones it was given.
 */
export function authSettingsFromEnvironment(env: Env): AuthSettings {
  const value = (name: string) => {
    const raw = env[name];
    return raw === undefined || raw === '' ? undefined : raw;
  };
  const fail = (setting: AuthSetting, problem: string): never => {
    throw new Error(`${ENV_OF[setting]} ${problem}`);
  };
  const whole = (setting: AuthSetting) => {
    const raw = value(ENV_OF[setting]);
    if (raw === undefined) return fail(setting, `must be set together with ${ENV.legacyKeyPattern}`);
    if (!/^\d{1,6}$/.test(raw)) return fail(setting, `must be a whole number, got '${raw}'`);
    return Number(raw);
  };

  const bearer = value(ENV.acceptBearerKeys);
  if (bearer !== undefined && bearer !== 'true' && bearer !== 'false') fail('acceptBearerKeys', `must be true or false, got '${bearer}'`);
  const pattern = value(ENV.legacyKeyPattern);
  if (pattern === undefined && (value(ENV.legacyKeyMinLength) !== undefined || value(ENV.legacyKeyMaxLength) !== undefined)) {
    fail('legacyKeys.pattern', `must be set when ${ENV.legacyKeyMinLength} or ${ENV.legacyKeyMaxLength} is`);
  }
  const settings: AuthSettings = {
    appScope: (value(ENV.appScope) ?? DEFAULT_AUTH_SETTINGS.appScope) as AppScope,
    basePath: value(ENV.basePath) ?? DEFAULT_AUTH_SETTINGS.basePath,
    apiKeyHeader: (value(ENV.apiKeyHeader) ?? DEFAULT_AUTH_SETTINGS.apiKeyHeader).toLowerCase(),
    acceptBearerKeys: bearer === 'true',
    ...(pattern === undefined ? {} : { legacyKeys: { pattern, minLength: whole('legacyKeys.minLength'), maxLength: whole('legacyKeys.maxLength') } }),
  };
  const problem = authSettingsProblem(settings);
  if (problem) fail(problem.setting, problem.problem);
  return settings;
}
