import type { APIGatewayProxyEvent, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { evaluatePolicy } from '../../lib/local/policy-evaluation';

/** Events as API Gateway sends them, for calling handlers directly in tests. */
export const API_ARN = 'arn:aws:execute-api:us-east-1:123456789012:testapi/prod';

export function methodArn(method: string, appUid: string, route: string): string {
  return `${API_ARN}/${method}/api/v1/appuid/${appUid}/${route}`;
}

export function authorizerEvent(
  headers: Record<string, string>,
  arn = methodArn('GET', 'demo', 'whoami'),
  multiValueHeaders?: Record<string, string[]>,
): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: arn,
    headers,
    multiValueHeaders: multiValueHeaders ?? Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
  } as unknown as APIGatewayRequestAuthorizerEvent;
}

export function proxyEvent(options: {
  body?: string | null;
  /** The authorizer context; left out for a public route, which has none. */
  context?: Record<string, string>;
  method?: string;
  path?: string;
  pathParameters?: Record<string, string>;
}): APIGatewayProxyEvent {
  return {
    httpMethod: options.method ?? 'POST',
    path: options.path ?? '/',
    body: options.body ?? null,
    isBase64Encoded: false,
    headers: { 'content-type': 'application/json' },
    pathParameters: options.pathParameters ?? null,
    requestContext: options.context ? { authorizer: options.context } : {},
  } as unknown as APIGatewayProxyEvent;
}

/** What API Gateway hands the API-key authorizer for `apiKey` on `GET whoami` of `appUid`. */
export function apiKeyEvent(apiKey: string, appUid: string): APIGatewayRequestAuthorizerEvent {
  return authorizerEvent({ 'x-api-key': apiKey }, methodArn('GET', appUid, 'whoami'));
}

/** What API Gateway hands the session authorizer for `token` on `GET sdkusers/me` of `appUid`. */
export function sessionTokenEvent(token: string, appUid: string): APIGatewayRequestAuthorizerEvent {
  return authorizerEvent({ Authorization: `Bearer ${token}` }, methodArn('GET', appUid, 'sdkusers/me'));
}

type Authorizer = (event: APIGatewayRequestAuthorizerEvent) => Promise<{ policyDocument: unknown; context: Record<string, string> }>;

/**
 * What API Gateway answers for an authorizer call: 401 when it throws
 * `Unauthorized`, 403 when its policy does not allow the method ARN, 500 on any
 * other error, else 200 with the context passed to the integration.
 */
export async function gatewayOutcome(
  authorize: Authorizer,
  event: APIGatewayRequestAuthorizerEvent,
): Promise<{ status: 200; context: Record<string, string> } | { status: 401 | 403 | 500 }> {
  let result;
  try {
    result = await authorize(event);
  } catch (error) {
    return { status: (error as Error).message === 'Unauthorized' ? 401 : 500 };
  }
  return evaluatePolicy(result.policyDocument, event.methodArn) === 'allow' ? { status: 200, context: result.context } : { status: 403 };
}
