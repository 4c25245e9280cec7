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
 * Positions of the transaction items whose condition failed (DynamoDB reports
 * one reason per item, in order); for a single-item write, `[0]`.
 */
export function failedConditions(error: unknown): number[] {
  if (!(error instanceof Error)) return [];
  if (error.name === 'ConditionalCheckFailedException') return [0];
  if (error.name !== 'TransactionCanceledException') return [];
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.flatMap((reason, index) => (reason.Code === 'ConditionalCheckFailed' ? [index] : []));
}

/** True when a transaction was cancelled because another transaction was changing one of its items at the same time. */
export function isTransactionConflict(error: unknown): boolean {
  if (!(error instanceof Error) || error.name !== 'TransactionCanceledException') return false;
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.some((reason) => reason.Code === 'TransactionConflict');
}

/**
 * Maps what DynamoDB threw (after the SDK's own retries) to a domain error.
 * Condition failures are left to the caller, which knows what they mean.
 * `outcome` says what state the failure left (for multi-step operations).
 */
export function storeError(operation: string, error: unknown, outcome = 'nothing was written, try again'): Error {
  if (isConditionFailure(error) || error instanceof KeygateError) return error as Error;
  const name = error instanceof Error ? error.name : 'UnknownError';
  return new StoreUnavailable(`${operation} failed: DynamoDB ${name}; ${outcome}`, { cause: error });
}
