import type { Context } from 'aws-lambda';
import type { TimeBudget } from '../domain/session-admin';
import { SUCCESS_OUTCOME } from '../../lib/shared/metrics';
import { KeygateError } from '../domain/errors';
import { invocationStarted, logFailure, logger } from './logger';
import { failureOutcome, recordAdminOperation } from './metrics';

/**
 * Wraps an admin operation as a Lambda handler: the payload is the input, the
 * result is the output, and a failure is thrown so the invoker sees its
 * `errorType` (ValidationError, KeyNotFound, StoreUnavailable,
 * StoreMisconfigured). Logs name the operation and outcome, never the
 * payload: create-key's result holds a key. What only an operator can fix is
 * logged at ERROR, the rest at WARN.
 * Each call counts one `AdminOperations` by operation and outcome.
 */
export function adminHandler<T>(operation: string, run: (input: unknown, budget: TimeBudget) => Promise<T>): (input: unknown, context?: Context) => Promise<T> {
  return async (input, context) => {
    invocationStarted(context);
    // Called directly (tests, scripts), there is no Lambda deadline.
    const budget: TimeBudget = { remainingMs: () => context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY };
    try {
      const output = await run(input, budget);
      recordAdminOperation(operation, SUCCESS_OUTCOME);
      logger.info(`${operation} succeeded`, { operation, appUid: appUidOf(input), keyId: keyIdOf(output) });
      return output;
    } catch (error) {
      recordAdminOperation(operation, failureOutcome(error));
      if (error instanceof KeygateError) {
        logFailure(error, `${operation} failed`, { operation, errorType: error.name, errorMessage: error.message, retryable: error.retryable });
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
