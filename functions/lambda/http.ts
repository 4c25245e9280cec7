import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { ConfigurationError, KeygateError, ValidationError } from '../domain/errors';
import { invocationStarted, logger } from './logger';

export function jsonResponse(statusCode: number, body: unknown): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  };
}

/**
 * The path names another app than the caller's credential. The authorizer's
 * policy already refuses that on keygate's own routes; this guards routes a
 * user adds with a broader policy or a different path layout.
 */
export class AppMismatch extends Error {
  override readonly name = 'AppMismatch';
}

/**
 * Reads named string values from the authorizer context. A missing one means
 * the route was deployed without its authorizer: fail loudly, never serve. An
 * `appUid` path parameter must name the caller's own app (AppMismatch, 403).
 */
export function authorizerContext<K extends string>(event: Pick<APIGatewayProxyEvent, 'requestContext' | 'pathParameters'>, names: readonly K[]): Record<K, string> {
  const context = (event.requestContext?.authorizer ?? {}) as Record<string, unknown>;
  const values = {} as Record<K, string>;
  for (const name of names) {
    const value = context[name];
    if (typeof value !== 'string' || value === '') throw new ConfigurationError(`authorizer context has no ${name}; is the route behind its authorizer?`);
    values[name] = value;
  }
  const pathAppUid = event.pathParameters?.appUid;
  if (pathAppUid !== undefined && pathAppUid !== context.appUid) throw new AppMismatch('the path names another app than the credential');
  return values;
}

/**
 * Maps a failure to the HTTP answer: bad input 400 naming the field, another
 * app's path 403 (API Gateway's own wording), a retryable store failure 503,
 * anything else 500 with no detail.
 */
export function errorResponse(error: unknown): APIGatewayProxyResult {
  if (error instanceof AppMismatch) return jsonResponse(403, { message: 'User is not authorized to access this resource' });
  if (error instanceof ValidationError) return jsonResponse(400, { message: error.message, field: error.field });
  if (error instanceof KeygateError && error.retryable) return jsonResponse(503, { message: 'temporarily unavailable, try again' });
  return jsonResponse(500, { message: 'internal error' });
}

/** The request body as JSON, or a ValidationError saying why not. */
export function jsonBody(event: Pick<APIGatewayProxyEvent, 'body' | 'isBase64Encoded'>): unknown {
  if (event.body === null || event.body === undefined || event.body === '') {
    throw new ValidationError('(body)', 'request body is required and must be a JSON object');
  }
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError('(body)', 'request body is not valid JSON');
  }
}

/**
 * Wraps a route's work as a Lambda proxy handler: the Lambda context goes to
 * the logger (request id, cold start on every line), a failure becomes its
 * HTTP answer (errorResponse) and one log line naming the route, the caller
 * (app, principal) and API Gateway's request id. Messages are logged, never
 * the body: it may carry a key pasted in the wrong field.
 */
export function proxyHandler(
  route: string,
  run: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>,
): (event: APIGatewayProxyEvent, context?: Context) => Promise<APIGatewayProxyResult> {
  return async (event, context) => {
    invocationStarted(context);
    try {
      return await run(event);
    } catch (error) {
      const response = errorResponse(error);
      const authorizer = (event.requestContext?.authorizer ?? {}) as Record<string, unknown>;
      const fields = {
        route,
        statusCode: response.statusCode,
        errorType: (error as Error).name,
        apiRequestId: event.requestContext?.requestId,
        appUid: typeof authorizer.appUid === 'string' ? authorizer.appUid : undefined,
        principalId: typeof authorizer.principalId === 'string' ? authorizer.principalId : undefined,
      };
      if (response.statusCode < 500) logger.info(`${route} refused`, { ...fields, errorMessage: (error as Error).message });
      else if (response.statusCode === 503) logger.warn(`${route} failed`, { ...fields, errorMessage: (error as Error).message });
      else logger.error(`${route} failed`, { ...fields, error: error as Error });
      return response;
    }
  };
}
