import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ConfigurationError } from './errors';

export function jsonResponse(statusCode: number, body: unknown): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  };
}

/**
 * Reads named string values from the authorizer context. A missing one means
 * the route was deployed without its authorizer: fail loudly, never serve.
 */
export function authorizerContext<K extends string>(event: Pick<APIGatewayProxyEvent, 'requestContext'>, names: readonly K[]): Record<K, string> {
  const context = (event.requestContext?.authorizer ?? {}) as Record<string, unknown>;
  const values = {} as Record<K, string>;
  for (const name of names) {
    const value = context[name];
    if (typeof value !== 'string' || value === '') throw new ConfigurationError(`authorizer context has no ${name}; is the route behind its authorizer?`);
    values[name] = value;
  }
  return values;
}
