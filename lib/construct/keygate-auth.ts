import { existsSync } from 'node:fs';
import { Duration, RemovalPolicy, Token, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
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
import { AUTHORIZERS, REVOKE_ROUTE, ROUTES, routeResourcePath, type AuthorizerKind, type RouteDefinition } from '../shared/routes';
import { KEYS_TABLE, SESSIONS_TABLE, USERS_TABLE, type ItemKeyAttribute, type TableDefinition } from '../shared/tables';
import { SEAL_ATTRIBUTE, SEALED_FIELDS } from '../shared/seals';
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
   * Let the authorizers accept key and session items that carry no seal at
   * all, for the upgrade from a keygate that did not seal records: deploy
   * with `true`, run `keygate seal-records` (the `sealRecordsFunction`) until
   * it reports no more, then deploy without it. An item whose seal is wrong
   * is refused either way. While it is on, whoever can write the tables can
   * remove a seal and change what it covered, so keep the window short.
   *
   * @default false
   */
  readonly acceptUnsealedRecords?: boolean;
}

/** Options for {@link KeygateAuth.addRoutes}. */
export interface AddRoutesOptions {
  /**
   * Resource the route paths (`/api/v1/appuid/{appUid}/...`) are added under.
   *
   * @default the API's root resource
   */
  readonly parent?: apigateway.IResource;
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
  if (!Number.isFinite(settings.rateLimit) || settings.rateLimit <= 0) {
    throw new Error(`KeygateAuth: revokeThrottling.rateLimit must be a number of requests per second greater than 0, got ${settings.rateLimit}`);
  }
  if (!Number.isInteger(settings.burstLimit) || settings.burstLimit < 1) {
    throw new Error(`KeygateAuth: revokeThrottling.burstLimit must be a whole number of requests of at least 1, got ${settings.burstLimit}`);
  }
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
const SESSION_PROPS = ['sessionTokenPrefix', 'sessionLifetime', 'sessionsTable', 'usersTable'] as const satisfies readonly (keyof KeygateAuthProps)[];

/**
 * keygate's AWS side, ready to sit next to any `RestApi`: the keys, sessions
 * and users tables, the pepper secret, every keygate function with
 * least-privilege roles, the API-key and session `RequestAuthorizer`s, and
 * `addRoutes()` to put the keygate routes on an API. With
 * `enableSessions: false` the session half is left out.
 *
 * The admin functions (`createKeyFunction`, `listKeysFunction`,
 * `deleteKeyFunction`, `rollKeyFunction`, `updateKeyFunction`,
 * `listKeyEventsFunction`, `listAppsFunction`, `getAppFunction`,
 * `sealRecordsFunction`, and with sessions `revokeSessionsFunction`,
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
  /** Seals the key and session items written before records were sealed (see `acceptUnsealedRecords`). */
  public readonly sealRecordsFunction: lambda.IFunction;
  /** Undefined when sessions are off. */
  public readonly revokeSessionsFunction?: lambda.IFunction;
  /** Undefined when sessions are off. */
  public readonly deleteUserFunction?: lambda.IFunction;
  /** REQUEST authorizer for the `x-api-key` header. */
  public readonly apiKeyAuthorizer: apigateway.IAuthorizer;
  /** REQUEST authorizer for `Authorization: Bearer <session token>`; undefined when sessions are off. */
  public readonly sessionAuthorizer?: apigateway.IAuthorizer;
  public readonly authorizers: Readonly<Partial<Record<AuthorizerKind, apigateway.IAuthorizer>>>;
  /**
   * Method options that put one of your own methods behind the API-key
   * authorizer: `resource.addMethod('GET', integration, auth.apiKeyMethodOptions)`.
   * The method must sit under `/api/v1/appuid/{appUid}/`: the Allow covers
   * the key's own app's paths only.
   */
  public readonly apiKeyMethodOptions: apigateway.MethodOptions;
  /** The same for the session authorizer (`Authorization: Bearer <session token>`); undefined when sessions are off. */
  public readonly sessionMethodOptions?: apigateway.MethodOptions;
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
    this.revokeThrottling = validateThrottling(props.revokeThrottling ?? {});

    this.keysTable = props.keysTable ?? this.table(KEYS_TABLE, removalPolicy);
    if (this.sessionsEnabled) {
      this.sessionsTable = props.sessionsTable ?? this.table(SESSIONS_TABLE, removalPolicy);
      this.usersTable = props.usersTable ?? this.table(USERS_TABLE, removalPolicy);
    }
    this.pepperSecret = props.pepperSecret ?? this.newPepperSecret();

    this.functions = this.createFunctions({
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
    this.listAppsFunction = this.functions.listApps!;
    this.getAppFunction = this.functions.getApp!;
    this.sealRecordsFunction = this.functions.sealRecords!;
    this.revokeSessionsFunction = this.functions.revokeSessions;
    this.deleteUserFunction = this.functions.deleteUser;

    const authorizer = (kind: AuthorizerKind, id: string) =>
      new apigateway.RequestAuthorizer(this, id, {
        handler: this.functions[AUTHORIZERS[kind].function]!,
        identitySources: [apigateway.IdentitySource.header(AUTHORIZERS[kind].identityHeader)],
        resultsCacheTtl: Duration.seconds(cacheTtlSeconds),
      });
    this.apiKeyAuthorizer = authorizer('apiKey', 'ApiKeyAuthorizer');
    this.apiKeyMethodOptions = { authorizationType: apigateway.AuthorizationType.CUSTOM, authorizer: this.apiKeyAuthorizer };
    if (this.sessionsEnabled) {
      this.sessionAuthorizer = authorizer('session', 'SessionAuthorizer');
      this.sessionMethodOptions = { authorizationType: apigateway.AuthorizationType.CUSTOM, authorizer: this.sessionAuthorizer };
    }
    this.authorizers = { apiKey: this.apiKeyAuthorizer, ...(this.sessionAuthorizer && { session: this.sessionAuthorizer }) };
  }

  /**
   * Adds every route of the keygate route table (lib/shared/routes.ts) to
   * `api`, each a Lambda proxy integration behind its authorizer, and the
   * public `POST /api/v1/keys/revoke` with none; with sessions off, only the
   * routes of the API-key half. An authorizer belongs to one API, so call this
   * for one `RestApi` only. Give the stage that serves them
   * `stageMethodOptions()`, or the revoke route has only the stage's throttling.
   *
   * The bodies are validated by the functions, not by an
   * API Gateway model: API Gateway's validation message quotes the rejected
   * value (`... does not match input string "kg_..."`), so a key sent in the
   * wrong field would come back in the 400 and land in logs. The function's
   * 400 names the field and never the value, locally and deployed alike.
   */
  public addRoutes(api: apigateway.IRestApi, options: AddRoutesOptions = {}): apigateway.Method[] {
    const parent = options.parent ?? api.root;
    return ROUTES.filter((route) => this.functions[route.function] !== undefined).map((route) => {
      // Relative to `parent`: resourceForPath takes a leading '/' on the API's root only.
      const resource = parent.resourceForPath(routeResourcePath(route).slice(1));
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
    const pepper = { [ENV.pepperSecretId]: this.pepperSecret.secretArn };
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
    // Only set during an upgrade window: absent, the authorizers refuse unsealed items.
    const unsealed: Record<string, string> = options.acceptUnsealedRecords ? { [ENV.acceptUnsealedRecords]: 'true' } : {};
    /**
     * seal-records on one table: a Scan that may read only the item key, the seal and the sealed fields, and an
     * UpdateItem of hash items naming nothing else (it sets the seal, on condition the sealed fields are unchanged).
     */
    const sealing = (table: 'Keys' | 'Sessions', tableArn: string, leadingKey: string, fields: readonly string[]) => {
      const attributes = ['pk', 'sk', SEAL_ATTRIBUTE, ...fields];
      return [
        new iam.PolicyStatement({
          sid: `Scan${table}SealedFields`,
          actions: ['dynamodb:Scan'],
          resources: [tableArn],
          conditions: { 'ForAllValues:StringEquals': { 'dynamodb:Attributes': attributes }, StringEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' } },
        }),
        new iam.PolicyStatement({
          sid: `Seal${table}HashItems`,
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

    // Each function gets the environment it reads and the actions it calls, nothing more (thunks: the session tables may not exist).
    const access: Record<FunctionId, () => FunctionAccess> = {
      apiKeyAuthorizer: () => ({
        environment: {
          ...keysEnv,
          ...pepper,
          [ENV.keyPrefix]: options.keyPrefix,
          [ENV.lastUsedIntervalSeconds]: String(options.lastUsedIntervalSeconds),
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
        environment: { [ENV.sessionsTable]: sessions().tableName, ...pepper, [ENV.sessionTokenPrefix]: options.sessionTokenPrefix, ...unsealed },
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
        statements: [
          // The transaction's Puts (two key items, the event; the app's registry item on its first key); IAM authorizes each as dynamodb:PutItem.
          onKeys('PutKeyItems', ['dynamodb:PutItem']),
          // The app's key count, and the one-off count of an app's keys when it is registered.
          countAppKeys,
          onKeys('QueryAppKeys', ['dynamodb:Query'], ['app#*']),
          readPepper,
        ],
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
        // Reads the old key's app item; one transaction Puts the new key's two items and the event, updates the old
        // key's two items and counts the new key in the registry.
        statements: [onKeys('RollKeyItems', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']), readPepper],
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
      sealRecords: () => ({
        environment: { ...keysEnv, ...(this.sessionsEnabled && { [ENV.sessionsTable]: sessions().tableName }), ...pepper },
        statements: [
          ...sealing('Keys', keys, 'hash#*', SEALED_FIELDS.key),
          ...(this.sessionsEnabled ? sealing('Sessions', sessions().tableArn, 'token#*', SEALED_FIELDS.session) : []),
          readPepper,
        ],
      }),
      revokeSessions: () => ({
        environment: sessionTablesEnv(),
        statements: [
          // externalId → userId.
          on('GetUsers', users().tableArn, ['dynamodb:GetItem']),
          on('FindSessions', sessions().tableArn, ['dynamodb:Query', 'dynamodb:GetItem'], sessionIndexes),
          on('EndSessions', sessions().tableArn, ['dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'], ['token#*', ...sessionIndexes]),
        ],
      }),
      deleteUser: () => ({
        environment: sessionTablesEnv(),
        statements: [
          on('EraseUsers', users().tableArn, ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']),
          on('FindSessions', sessions().tableArn, ['dynamodb:Query', 'dynamodb:GetItem'], sessionIndexes),
          on('EndSessions', sessions().tableArn, ['dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'], ['token#*', ...sessionIndexes]),
        ],
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
          ...(options.enableSourceMaps && { NODE_OPTIONS: '--enable-source-maps' }),
        },
      });
    }
    return made;
  }
}

/** `apiKeyAuthorizer` → `ApiKeyAuthorizerFunction`. */
function constructId(key: FunctionId): string {
  return `${key.charAt(0).toUpperCase()}${key.slice(1)}Function`;
}
