import { existsSync } from 'node:fs';
import { Annotations, Duration, Names, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import {
  credentialPrefixProblem,
  DEFAULT_KEY_PREFIX,
  DEFAULT_LAST_USED_INTERVAL_SECONDS,
  DEFAULT_SESSION_LIFETIME_SECONDS,
  DEFAULT_SESSION_TOKEN_PREFIX,
  ENV,
  MAX_LAST_USED_INTERVAL_SECONDS,
} from '../shared/environment';
import { BUNDLE_HANDLER, DEFAULT_TIMEOUT_SECONDS, FUNCTIONS, isSessionFunction, NODE_RUNTIME_MAJOR, type FunctionDefinition, type FunctionId } from '../shared/functions';
import { corsOriginProblem, SESSION_CORS_ALLOW_HEADERS, SESSION_CORS_MAX_AGE_SECONDS } from '../shared/cors';
import {
  apiKeyHeaderEnvironment,
  AppScope,
  AUTHORIZATION_HEADER,
  authSettingsProblem,
  DEFAULT_AUTH_SETTINGS,
  legacyKeysEnvironment,
  scopeEnvironment,
  type AuthSettings,
  type LegacyKeyPattern,
} from '../shared/auth-settings';
import { PLAN_GATEWAY_RESPONSES, planRouteKeys, plansProblem, routeKey, throttleProblem, type PlanDefinition } from '../shared/plans';
import { authorizerDefinitions, REVOKE_ROUTE, ROUTES, routeResourcePath, sessionRouteMethods, type AuthorizerKind, type RouteDefinition } from '../shared/routes';
import { DEFAULT_METRICS_NAMESPACE, metricsNamespaceProblem } from '../shared/metrics';
import { KEYS_TABLE, SESSIONS_TABLE, USERS_TABLE, type ItemKeyAttribute, type TableDefinition } from '../shared/tables';
import { SEAL_ATTRIBUTE, SEALED_FIELDS } from '../shared/seals';
import { APPS_PARTITION } from '../shared/item-keys';
import { bundleDirectory, bundleFile } from './function-bundles';

/** API Gateway's upper bound for an authorizer result cache TTL. */
export const MAX_AUTHORIZER_CACHE_TTL_SECONDS = 3600;

/**
 * Memory for every keygate function. Lambda allocates CPU in proportion to
 * memory, and what these functions spend time on is CPU-bound: evaluating the
 * bundled SDK at cold start, TLS handshakes to DynamoDB and Secrets Manager,
 * one HMAC per request. 1024 MB (~0.6 vCPU) keeps the authorizer's cold start
 * on the request path short; below ~512 MB init time grows almost linearly,
 * and above 1769 MB (one full vCPU) a single-threaded handler gains nothing.
 * Warm invocations take single-digit milliseconds, so the GB-second cost of
 * the larger size is negligible.
 */
export const DEFAULT_MEMORY_SIZE_MB = 1024;

/** AWS WAF's bounds for a rate-based rule's limit (requests per evaluation window). */
export const MIN_PER_IP_RATE_LIMIT = 10;
export const MAX_PER_IP_RATE_LIMIT = 2_000_000_000;
/** The window `perIpRateLimit` counts over: WAF's default, 5 minutes. */
export const PER_IP_RATE_WINDOW_SECONDS = 300;

/**
 * Default method throttling of the public revoke route: a reporter with a few
 * hundred leaked keys is done in seconds (100 keys per request), while the
 * route can cause at most ~100 key lookups a second in steady state however
 * many callers share it.
 */
export const DEFAULT_REVOKE_THROTTLING: Required<apigateway.ThrottleSettings> = { rateLimit: 1, burstLimit: 5 };

export interface KeygateAuthProps {
  /**
   * The session half: `POST .../sdkusers/auth`, `GET .../sdkusers/me`, the
   * session authorizer, the sessions and users tables, and the revoke-sessions
   * and delete-user admin functions. `false` leaves all of it out, for teams
   * that only want API keys; the session props below must then be unset.
   *
   * @default true
   */
  readonly enableSessions?: boolean;

  /**
   * Prefix of API keys: `<prefix>_<secret><checksum>`. 1-16 lowercase letters
   * or digits, starting with a letter. Changing it invalidates no stored key,
   * but keys with the old prefix are rejected as malformed.
   *
   * @default 'kg'
   */
  readonly keyPrefix?: string;

  /**
   * Prefix of session tokens; same rules as `keyPrefix`, and must differ from it
   * so that a key can never be mistaken for a token (or the reverse).
   *
   * @default 'kgs'
   */
  readonly sessionTokenPrefix?: string;

  /**
   * How long a session token issued by `POST .../sdkusers/auth` stays valid.
   * A whole number of seconds greater than zero.
   *
   * @default Duration.hours(24)
   */
  readonly sessionLifetime?: Duration;

  /**
   * How long API Gateway caches an authorizer's result per identity header
   * value. 0 disables caching: a deleted key is refused on the very next
   * request. A non-zero TTL saves authorizer invocations but is also the
   * revocation delay: a deleted or expired key keeps working for up to this
   * long. Between 0 and 3600 seconds.
   *
   * @default Duration.seconds(0)
   */
  readonly authorizerCacheTtl?: Duration;

  /**
   * How often, at most, one API-key authorizer instance records a key's
   * `lastUsedAt`: so `lastUsedAt` is at most this much older than the key's
   * latest use. The write happens after the authorizer has answered, so it
   * adds nothing to request latency; a shorter interval costs more writes
   * (one per key per authorizer instance per interval). Between 1 second and
   * 24 hours, in whole seconds.
   *
   * @default Duration.minutes(15)
   */
  readonly lastUsedInterval?: Duration;

  /**
   * Removal policy of the resources that can be recreated without loss: the
   * sessions table (users sign in again with an API key) and the log groups.
   * The keys and users tables and the pepper secret are always retained: the
   * stored key hashes are useless without the pepper that made them.
   *
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Memory of every keygate function, in MB.
   *
   * @default 1024
   */
  readonly memorySize?: number;

  /**
   * Retention of the functions' log groups.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Set `NODE_OPTIONS=--enable-source-maps` so stack traces in the logs point
   * at the TypeScript sources. Off by default: Node then reads and parses the
   * source map of the whole bundle (SDK included) at startup, which adds to
   * every cold start, and mapping each stack trace is slow. The `.map` files
   * ship in every function's asset either way, so a minified trace can still
   * be decoded offline, or this switched on while debugging.
   *
   * @default false
   */
  readonly enableSourceMaps?: boolean;

  /**
   * CloudWatch namespace of the metrics the functions publish (embedded
   * metric format in their logs: verifications, admin operations, revocation
   * reports, failed lastUsedAt writes). Give each keygate deployment in one account and region its own
   * namespace, or their figures add up in the same metrics.
   *
   * @default 'keygate'
   */
  readonly metricsNamespace?: string;

  /**
   * An existing keys table to use instead of creating one, for example the
   * table a destroyed keygate stack retained (`Table.fromTableName`). It must
   * have keygate's key schema (`pk`/`sk`, both strings). Together with the
   * pepper that made its hashes (`pepperSecret`), every key in it keeps working.
   *
   * @default a new table, retained on delete, with deletion protection
   */
  readonly keysTable?: dynamodb.ITable;

  /**
   * An existing sessions table (partition key `pk`, TTL on `expiresAtEpoch`).
   *
   * @default a new table
   */
  readonly sessionsTable?: dynamodb.ITable;

  /**
   * An existing users table (`pk`/`sk`, both strings).
   *
   * @default a new table, retained on delete, with deletion protection
   */
  readonly usersTable?: dynamodb.ITable;

  /**
   * An existing pepper secret (`Secret.fromSecretNameV2` or
   * `Secret.fromSecretCompleteArn`): the one whose value made the stored key
   * and session hashes. Without the same pepper, no stored key verifies.
   *
   * @default a new secret of 64 random alphanumerics, retained on delete
   */
  readonly pepperSecret?: secretsmanager.ISecret;

  /**
   * How an Allow is scoped to the caller's app (both authorizers).
   *
   * - `AppScope.PATH`: the app id is the `{appUid}` segment of `basePath`; an
   *   Allow covers that app's paths below the base path only (one resource
   *   per HTTP verb), so a key of app A gets 403 on app B's paths. Protected
   *   methods must live below `basePath`.
   * - `AppScope.CONTEXT`: the app is not in the URL. An Allow covers every
   *   method of the API and stage the request was made to that uses this
   *   authorizer (never another API, stage or account); the backend must take
   *   the app from the authorizer context (`requestContext.authorizer.appUid`),
   *   never from the path, query or body.
   *
   * @default AppScope.PATH
   */
  readonly appScope?: AppScope;

  /**
   * Where keygate's own app routes (`whoami`, `sdkusers/...`) live and, in
   * `AppScope.PATH`, the prefix an Allow covers with the app filled in. The
   * public revoke route belongs to no app and stays at `/api/v1/keys/revoke`.
   * Literal segments (letters, digits, `.`, `_`, `-`) and the `{appUid}`
   * segment: required in PATH scope, optional in CONTEXT scope. No other
   * parameter or greedy segment: IAM's `*` spans `/`, so the Allow must be a
   * literal prefix.
   *
   * @default '/api/v1/appuid/{appUid}'
   */
  readonly basePath?: string;

  /**
   * The request header that carries API keys (case-insensitive). A request
   * with the key in any other header, `x-api-key` included, gets 401.
   * `'Authorization'` means keys come as `Authorization: Bearer <key>` only.
   *
   * @default 'x-api-key'
   */
  readonly apiKeyHeader?: string;

  /**
   * Also accept an API key as `Authorization: Bearer <key>`, besides
   * `apiKeyHeader`. The prefix tells a key from a session token, so each
   * authorizer still refuses the other's credential. A request carrying two
   * different values is refused. With two possible headers API Gateway can
   * require neither (identity sources must all be present), so the
   * authorizer runs on every request and `authorizerCacheTtl` must be 0.
   *
   * @default false
   */
  readonly acceptBearerKeys?: boolean;

  /**
   * The format of existing keys to accept besides keygate's own, for keys
   * brought in with import-keys: a JavaScript regular expression the whole
   * key must match, and length bounds checked first. A value that matches
   * neither format is refused with no database call; one that matches is
   * looked up with one GetItem, like a keygate key. The pattern runs on
   * caller input of up to `maxLength` characters: keep it free of nested
   * quantifiers such as `(a+)+`.
   *
   * @default - keygate keys only
   */
  readonly legacyKeys?: LegacyKeyPattern;

  /**
   * Requests one client IP address may send in 5 minutes before AWS WAF
   * answers it 429 instead of passing it to API Gateway. Without it, a flood
   * of well-formed made-up keys costs an authorizer run and a DynamoDB read
   * each, and the only throttle is the stage's, shared by every tenant, so one
   * client can starve the rest. A number creates `webAcl`, a regional web ACL
   * with one rate-based rule per source IP; attach it with
   * `associateWebAcl(stage)` (the construct does not know your stage; synth
   * fails if it is attached to none). Between 10 and 2,000,000,000, or 0 for
   * no web ACL. WAF charges a monthly fee per web ACL and rule plus a fee per
   * request.
   *
   * @default 0 (no web ACL)
   */
  readonly perIpRateLimit?: number;

  /**
   * Origins (`https://app.example.com`) whose pages may call the session
   * routes from a browser with `Authorization: Bearer <session token>`:
   * `addRoutes` gives each session route an `OPTIONS` preflight answering
   * these origins only, the session-route functions answer them with
   * `Access-Control-Allow-Origin`, and API Gateway's own error answers
   * (401, 403, 429, 5xx) carry it too, so a page can tell an expired session
   * from a network failure. Routes that take `x-api-key` never get CORS:
   * keys belong on servers. Each entry is a scheme, a lowercase host and an
   * optional port, without path; `*` is refused.
   *
   * @default - none: no route answers CORS
   */
  readonly corsAllowedOrigins?: string[];

  /**
   * Method throttling of the public `POST /api/v1/keys/revoke` route, which
   * anyone may call without a credential and which looks up to 100 keys per
   * request: a low limit of its own keeps it from being used to load the keys
   * table, whatever the stage allows. API Gateway applies method throttling
   * as a stage setting: `KeygateStack` passes `stageMethodOptions()` to its
   * stage; on your own RestApi, pass it to `deployOptions.methodOptions`.
   * Above the limit API Gateway answers 429.
   *
   * @default { rateLimit: 1, burstLimit: 5 }
   */
  readonly revokeThrottling?: apigateway.ThrottleSettings;

  /**
   * Plans: per-application throttling and quotas. Each plan becomes one API
   * Gateway usage plan on the stage `addRoutes()` puts keygate's routes on;
   * each app on a plan gets one gateway API key (made at runtime by
   * set-app-plan), which the authorizers return as `usageIdentifierKey`.
   * With plans, the API's key source is AUTHORIZER and every keygate method
   * behind an authorizer (and every method of yours with `apiKeyMethodOptions`
   * or `sessionMethodOptions`) requires an API key: a request of an app that
   * is on no plan gets 403. Throttled or over quota: 429. The public revoke
   * route requires none: it keeps its own `revokeThrottling`.
   *
   * @default [] (no plans: no usage plans, no API key required, one stage-wide limit for all apps)
   */
  readonly plans?: readonly PlanDefinition[];

  /**
   * The plan an app that has none is put on when its first key is created
   * (and when its plan is set to null). Without one, an app needs
   * `set-app-plan` before its keys work.
   *
   * @default no default plan
   */
  readonly defaultPlan?: string;

  /**
   * Let the authorizers accept key and session items that carry no seal at
   * all, for the upgrade from a keygate that did not seal records: deploy
   * with `true`, run `keygate seal-records` (the `sealRecordsFunction`) until
   * it reports no more, then deploy without it. An item whose seal is wrong
   * is refused either way. While it is on, whoever can write the tables can
   * remove a seal and change what it covered, so keep the window short. It
   * is for the authorizers only: until seal-records has run, roll-key and
   * update-key refuse unsealed keys, and create-key, import-keys, roll-key
   * and set-app-plan an app whose plan is unsealed (`RecordSealInvalid`).
   *
   * @default false
   */
  readonly acceptUnsealedRecords?: boolean;
}

/** Options for {@link KeygateAuth.addRoutes}. */
export interface AddRoutesOptions {
  /**
   * Resource the route paths (`basePath` + `/...`, and `/api/v1/keys/revoke`) are added under.
   *
   * @default the API's root resource
   */
  readonly parent?: apigateway.IResource;

  /**
   * The stage the usage plans (see `plans`) apply to.
   *
   * @default the API's deployment stage
   */
  readonly stage?: apigateway.Stage;

  /**
   * With `corsAllowedOrigins`, add `DEFAULT_4XX` and `DEFAULT_5XX` gateway
   * responses carrying `Access-Control-Allow-Origin` to the API. Gateway
   * responses belong to the whole API: turn this off if the API already
   * defines those two.
   *
   * @default true
   */
  readonly corsGatewayResponses?: boolean;
}

/** The Lambda runtime matching `NODE_RUNTIME_MAJOR`, the major version the bundles target. */
export function lambdaRuntime(): lambda.Runtime {
  const name = `nodejs${NODE_RUNTIME_MAJOR}.x`;
  const runtime = lambda.Runtime.ALL.find((candidate) => candidate.name === name);
  if (!runtime) throw new Error(`aws-cdk-lib has no Lambda runtime ${name}`);
  return runtime;
}

function validatePrefix(propName: string, prefix: string): void {
  const problem = credentialPrefixProblem(prefix);
  if (problem) throw new Error(`KeygateAuth: ${propName}: ${problem}`);
}

function validateThrottling(throttling: apigateway.ThrottleSettings): Required<apigateway.ThrottleSettings> {
  const settings = { ...DEFAULT_REVOKE_THROTTLING, ...throttling };
  const problem = throttleProblem('revokeThrottling', settings);
  if (problem) throw new Error(`KeygateAuth: ${problem}`);
  return settings;
}

function wholeSeconds(propName: string, duration: Duration): number {
  if (Token.isUnresolved(duration.toMilliseconds({ integral: false }))) {
    throw new Error(`KeygateAuth: ${propName} must be known at synth time`);
  }
  const millis = duration.toMilliseconds({ integral: false });
  if (millis % 1000 !== 0) {
    throw new Error(`KeygateAuth: ${propName} must be a whole number of seconds, got ${millis / 1000}`);
  }
  return millis / 1000;
}

function attributeType(type: ItemKeyAttribute['type']): dynamodb.AttributeType {
  switch (type) {
    case 'S':
      return dynamodb.AttributeType.STRING;
    case 'N':
      return dynamodb.AttributeType.NUMBER;
    case 'B':
      return dynamodb.AttributeType.BINARY;
  }
}

/** What one function reads from its environment and may do in AWS. */
interface FunctionAccess {
  readonly environment: Readonly<Record<string, string>>;
  readonly statements: readonly iam.PolicyStatement[];
}

/** Props that configure the session half, refused when it is off. */
const SESSION_PROPS = ['sessionTokenPrefix', 'sessionLifetime', 'sessionsTable', 'usersTable', 'corsAllowedOrigins'] as const satisfies readonly (keyof KeygateAuthProps)[];

/**
 * keygate's AWS side, ready to sit next to any `RestApi`: the keys, sessions
 * and users tables, the pepper secret, every keygate function with
 * least-privilege roles, the API-key and session `RequestAuthorizer`s, and
 * `addRoutes()` to put the keygate routes on an API. With
 * `enableSessions: false` the session half is left out.
 *
 * The admin functions (`createKeyFunction`, `listKeysFunction`,
 * `deleteKeyFunction`, `rollKeyFunction`, `updateKeyFunction`,
 * `listKeyEventsFunction`, `importKeysFunction`, `listAppsFunction`,
 * `getAppFunction`, `setAppPlanFunction`, `sealRecordsFunction`, and with sessions `revokeSessionsFunction`,
 * `deleteUserFunction`) have no HTTP route: invoke them directly.
 */
export class KeygateAuth extends Construct {
  public readonly keysTable: dynamodb.ITable;
  /** Undefined when sessions are off. */
  public readonly sessionsTable?: dynamodb.ITable;
  /** Undefined when sessions are off. */
  public readonly usersTable?: dynamodb.ITable;
  /** HMAC pepper of key and token hashes. Always retained. */
  public readonly pepperSecret: secretsmanager.ISecret;
  /** CloudWatch namespace of the functions' metrics (see KeygateMonitoring). */
  public readonly metricsNamespace: string;
  /** Whether the session half is deployed (`enableSessions`). */
  public readonly sessionsEnabled: boolean;
  /** Every keygate function deployed, by its id in `FUNCTIONS` (the session functions only with sessions on). */
  public readonly functions: Readonly<Partial<Record<FunctionId, lambda.IFunction>>>;
  public readonly createKeyFunction: lambda.IFunction;
  public readonly listKeysFunction: lambda.IFunction;
  public readonly deleteKeyFunction: lambda.IFunction;
  public readonly rollKeyFunction: lambda.IFunction;
  public readonly updateKeyFunction: lambda.IFunction;
  public readonly listKeyEventsFunction: lambda.IFunction;
  public readonly listAppsFunction: lambda.IFunction;
  public readonly getAppFunction: lambda.IFunction;
  public readonly setAppPlanFunction: lambda.IFunction;
  /** One usage plan per plan, by plan name; filled by `addRoutes()`. Empty without plans. */
  public readonly usagePlans: Readonly<Record<string, apigateway.IUsagePlan>> = {};
  /** Seals the key, session and app plan items written before records were sealed (see `acceptUnsealedRecords`). */
  public readonly sealRecordsFunction: lambda.IFunction;
  /** Undefined when sessions are off. */
  public readonly revokeSessionsFunction?: lambda.IFunction;
  /** Undefined when sessions are off. */
  public readonly deleteUserFunction?: lambda.IFunction;
  public readonly importKeysFunction: lambda.IFunction;
  /** Scope, base path, API-key header and legacy key pattern, as the functions get them. */
  public readonly authSettings: AuthSettings;
  /** REQUEST authorizer for API keys (`apiKeyHeader`, default `x-api-key`). */
  public readonly apiKeyAuthorizer: apigateway.IAuthorizer;
  /** REQUEST authorizer for `Authorization: Bearer <session token>`; undefined when sessions are off. */
  public readonly sessionAuthorizer?: apigateway.IAuthorizer;
  public readonly authorizers: Readonly<Partial<Record<AuthorizerKind, apigateway.IAuthorizer>>>;
  /**
   * Method options that put one of your own methods behind the API-key
   * authorizer: `resource.addMethod('GET', integration, auth.apiKeyMethodOptions)`.
   * In `AppScope.PATH` the method must sit below `basePath`
   * (`/api/v1/appuid/{appUid}/` by default): the Allow covers the key's own
   * app's paths only. In `AppScope.CONTEXT` it may sit anywhere on the API,
   * and its backend reads the app from the authorizer context.
   */
  public readonly apiKeyMethodOptions: apigateway.MethodOptions;
  /** The same for the session authorizer (`Authorization: Bearer <session token>`); undefined when sessions are off. */
  public readonly sessionMethodOptions?: apigateway.MethodOptions;
  /** The per-IP rate-limiting web ACL, when `perIpRateLimit` is set. */
  public readonly webAcl?: wafv2.CfnWebACL;
  private readonly webAclAssociations: wafv2.CfnWebACLAssociation[] = [];
  /** The origins the session routes answer CORS for (`corsAllowedOrigins`); empty: none. */
  public readonly corsAllowedOrigins: readonly string[];
  /** Method throttling of the public revoke route (see `stageMethodOptions()`). */
  public readonly revokeThrottling: Required<apigateway.ThrottleSettings>;

  constructor(scope: Construct, id: string, props: KeygateAuthProps = {}) {
    super(scope, id);

    this.sessionsEnabled = props.enableSessions ?? true;
    if (!this.sessionsEnabled) {
      const set = SESSION_PROPS.filter((name) => props[name] !== undefined);
      if (set.length > 0) throw new Error(`KeygateAuth: ${set.join(', ')} ${set.length > 1 ? 'configure' : 'configures'} sessions, which enableSessions: false turns off`);
    }
    const keyPrefix = props.keyPrefix ?? DEFAULT_KEY_PREFIX;
    const sessionTokenPrefix = props.sessionTokenPrefix ?? DEFAULT_SESSION_TOKEN_PREFIX;
    validatePrefix('keyPrefix', keyPrefix);
    validatePrefix('sessionTokenPrefix', sessionTokenPrefix);
    if (keyPrefix === sessionTokenPrefix) {
      throw new Error(`KeygateAuth: keyPrefix and sessionTokenPrefix must differ, both are '${keyPrefix}'`);
    }
    const sessionLifetimeSeconds = wholeSeconds('sessionLifetime', props.sessionLifetime ?? Duration.seconds(DEFAULT_SESSION_LIFETIME_SECONDS));
    if (sessionLifetimeSeconds <= 0) {
      throw new Error('KeygateAuth: sessionLifetime must be greater than 0 seconds');
    }
    const cacheTtlSeconds = wholeSeconds('authorizerCacheTtl', props.authorizerCacheTtl ?? Duration.seconds(0));
    if (cacheTtlSeconds > MAX_AUTHORIZER_CACHE_TTL_SECONDS) {
      throw new Error(`KeygateAuth: authorizerCacheTtl must be at most ${MAX_AUTHORIZER_CACHE_TTL_SECONDS} seconds, got ${cacheTtlSeconds}`);
    }
    const lastUsedIntervalSeconds = wholeSeconds('lastUsedInterval', props.lastUsedInterval ?? Duration.seconds(DEFAULT_LAST_USED_INTERVAL_SECONDS));
    if (lastUsedIntervalSeconds < 1 || lastUsedIntervalSeconds > MAX_LAST_USED_INTERVAL_SECONDS) {
      throw new Error(`KeygateAuth: lastUsedInterval must be between 1 and ${MAX_LAST_USED_INTERVAL_SECONDS} seconds, got ${lastUsedIntervalSeconds}`);
    }
    const memorySize = props.memorySize ?? DEFAULT_MEMORY_SIZE_MB;
    if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240) {
      throw new Error(`KeygateAuth: memorySize must be a whole number of MB between 128 and 10240, got ${memorySize}`);
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    this.authSettings = authSettingsOf(props);
    if (this.authSettings.acceptBearerKeys && this.authSettings.apiKeyHeader !== AUTHORIZATION_HEADER && cacheTtlSeconds > 0) {
      throw new Error(
        'KeygateAuth: acceptBearerKeys needs authorizerCacheTtl 0: a key may come in either of two headers, so API Gateway can require neither as identity source, and a result cache needs one',
      );
    }
    this.metricsNamespace = props.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE;
    const namespaceProblem = Token.isUnresolved(this.metricsNamespace) ? undefined : metricsNamespaceProblem(this.metricsNamespace);
    if (namespaceProblem) throw new Error(`KeygateAuth: metricsNamespace ${namespaceProblem}`);
    const perIpRateLimit = props.perIpRateLimit ?? 0;
    if (!Number.isInteger(perIpRateLimit) || (perIpRateLimit !== 0 && (perIpRateLimit < MIN_PER_IP_RATE_LIMIT || perIpRateLimit > MAX_PER_IP_RATE_LIMIT))) {
      throw new Error(`KeygateAuth: perIpRateLimit must be 0 (no web ACL) or a whole number between ${MIN_PER_IP_RATE_LIMIT} and ${MAX_PER_IP_RATE_LIMIT}, got ${perIpRateLimit}`);
    }
    for (const origin of props.corsAllowedOrigins ?? []) {
      if (Token.isUnresolved(origin)) throw new Error('KeygateAuth: corsAllowedOrigins must be known at synth time');
      const problem = corsOriginProblem(origin);
      if (problem) throw new Error(`KeygateAuth: corsAllowedOrigins: ${problem}`);
    }
    this.corsAllowedOrigins = [...new Set(props.corsAllowedOrigins ?? [])];
    this.revokeThrottling = validateThrottling(props.revokeThrottling ?? {});
    this.plans = props.plans ?? [];
    this.defaultPlan = props.defaultPlan;
    const plansIssue = plansProblem(this.plans, this.defaultPlan, planRouteKeys(this.deployedRoutes()));
    if (plansIssue) throw new Error(`KeygateAuth: ${plansIssue}`);
    const plansOn = this.plans.length > 0;

    this.keysTable = props.keysTable ?? this.table(KEYS_TABLE, removalPolicy);
    if (this.sessionsEnabled) {
      this.sessionsTable = props.sessionsTable ?? this.table(SESSIONS_TABLE, removalPolicy);
      this.usersTable = props.usersTable ?? this.table(USERS_TABLE, removalPolicy);
    }
    this.pepperSecret = props.pepperSecret ?? this.newPepperSecret();

    this.functions = this.createFunctions({
      authSettings: this.authSettings,
      keyPrefix,
      sessionTokenPrefix,
      sessionLifetimeSeconds,
      lastUsedIntervalSeconds,
      memorySize,
      removalPolicy,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      enableSourceMaps: props.enableSourceMaps ?? false,
      acceptUnsealedRecords: props.acceptUnsealedRecords ?? false,
    });
    this.createKeyFunction = this.functions.createKey!;
    this.listKeysFunction = this.functions.listKeys!;
    this.deleteKeyFunction = this.functions.deleteKey!;
    this.rollKeyFunction = this.functions.rollKey!;
    this.updateKeyFunction = this.functions.updateKey!;
    this.listKeyEventsFunction = this.functions.listKeyEvents!;
    this.importKeysFunction = this.functions.importKeys!;
    this.listAppsFunction = this.functions.listApps!;
    this.getAppFunction = this.functions.getApp!;
    this.setAppPlanFunction = this.functions.setAppPlan!;
    this.sealRecordsFunction = this.functions.sealRecords!;
    this.revokeSessionsFunction = this.functions.revokeSessions;
    this.deleteUserFunction = this.functions.deleteUser;

    const definitions = authorizerDefinitions(this.authSettings);
    const authorizer = (kind: AuthorizerKind, id: string) =>
      new apigateway.RequestAuthorizer(this, id, {
        handler: this.functions[definitions[kind].function]!,
        identitySources: definitions[kind].identityHeaders.map((header) => apigateway.IdentitySource.header(header)),
        resultsCacheTtl: Duration.seconds(cacheTtlSeconds),
      });
    this.apiKeyAuthorizer = authorizer('apiKey', 'ApiKeyAuthorizer');
    // With plans every method behind an authorizer requires the API key the authorizer returns: that is what puts a request on its app's plan.
    const keyRequired = plansOn ? { apiKeyRequired: true } : {};
    this.apiKeyMethodOptions = { authorizationType: apigateway.AuthorizationType.CUSTOM, authorizer: this.apiKeyAuthorizer, ...keyRequired };
    if (this.sessionsEnabled) {
      this.sessionAuthorizer = authorizer('session', 'SessionAuthorizer');
      this.sessionMethodOptions = { authorizationType: apigateway.AuthorizationType.CUSTOM, authorizer: this.sessionAuthorizer, ...keyRequired };
    }
    this.authorizers = { apiKey: this.apiKeyAuthorizer, ...(this.sessionAuthorizer && { session: this.sessionAuthorizer }) };

    this.node.addValidation({
      validate: () => (plansOn && !this.plansBound ? ['KeygateAuth: plans are set but addRoutes() was never called, so no usage plan is bound to an API stage'] : []),
    });

    if (perIpRateLimit > 0) {
      this.webAcl = this.perIpWebAcl(perIpRateLimit);
      this.node.addValidation({
        validate: () =>
          this.webAclAssociations.length === 0 ? ['KeygateAuth: perIpRateLimit is set but the web ACL protects no stage; call associateWebAcl(stage), e.g. with api.deploymentStage'] : [],
      });
    }
  }

  /**
   * Attaches the per-IP rate-limiting web ACL (`perIpRateLimit`) to a stage of
   * a REST API, e.g. `api.deploymentStage`.
   */
  public associateWebAcl(stage: apigateway.Stage): wafv2.CfnWebACLAssociation {
    if (!this.webAcl) throw new Error('KeygateAuth: associateWebAcl needs a web ACL; set perIpRateLimit');
    const association = new wafv2.CfnWebACLAssociation(this, `WebAclAssociation${this.webAclAssociations.length || ''}`, {
      resourceArn: stage.stageArn,
      webAclArn: this.webAcl.attrArn,
    });
    // The stage must exist before WAF can attach to it.
    association.node.addDependency(stage);
    this.webAclAssociations.push(association);
    return association;
  }

  private perIpWebAcl(limit: number): wafv2.CfnWebACL {
    const metricName = Names.uniqueId(this).slice(-200);
    // Sampled requests are off: WAF would keep the requests' headers, x-api-key and Authorization included, for the console.
    return new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      description: 'keygate: per-IP rate limit in front of the stage: the authorizers and the public revoke route',
      defaultAction: { allow: {} },
      visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: `${metricName}WebAcl`, sampledRequestsEnabled: false },
      rules: [
        {
          name: 'PerIpRateLimit',
          priority: 0,
          statement: { rateBasedStatement: { limit, aggregateKeyType: 'IP', evaluationWindowSec: PER_IP_RATE_WINDOW_SECONDS } },
          action: { block: { customResponse: { responseCode: 429 } } },
          visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: `${metricName}PerIpRateLimit`, sampledRequestsEnabled: false },
        },
      ],
    });
  }

  private readonly plans: readonly PlanDefinition[];
  private readonly defaultPlan: string | undefined;
  private plansBound = false;

  /** The routes `addRoutes()` adds: all of them, less the session half's when sessions are off. */
  private deployedRoutes(): RouteDefinition[] {
    return ROUTES.filter((route) => this.sessionsEnabled || !isSessionFunction(route.function));
  }

  /**
   * Adds every route of the keygate route table (lib/shared/routes.ts) to
   * `api`, each a Lambda proxy integration behind its authorizer: the app
   * routes below `basePath`, and the public `POST /api/v1/keys/revoke` with
   * none; with sessions off, only the routes of the API-key half; with
   * `corsAllowedOrigins`, each session route also gets an `OPTIONS` preflight.
   * An authorizer belongs to one API, so call this for one `RestApi` only.
   * Give the stage that serves them `stageMethodOptions()`, or the revoke
   * route has only the stage's throttling.
   *
   * The bodies are validated by the functions, not by an
   * API Gateway model: API Gateway's validation message quotes the rejected
   * value (`... does not match input string "kg_..."`), so a key sent in the
   * wrong field would come back in the 400 and land in logs. The function's
   * 400 names the field and never the value, locally and deployed alike.
   */
  public addRoutes(api: apigateway.IRestApi, options: AddRoutesOptions = {}): apigateway.Method[] {
    const parent = options.parent ?? api.root;
    const routes = this.deployedRoutes();
    const methods = routes.map((route) => {
      // Relative to `parent`: resourceForPath takes a leading '/' on the API's root only.
      const resource = parent.resourceForPath(routeResourcePath(route, this.authSettings.basePath).slice(1));
      const method = resource.addMethod(
        route.method,
        new apigateway.LambdaIntegration(this.functions[route.function]!, { proxy: true, allowTestInvoke: false }),
        this.routeMethodOptions(route),
      );
      if (route.authorizer === 'none') {
        const reason =
          'The public revoke route takes no credential by design: whoever holds a leaked key may revoke it, holding the key is the proof, and revoking it gives its holder nothing. It answers 202 whether or not a key existed, and has its own low method throttling.';
        Validations.of(method).acknowledge({ id: 'AwsSolutions-APIG4', reason }, { id: 'AwsSolutions-COG4', reason });
      } else {
        Validations.of(method).acknowledge({
          id: 'AwsSolutions-COG4',
          reason: 'Callers are API-key holders and session-token holders, authenticated by keygate\'s own Lambda REQUEST authorizer; there is no Cognito user pool in this design.',
        });
      }
      return method;
    });
    const corsGatewayResponses = this.corsAllowedOrigins.length > 0 && (options.corsGatewayResponses ?? true);
    if (this.plans.length > 0) this.bindPlans(api, options.stage ?? api.deploymentStage, routes, methods, corsGatewayResponses);
    if (this.corsAllowedOrigins.length > 0) {
      for (const [path, sessionMethods] of sessionRouteMethods(routes, this.authSettings.basePath)) this.addSessionCorsPreflight(parent.resourceForPath(path.slice(1)), sessionMethods);
      if (corsGatewayResponses) this.addCorsGatewayResponses(api);
    }
    return methods;
  }

  /**
   * One usage plan per plan on `stage`, the API's key source set to
   * AUTHORIZER, 429 gateway responses, and what the functions that manage
   * gateway keys need to know and may do: the plans' usage plan ids, and
   * POST/DELETE on API keys and on these usage plans' keys, nothing else.
   */
  private bindPlans(api: apigateway.IRestApi, stage: apigateway.Stage, routes: readonly RouteDefinition[], methods: readonly apigateway.Method[], cors: boolean): void {
    if (this.plansBound) throw new Error('KeygateAuth: addRoutes() was already called; plans bind to one API stage');
    this.plansBound = true;

    const restApi = api.node.defaultChild;
    if (restApi instanceof apigateway.CfnRestApi) {
      if (restApi.apiKeySourceType !== undefined && restApi.apiKeySourceType !== apigateway.ApiKeySourceType.AUTHORIZER) {
        throw new Error(`KeygateAuth: plans need the API's apiKeySourceType to be AUTHORIZER (keygate's authorizer supplies each app's gateway key), but ${api.node.path} sets ${restApi.apiKeySourceType}`);
      }
      restApi.apiKeySourceType = apigateway.ApiKeySourceType.AUTHORIZER;
    } else {
      Annotations.of(this).addWarningV2('keygate:apiKeySourceType', `plans need apiKeySourceType AUTHORIZER on ${api.node.path}; set it where that API is defined`);
    }

    const methodOf = (key: string) => methods[routes.findIndex((route) => route.authorizer !== 'none' && routeKey(route.method, route.path) === key)]!;
    const stack = Stack.of(this);
    const usagePlans = this.usagePlans as Record<string, apigateway.UsagePlan>;
    for (const plan of this.plans) {
      usagePlans[plan.name] = new apigateway.UsagePlan(this, `UsagePlan-${plan.name}`, {
        name: `${stack.stackName}-${plan.name}`,
        description: `keygate plan ${plan.name}: one gateway API key per app, supplied by keygate's authorizer`,
        throttle: { rateLimit: plan.rateLimit, burstLimit: plan.burstLimit },
        ...(plan.quota && { quota: { limit: plan.quota.limit, period: apigateway.Period[plan.quota.period] } }),
        apiStages: [
          {
            api,
            stage,
            throttle: Object.entries(plan.methodThrottles ?? {}).map(([key, limits]) => ({
              method: methodOf(key),
              throttle: { rateLimit: limits.rateLimit, burstLimit: limits.burstLimit },
            })),
          },
        ],
      });
    }

    for (const [type, response] of [
      [apigateway.ResponseType.THROTTLED, PLAN_GATEWAY_RESPONSES.THROTTLED],
      [apigateway.ResponseType.QUOTA_EXCEEDED, PLAN_GATEWAY_RESPONSES.QUOTA_EXCEEDED],
    ] as const) {
      new apigateway.GatewayResponse(this, `${type.responseType}Response`, {
        restApi: api,
        type,
        statusCode: String(response.statusCode),
        // A response of its own type replaces DEFAULT_4XX, CORS headers included: a page must be able to read its 429 too.
        responseHeaders: { ...Object.fromEntries(Object.entries(response.headers).map(([name, value]) => [name, `'${value}'`])), ...(cors && this.corsGatewayResponseHeaders()) },
      });
    }

    const apigw = (path: string) => `arn:${stack.partition}:apigateway:${stack.region}::${path}`;
    const planIds = Object.values(usagePlans).map((plan) => plan.usagePlanId);
    const manageGatewayKeys = [
      new iam.PolicyStatement({ sid: 'CreateGatewayKeys', actions: ['apigateway:POST'], resources: [apigw('/apikeys')] }),
      new iam.PolicyStatement({ sid: 'DeleteGatewayKeys', actions: ['apigateway:DELETE'], resources: [apigw('/apikeys/*')] }),
      new iam.PolicyStatement({ sid: 'AddGatewayKeysToPlans', actions: ['apigateway:POST'], resources: planIds.map((id) => apigw(`/usageplans/${id}/keys`)) }),
      new iam.PolicyStatement({ sid: 'RemoveGatewayKeysFromPlans', actions: ['apigateway:DELETE'], resources: planIds.map((id) => apigw(`/usageplans/${id}/keys/*`)) }),
    ];
    const catalogue = stack.toJsonString(Object.fromEntries(Object.entries(usagePlans).map(([name, plan]) => [name, plan.usagePlanId])));
    const setAppPlan = this.functions.setAppPlan as lambda.Function;
    // create-key and import-keys put an app without a plan on the default one, so with a default plan they manage gateway keys too.
    const keyMakers = [this.functions.createKey as lambda.Function, this.functions.importKeys as lambda.Function];
    const managers = [setAppPlan, ...(this.defaultPlan !== undefined ? keyMakers : [])];
    for (const fn of [setAppPlan, ...keyMakers]) {
      fn.addEnvironment(ENV.usagePlans, catalogue);
      if (this.defaultPlan !== undefined) fn.addEnvironment(ENV.defaultPlan, this.defaultPlan);
    }
    // cdk-nag names each wildcard resource in its finding, e.g. AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:...].
    const wildcards = manageGatewayKeys.flatMap((statement) => statement.resources.filter((resource) => resource.endsWith('*')));
    for (const fn of managers) {
      for (const statement of manageGatewayKeys) fn.role!.addToPrincipalPolicy(statement);
      Validations.of(fn.role!).acknowledge(
        ...wildcards.map((resource) => ({
          id: `AwsSolutions-IAM5[Resource::${nagText(stack, resource)}]`,
          reason:
            "Gateway API keys are made at runtime, one per app, so their ids are unknown at deploy time: DELETE on /apikeys/* and on this stack's usage plans' /keys/* is the narrowest resource API Gateway's IAM offers. Only POST and DELETE, only API keys and usage-plan keys.",
        })),
      );
    }
  }

  /**
   * Adds a CORS preflight (`OPTIONS`, a mock integration) for
   * `corsAllowedOrigins` to one of your own resources whose methods use
   * `sessionMethodOptions`; your integration then answers
   * `Access-Control-Allow-Origin` for those origins itself. Returns undefined,
   * adding nothing, when no origin is allowed.
   */
  public addSessionCorsPreflight(resource: apigateway.IResource, methods: readonly string[] = ['GET']): apigateway.Method | undefined {
    if (this.corsAllowedOrigins.length === 0) return undefined;
    const preflight = resource.addCorsPreflight({
      allowOrigins: [...this.corsAllowedOrigins],
      allowHeaders: [...SESSION_CORS_ALLOW_HEADERS],
      allowMethods: [...methods],
      maxAge: Duration.seconds(SESSION_CORS_MAX_AGE_SECONDS),
    });
    Validations.of(preflight).acknowledge(
      {
        id: 'AwsSolutions-APIG4',
        reason:
          'A CORS preflight cannot be authorized: browsers send OPTIONS without credentials (Fetch standard). It is a mock integration that only answers CORS headers for the configured origins; the method it clears is behind the session authorizer.',
      },
      {
        id: 'AwsSolutions-COG4',
        reason: 'A CORS preflight carries no credentials, so no authorizer (Cognito or other) can apply; it runs no backend and returns headers only.',
      },
    );
    return preflight;
  }

  /** API Gateway's own error answers readable by the allowed origins (lib/shared/cors.ts, gatewayResponseCorsHeaders). */
  private addCorsGatewayResponses(api: apigateway.IRestApi): void {
    for (const [id, type] of [
      ['CorsDefault4xx', apigateway.ResponseType.DEFAULT_4XX],
      ['CorsDefault5xx', apigateway.ResponseType.DEFAULT_5XX],
    ] as const) {
      new apigateway.GatewayResponse(this, id, { restApi: api, type, responseHeaders: this.corsGatewayResponseHeaders() });
    }
  }

  /** The CORS headers of a gateway response, as mapping expressions. */
  private corsGatewayResponseHeaders(): Record<string, string> {
    const origins = this.corsAllowedOrigins;
    return {
      // Gateway responses map headers without conditions: one origin as is, several by echoing the request's.
      'Access-Control-Allow-Origin': origins.length === 1 ? `'${origins[0]}'` : 'method.request.header.Origin',
      Vary: "'Origin'",
    };
  }

  /**
   * The stage method settings keygate's routes need: the revoke route's own
   * throttling (`revokeThrottling`). Method throttling is a stage setting, so
   * give this to the stage that serves the routes:
   * `new RestApi(this, 'Api', { deployOptions: { methodOptions: auth.stageMethodOptions() } })`.
   *
   * @param parentPath the path of the `parent` given to `addRoutes`, e.g. `/v2`
   * @default '/' (routes added at the API's root)
   */
  public stageMethodOptions(parentPath = '/'): Record<string, apigateway.MethodDeploymentOptions> {
    if (!parentPath.startsWith('/')) throw new Error(`KeygateAuth: stageMethodOptions: parentPath must start with '/', got '${parentPath}'`);
    const prefix = parentPath.replace(/\/+$/, '');
    return {
      [`${prefix}${routeResourcePath(REVOKE_ROUTE)}/${REVOKE_ROUTE.method}`]: {
        throttlingRateLimit: this.revokeThrottling.rateLimit,
        throttlingBurstLimit: this.revokeThrottling.burstLimit,
      },
    };
  }

  private routeMethodOptions(route: RouteDefinition): apigateway.MethodOptions {
    switch (route.authorizer) {
      case 'apiKey':
        return this.apiKeyMethodOptions;
      case 'session':
        return this.sessionMethodOptions!;
      case 'none':
        // Explicit, so an API whose defaultMethodOptions require an authorizer or an API key cannot lock reporters out.
        return { authorizationType: apigateway.AuthorizationType.NONE, apiKeyRequired: false };
    }
  }

  private newPepperSecret(): secretsmanager.ISecret {
    const secret = new secretsmanager.Secret(this, 'Pepper', {
      description: 'keygate: HMAC pepper of API-key and session-token hashes. Deleting it invalidates every key.',
      // 64 alphanumerics (~380 bits); the functions refuse a pepper under 32 characters.
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The pepper keys the HMAC of every stored API-key and session-token hash; rotating it would silently invalidate every issued key and session. Rotation needs dual-pepper verification, which keygate does not have yet.',
    });
    return secret;
  }

  private table(definition: TableDefinition, removalPolicy: RemovalPolicy): dynamodb.Table {
    return new dynamodb.Table(this, `${definition.id}Table`, {
      partitionKey: { name: definition.partitionKey.name, type: attributeType(definition.partitionKey.type) },
      ...(definition.sortKey && { sortKey: { name: definition.sortKey.name, type: attributeType(definition.sortKey.type) } }),
      ...(definition.timeToLiveAttribute && { timeToLiveAttribute: definition.timeToLiveAttribute }),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      // AWS-managed KMS key (aws/dynamodb): encrypted at rest with key use visible in CloudTrail,
      // and no key policy to get wrong, no monthly key charge and no kms:Decrypt grant for every
      // function, as a customer-managed key would need. The items hold hashes, never keys.
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: definition.retainOnDelete,
      removalPolicy: definition.retainOnDelete ? RemovalPolicy.RETAIN : removalPolicy,
    });
  }

  private createFunctions(options: {
    authSettings: AuthSettings;
    keyPrefix: string;
    sessionTokenPrefix: string;
    sessionLifetimeSeconds: number;
    lastUsedIntervalSeconds: number;
    memorySize: number;
    removalPolicy: RemovalPolicy;
    logRetention: logs.RetentionDays;
    enableSourceMaps: boolean;
    acceptUnsealedRecords: boolean;
  }): Partial<Record<FunctionId, lambda.IFunction>> {
    const keys = this.keysTable.tableArn;
    // Only the functions behind session routes learn the origins: key routes answer no CORS.
    const sessionRouteFunctions = new Set(ROUTES.filter((route) => route.authorizer === 'session').map((route) => route.function));
    const sessionCors: Record<string, string> = this.corsAllowedOrigins.length > 0 ? { [ENV.corsAllowedOrigins]: this.corsAllowedOrigins.join(',') } : {};
    const pepper = { [ENV.pepperSecretId]: this.pepperSecret.secretArn };
    const scope = scopeEnvironment(options.authSettings);
    const legacyKeys = legacyKeysEnvironment(options.authSettings);
    const readPepper = new iam.PolicyStatement({ sid: 'ReadPepper', actions: ['secretsmanager:GetSecretValue'], resources: [this.pepperSecret.secretArn] });
    /** `actions` on `tableArn`, limited to items whose partition key matches one of `leadingKeys` when given. */
    const on = (sid: string, tableArn: string, actions: string[], leadingKeys?: string[]) =>
      new iam.PolicyStatement({
        sid,
        actions,
        resources: [tableArn],
        ...(leadingKeys && { conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': leadingKeys } } }),
      });
    const onKeys = (sid: string, actions: string[], leadingKeys?: string[]) => on(sid, keys, actions, leadingKeys);
    const keysEnv = { [ENV.keysTable]: this.keysTable.tableName };
    // Every change to keys writes its activity event (an app# item) in the same transaction: a Put.
    const appendEvents = onKeys('AppendEvents', ['dynamodb:PutItem'], ['app#*']);
    // A key added or removed changes its app's key count in the registry (the apps partition) in the same transaction.
    const countAppKeys = onKeys('CountAppKeys', ['dynamodb:UpdateItem'], ['apps']);
    // Only called for session functions, which exist only with the session tables.
    const sessions = () => this.sessionsTable!;
    const users = () => this.usersTable!;
    const sessionTablesEnv = () => ({ [ENV.sessionsTable]: sessions().tableName, [ENV.usersTable]: users().tableName });
    // The index items of sessions (see lib/shared/item-keys.ts): what revoke-sessions and delete-user read and remove.
    const sessionIndexes = ['user#*', 'key#*', 'sid#*'];
    // An app's key items: counted when the app is registered, and listed to set its gateway key on their hash items.
    const queryAppKeys = onKeys('QueryAppKeys', ['dynamodb:Query'], ['app#*']);
    const plansOn = this.plans.length > 0;
    // Putting an app on a plan writes its gateway key onto each of its keys' hash items, and their new seals: those attributes only.
    const setGatewayKeyOnHashItems = new iam.PolicyStatement({
      sid: 'SetGatewayKeyOnHashItems',
      actions: ['dynamodb:UpdateItem'],
      resources: [keys],
      conditions: {
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['hash#*'] },
        'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'gatewayKey', SEAL_ATTRIBUTE] },
      },
    });
    // Each hash item is read, its seal checked, and resealed with the gateway key (see KeyStore.setGatewayKeyOnKeys).
    const setGatewayKeyOnKeys = [onKeys('ReadKeyHashItems', ['dynamodb:GetItem'], ['hash#*']), setGatewayKeyOnHashItems];
    // Only set during an upgrade window: absent, the authorizers refuse unsealed items.
    const unsealed: Record<string, string> = options.acceptUnsealedRecords ? { [ENV.acceptUnsealedRecords]: 'true' } : {};
    /**
     * seal-records on one kind of item: a Scan (hash items, each in a partition of its own) or a Query of the one
     * registry partition that may read only the item key, the seal and the sealed fields, and an UpdateItem of
     * those items naming nothing else (it sets the seal, on condition the sealed fields are unchanged).
     */
    const sealing = (table: 'Keys' | 'Sessions' | 'Apps', tableArn: string, leadingKey: string, fields: readonly string[]) => {
      const attributes = ['pk', 'sk', SEAL_ATTRIBUTE, ...fields];
      const registry = table === 'Apps';
      return [
        new iam.PolicyStatement({
          sid: `${registry ? 'Query' : 'Scan'}${table}SealedFields`,
          actions: [registry ? 'dynamodb:Query' : 'dynamodb:Scan'],
          resources: [tableArn],
          conditions: {
            ...(registry && { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [leadingKey] } }),
            'ForAllValues:StringEquals': { 'dynamodb:Attributes': attributes },
            StringEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
          },
        }),
        new iam.PolicyStatement({
          sid: `Seal${table}${registry ? 'RegistryItems' : 'HashItems'}`,
          actions: ['dynamodb:UpdateItem'],
          resources: [tableArn],
          conditions: {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [leadingKey] },
            'ForAllValues:StringEquals': { 'dynamodb:Attributes': attributes },
            StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
          },
        }),
      ];
    };

    /** What create-key and import-keys do to make keys. */
    const makeKeys = () => [
      // The transaction's Puts (two key items and the event per key; the app's registry item on its first keys); IAM authorizes each as dynamodb:PutItem.
      onKeys('PutKeyItems', ['dynamodb:PutItem']),
      // The app's key count, and the one-off count of an app's keys when it is registered.
      countAppKeys,
      queryAppKeys,
      readPepper,
      // With plans they read the app's gateway key first; with a default plan they may put the app on it (set-app-plan's access).
      ...(plansOn ? [onKeys('GetAppRegistry', ['dynamodb:GetItem'], ['apps'])] : []),
      ...(this.defaultPlan !== undefined ? setGatewayKeyOnKeys : []),
    ];
    // Each function gets the environment it reads and the actions it calls, nothing more (thunks: the session tables may not exist).
    const access: Record<FunctionId, () => FunctionAccess> = {
      apiKeyAuthorizer: () => ({
        environment: {
          ...keysEnv,
          ...pepper,
          [ENV.keyPrefix]: options.keyPrefix,
          [ENV.lastUsedIntervalSeconds]: String(options.lastUsedIntervalSeconds),
          ...scope,
          ...apiKeyHeaderEnvironment(options.authSettings),
          ...legacyKeys,
          ...unsealed,
        },
        statements: [
          // Only the hash items: the authorizer cannot read app#... items or anything else.
          onKeys('GetKeyHashItems', ['dynamodb:GetItem'], ['hash#*']),
          // Its one write: lastUsedAt of hash items. dynamodb:Attributes lists every attribute the request names
          // (key, update and condition expressions), so it can change no other attribute and read none back.
          new iam.PolicyStatement({
            sid: 'RecordKeyLastUsed',
            actions: ['dynamodb:UpdateItem'],
            resources: [keys],
            conditions: {
              'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['hash#*'] },
              'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'lastUsedAt'] },
              StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
            },
          }),
          readPepper,
        ],
      }),
      sessionAuthorizer: () => ({
        environment: { [ENV.sessionsTable]: sessions().tableName, ...pepper, [ENV.sessionTokenPrefix]: options.sessionTokenPrefix, ...scope, ...unsealed },
        // Only the session items, not the index items that list a user's or a key's sessions.
        statements: [on('GetSessionItems', sessions().tableArn, ['dynamodb:GetItem'], ['token#*']), readPepper],
      }),
      whoami: () => ({ environment: {}, statements: [] }),
      sdkUsersAuth: () => ({
        environment: {
          ...sessionTablesEnv(),
          ...pepper,
          [ENV.sessionTokenPrefix]: options.sessionTokenPrefix,
          [ENV.sessionLifetimeSeconds]: String(options.sessionLifetimeSeconds),
        },
        statements: [
          // Find (GetItem, or UpdateItem adding a name or account ids) or create (a transaction of two Puts);
          // the session's transaction checks the user still exists (ConditionCheckItem).
          on('FindOrCreateUsers', users().tableArn, ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:ConditionCheckItem']),
          // The session and its three index items, one transaction of Puts.
          on('PutSessions', sessions().tableArn, ['dynamodb:PutItem']),
          readPepper,
        ],
      }),
      sdkUsersMe: () => ({
        environment: { [ENV.usersTable]: users().tableName },
        statements: [on('GetUsers', users().tableArn, ['dynamodb:GetItem'])],
      }),
      createKey: () => ({
        environment: { ...keysEnv, ...pepper, [ENV.keyPrefix]: options.keyPrefix },
        statements: makeKeys(),
      }),
      listKeys: () => ({
        environment: keysEnv,
        statements: [
          onKeys('QueryAppItems', ['dynamodb:Query'], ['app#*']),
          // lastUsedAt lives on the hash items: one BatchGetItem per page, never a scan.
          onKeys('GetLastUsed', ['dynamodb:BatchGetItem'], ['hash#*']),
        ],
      }),
      deleteKey: () => ({
        environment: keysEnv,
        // Reads the app#/key# item, then deletes it and its hash# item, uncounts it and Puts the event in one transaction.
        statements: [onKeys('DeleteKeyItems', ['dynamodb:GetItem', 'dynamodb:DeleteItem']), appendEvents, countAppKeys],
      }),
      rollKey: () => ({
        environment: { ...keysEnv, ...pepper, [ENV.keyPrefix]: options.keyPrefix },
        // Reads the old key's app item and the app's registry item (its gateway key); one transaction Puts the new key's
        // two items and the event, updates the old key's two items and counts the new key in the registry (for an app
        // from before the registry: checks it is still unregistered).
        statements: [
          onKeys('RollKeyItems', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']),
          onKeys('CheckAppUnregistered', ['dynamodb:ConditionCheckItem'], ['apps']),
          readPepper,
        ],
      }),
      updateKey: () => ({
        environment: { ...keysEnv, ...pepper },
        // Reads the app item (and the seal and lastUsedAt from the hash item); one transaction updates both and Puts
        // the event. The pepper: a change to expiresAt or enabled seals the hash item anew.
        statements: [onKeys('UpdateKeyItems', ['dynamodb:GetItem', 'dynamodb:UpdateItem']), appendEvents, readPepper],
      }),
      listKeyEvents: () => ({
        environment: keysEnv,
        statements: [onKeys('QueryAppItems', ['dynamodb:Query'], ['app#*'])],
      }),
      revokeKeys: () => ({
        environment: { ...keysEnv, ...pepper, [ENV.keyPrefix]: options.keyPrefix },
        // Finds a reported key by its hash item, then deletes it as delete-key does: reads its app#/key# item and
        // deletes both items, uncounts it and Puts the event in one transaction.
        statements: [onKeys('DeleteKeyItems', ['dynamodb:GetItem', 'dynamodb:DeleteItem'], ['hash#*', 'app#*']), appendEvents, countAppKeys, readPepper],
      }),
      listApps: () => ({
        environment: keysEnv,
        statements: [onKeys('QueryAppRegistry', ['dynamodb:Query'], ['apps'])],
      }),
      getApp: () => ({
        environment: keysEnv,
        statements: [onKeys('GetAppRegistry', ['dynamodb:GetItem'], ['apps'])],
      }),
      setAppPlan: () => ({
        environment: { ...keysEnv, ...pepper },
        statements: [
          // Reads the app's registry item, registers an app seen for the first time, sets or clears its plan fields.
          onKeys('AppRegistry', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], ['apps']),
          queryAppKeys,
          ...setGatewayKeyOnKeys,
          readPepper,
          // Each change of plan is recorded in the app's activity log.
          appendEvents,
        ],
      }),
      sealRecords: () => ({
        environment: { ...keysEnv, ...(this.sessionsEnabled && { [ENV.sessionsTable]: sessions().tableName }), ...pepper },
        statements: [
          ...sealing('Keys', keys, 'hash#*', SEALED_FIELDS.key),
          ...(this.sessionsEnabled ? sealing('Sessions', sessions().tableArn, 'token#*', SEALED_FIELDS.session) : []),
          ...sealing('Apps', keys, APPS_PARTITION, SEALED_FIELDS.app),
          readPepper,
        ],
      }),
      revokeSessions: () => ({
        environment: { ...sessionTablesEnv(), ...keysEnv },
        statements: [
          // externalId → userId.
          on('GetUsers', users().tableArn, ['dynamodb:GetItem']),
          on('FindSessions', sessions().tableArn, ['dynamodb:Query', 'dynamodb:GetItem'], sessionIndexes),
          on('EndSessions', sessions().tableArn, ['dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'], ['token#*', ...sessionIndexes]),
          appendEvents,
        ],
      }),
      deleteUser: () => ({
        environment: { ...sessionTablesEnv(), ...keysEnv },
        statements: [
          on('EraseUsers', users().tableArn, ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']),
          on('FindSessions', sessions().tableArn, ['dynamodb:Query', 'dynamodb:GetItem'], sessionIndexes),
          on('EndSessions', sessions().tableArn, ['dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'], ['token#*', ...sessionIndexes]),
          appendEvents,
        ],
      }),
      importKeys: () => ({
        environment: { ...keysEnv, ...pepper, [ENV.keyPrefix]: options.keyPrefix, ...legacyKeys },
        // As create-key, with three Puts per key (two key items and the `imported` event) in one transaction.
        statements: makeKeys(),
      }),
    };

    const runtime = lambdaRuntime();
    const made: Partial<Record<FunctionId, lambda.IFunction>> = {};
    for (const key of Object.keys(FUNCTIONS) as FunctionId[]) {
      if (!this.sessionsEnabled && isSessionFunction(key)) continue;
      const definition: FunctionDefinition = FUNCTIONS[key];
      const { environment, statements } = access[key]();
      const id = constructId(key);
      const logGroup = new logs.LogGroup(this, `${id}Logs`, { retention: options.logRetention, removalPolicy: options.removalPolicy });
      // An own role per function instead of AWSLambdaBasicExecutionRole: it may write to its own log group only.
      const role = new iam.Role(this, `${id}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `keygate ${definition.name} function`,
      });
      logGroup.grantWrite(role);
      for (const statement of statements) role.addToPolicy(statement);

      if (!existsSync(bundleFile(definition))) {
        throw new Error(`KeygateAuth: the ${definition.name} bundle is missing (${bundleFile(definition)}); run 'npm run build' in the keygate package`);
      }
      // The prebuilt bundle, byte for byte what the tests and the local stack run: no bundler at synth time.
      made[key] = new lambda.Function(this, id, {
        code: lambda.Code.fromAsset(bundleDirectory(definition)),
        handler: BUNDLE_HANDLER,
        description: definition.description,
        runtime,
        architecture: lambda.Architecture.ARM_64,
        memorySize: options.memorySize,
        timeout: Duration.seconds(definition.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS),
        role,
        logGroup,
        environment: {
          ...environment,
          // Every function logs and counts through the shared adapters (functions/lambda/logger.ts, metrics.ts).
          [ENV.metricsNamespace]: this.metricsNamespace,
          ...(sessionRouteFunctions.has(key) && sessionCors),
          ...(options.enableSourceMaps && { NODE_OPTIONS: '--enable-source-maps' }),
        },
      });
    }
    return made;
  }
}

/** The props' scope, base path, header and legacy key pattern, checked: `KeygateAuth: <prop> <problem>`. */
function authSettingsOf(props: KeygateAuthProps): AuthSettings {
  for (const [name, value] of [['basePath', props.basePath], ['apiKeyHeader', props.apiKeyHeader], ['legacyKeys.pattern', props.legacyKeys?.pattern]] as const) {
    if (value !== undefined && Token.isUnresolved(value)) throw new Error(`KeygateAuth: ${name} must be known at synth time`);
  }
  const settings: AuthSettings = {
    appScope: props.appScope ?? DEFAULT_AUTH_SETTINGS.appScope,
    basePath: props.basePath ?? DEFAULT_AUTH_SETTINGS.basePath,
    apiKeyHeader: (props.apiKeyHeader ?? DEFAULT_AUTH_SETTINGS.apiKeyHeader).toLowerCase(),
    acceptBearerKeys: props.acceptBearerKeys ?? DEFAULT_AUTH_SETTINGS.acceptBearerKeys,
    ...(props.legacyKeys && { legacyKeys: { pattern: props.legacyKeys.pattern, minLength: props.legacyKeys.minLength, maxLength: props.legacyKeys.maxLength } }),
  };
  const problem = authSettingsProblem(settings);
  if (problem) throw new Error(`KeygateAuth: ${problem.setting} ${problem.problem}`);
  return settings;
}

/** `apiKeyAuthorizer` → `ApiKeyAuthorizerFunction`. */
function constructId(key: FunctionId): string {
  return `${key.charAt(0).toUpperCase()}${key.slice(1)}Function`;
}

/** A string as cdk-nag shows it in a finding id: references as `<LogicalId>` or `<AWS::Region>`. */
function nagText(stack: Stack, value: string): string {
  const render = (part: unknown): string => {
    if (typeof part === 'string') return part;
    const { Ref, 'Fn::Join': join } = part as { Ref?: string; 'Fn::Join'?: [string, unknown[]] };
    if (Ref !== undefined) return `<${Ref}>`;
    if (join) return join[1].map(render).join(join[0]);
    return JSON.stringify(part);
  };
  return render(stack.resolve(value));
}
