import type { Context } from 'aws-lambda';
import { KeygateError } from '../domain/errors';
import type { TimeBudget } from '../domain/session-admin';
import { logger } from './services';

/**
 * Wraps an admin operation as a Lambda handler: the payload is the input, the
 * result is the output, and a failure is thrown so the invoker sees its
 * `errorType` (ValidationError, KeyNotFound, StoreUnavailable). Logs name the
 * operation and outcome, never the payload: create-key's result holds a key.
 */
export function adminHandler<T>(operation: string, run: (input: unknown, budget: TimeBudget) => Promise<T>): (input: unknown, context?: Partial<Context>) => Promise<T> {
  return async (input, context) => {
    // Called directly (tests, scripts), there is no Lambda deadline.
    const budget: TimeBudget = { remainingMs: () => context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY };
    try {
      const output = await run(input, budget);
      logger.info(`${operation} succeeded`, { operation, appUid: appUidOf(input), keyId: keyIdOf(output) });
      return output;
    } catch (error) {
      if (error instanceof KeygateError) {
        logger.warn(`${operation} failed`, { operation, errorType: error.name, errorMessage: error.message, retryable: error.retryable });
      } else {
        logger.error(`${operation} failed unexpectedly`, { operation, error: error as Error });
      }
      throw error;
    }
  };
}

function appUidOf(input: unknown): string | undefined {
  const appUid = (input as { appUid?: unknown } | null)?.appUid;
  return typeof appUid === 'string' && appUid.length <= 128 ? appUid : undefined;
}

function keyIdOf(output: unknown): string | undefined {
  const keyId = (output as { keyId?: unknown } | null)?.keyId;
  return typeof keyId === 'string' ? keyId : undefined;
}
