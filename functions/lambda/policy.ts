import { AppScope, appBasePath, DEFAULT_AUTH_SETTINGS, type AuthSettings } from '../../lib/shared/auth-settings';
import { APP_UID_MAX_LENGTH, ID_CHARS } from '../domain/ids';

/**
 * Authorizer policies. The decision never depends on the requested path, so
 * a cached result (identity source = the header alone) stays correct for
 * every request it is reused on. Two scopes (AppScope):
 *
 * - `path`: the Allow covers every method and path below the caller's own
 *   app's base path and nothing else; API Gateway's policy evaluation answers
 *   403 on any other app's path.
 * - `context`: the app is not in the URL. The Allow covers every method of
 *   the API and stage the request was made to: API Gateway consults this
 *   authorizer only for methods that use it, and the method ARN names the
 *   API, stage, region and account, so no other API or stage is ever covered.
 *   The backend takes `appUid` from the authorizer context.
 */
export interface AuthorizerResult {
  readonly principalId: string;
  readonly policyDocument: {
    readonly Version: '2012-10-17';
    readonly Statement: readonly [{ readonly Action: 'execute-api:Invoke'; readonly Effect: 'Allow'; readonly Resource: readonly string[] }];
  };
  readonly context: Readonly<Record<string, string>>;
  /**
   * The app's gateway API key (plans on): API Gateway, with the API key source
   * AUTHORIZER, throttles and counts the request against that key's usage plan.
   */
  readonly usageIdentifierKey?: string;
}

export type PolicyScope = Pick<AuthSettings, 'appScope' | 'basePath'>;

/**
 * Every HTTP verb API Gateway routes. One resource each, rather than a `*` in
 * the verb position: a `*` there would also match across path segments, so
 * `<stage>/*\/api/v1/appuid/A/*` would cover `<stage>/GET/any/prefix/api/v1/appuid/A/...`.
 */
export const HTTP_VERBS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

/** `arn:<partition>:execute-api:<region>:<account>:<apiId>`: no character that IAM reads as a wildcard. */
const API_ARN = /^arn:[a-z-]+:execute-api:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9]+$/;
/** API Gateway stage names: letters, digits, '-' and '_'. */
const STAGE = /^[A-Za-z0-9_-]+$/;

/** `<api ARN>/<stage>` of the method ARN being authorized, each part checked to be literal. */
function apiAndStage(methodArn: string): string {
  const [apiArn, stage] = typeof methodArn === 'string' ? methodArn.split('/', 2) : [];
  if (!apiArn || !API_ARN.test(apiArn) || !stage || !STAGE.test(stage)) throw new Error('methodArn is not an execute-api method ARN');
  return `${apiArn}/${stage}`;
}

function assertPolicyAppUid(appUid: string): void {
  // appUid comes from our own table, but a '*' or '/' in it would widen the grant: refuse rather than trust.
  if (typeof appUid !== 'string' || appUid.length > APP_UID_MAX_LENGTH || !ID_CHARS.test(appUid)) {
    throw new Error('refusing to build a policy for an invalid appUid');
  }
}

/**
 * Path scope: `arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/<VERB>/<base path with appUid>/*`
 * for each HTTP verb, built from the method ARN of the request being authorized.
 */
export function appScopedResources(methodArn: string, appUid: string, basePath: string = DEFAULT_AUTH_SETTINGS.basePath): string[] {
  assertPolicyAppUid(appUid);
  const stage = apiAndStage(methodArn);
  const appPath = appBasePath(basePath, appUid);
  return HTTP_VERBS.map((verb) => `${stage}/${verb}${appPath}/*`);
}

/** Context scope: `arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/*\/*`, every method of this API and stage only. */
export function stageScopedResources(methodArn: string): string[] {
  return [`${apiAndStage(methodArn)}/*/*`];
}

export function allowedResources(scope: PolicyScope, methodArn: string, appUid: string): string[] {
  if (scope.appScope === AppScope.CONTEXT) {
    // The app is only in the context here, and backends trust it: the same check as in path scope.
    assertPolicyAppUid(appUid);
    return stageScopedResources(methodArn);
  }
  return appScopedResources(methodArn, appUid, scope.basePath);
}

export function allowPolicy(
  scope: PolicyScope,
  principalId: string,
  methodArn: string,
  appUid: string,
  context: Record<string, string>,
  usageIdentifierKey?: string,
): AuthorizerResult {
  return {
    principalId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: allowedResources(scope, methodArn, appUid) }],
    },
    context,
    ...(usageIdentifierKey !== undefined && { usageIdentifierKey }),
  };
}
