import { KeygateError, StoreUnavailable } from '../domain/errors';

/** True when a TransactWriteItems was cancelled because one of its conditions failed. */
export function isConditionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'ConditionalCheckFailedException') return true;
  if (error.name !== 'TransactionCanceledException') return false;
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.some((reason) => reason.Code === 'ConditionalCheckFailed');
}

/**
 * Maps what DynamoDB threw (after the SDK's own retries) to a domain error.
 * Condition failures are left to the caller, which knows what they mean.
 */
export function storeError(operation: string, error: unknown): Error {
  if (isConditionFailure(error) || error instanceof KeygateError) return error as Error;
  const name = error instanceof Error ? error.name : 'UnknownError';
  return new StoreUnavailable(`${operation} failed: DynamoDB ${name}; nothing was written, try again`, { cause: error });
}
