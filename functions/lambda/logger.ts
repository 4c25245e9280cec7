import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { SERVICE_NAME } from '../../lib/shared/metrics';
import { needsOperator } from '../domain/errors';

/**
 * The one logger of every keygate function (JSON lines, Powertools). The
 * shared adapters (authorizer-handler, admin-handler, http) hand it each
 * invocation's context, so a handler built on them logs with its request id
 * without a line of its own.
 */
export const logger = new Logger({ serviceName: SERVICE_NAME });

/** Every log line of the invocation then carries `function_request_id` and `cold_start`. Lambda always passes the context; tests and the bench may not. */
export function invocationStarted(context: Context | undefined): void {
  if (context) logger.addContext(context);
}

/** Logs a failure at ERROR when only an operator can fix it, at WARN otherwise (a caller's mistake, a transient outage). */
export function logFailure(error: unknown, message: string, fields: Record<string, unknown>): void {
  if (needsOperator(error)) logger.error(message, fields);
  else logger.warn(message, fields);
}
