import { APP_UID_MAX_LENGTH, ID_CHARS } from '../domain/ids';

/**
 * Authorizer policies. The Allow covers every method and path of the caller's
 * own app and nothing else; API Gateway's policy evaluation then answers 403 on
 * any other app's path. The decision never depends on the requested path, so a
 * cached result (identity source = the header alone) stays correct for every
 * path it is reused on.
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


/**
 * Every HTTP verb API Gateway routes. One resource each, rather than a `*` in
 * the verb position: a `*` there would also match across path segments, so
 * `<stage>/*\/api/v1/appuid/A/*` would cover `<stage>/GET/any/prefix/api/v1/appuid/A/...`.
 */
export const HTTP_VERBS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

/**
 * `arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/<VERB>/api/v1/appuid/<appUid>/*`
 * for each HTTP verb, built from the method ARN of the request being authorized.
 */
export function appScopedResources(methodArn: string, appUid: string): string[] {
  // appUid comes from our own table, but a '*' or '/' in it would widen the grant: refuse rather than trust.
  if (typeof appUid !== 'string' || appUid.length > APP_UID_MAX_LENGTH || !ID_CHARS.test(appUid)) {
    throw new Error('refusing to build a policy for an invalid appUid');
  }
  const [apiArn, stage] = methodArn.split('/', 2);
  if (!apiArn?.startsWith('arn:') || !stage) throw new Error('methodArn is not an execute-api method ARN');
  return HTTP_VERBS.map((verb) => `${apiArn}/${stage}/${verb}/api/v1/appuid/${appUid}/*`);
}

export function allowAppPolicy(principalId: string, methodArn: string, appUid: string, context: Record<string, string>, usageIdentifierKey?: string): AuthorizerResult {
  return {
    principalId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: appScopedResources(methodArn, appUid) }],
    },
    context,
    ...(usageIdentifierKey !== undefined && { usageIdentifierKey }),
  };
}
