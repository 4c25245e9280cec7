import { KeygateError, StoreMisconfigured, StoreUnavailable } from '../domain/errors';

/** True when a write (or a transaction) was refused because one of its conditions failed. */
export function isConditionFailure(error: unknown): boolean {
  return failedConditions(error).length > 0;
}

/** DynamoDB errors that say "not now": the same request may succeed later. */
const TRANSIENT_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TransactionConflictException',
  'TransactionInProgressException',
  'ReplicatedWriteConflictException',
  'InternalServerError',
  'ServiceUnavailable',
]);

/**
 * Raised by a client before any request is sent, for a setting no retry can
 * mend: the SDK's and aws-http's ConfigurationError (no region, a bad
 * endpoint), and missing credentials.
 */
const CLIENT_CONFIGURATION_ERRORS = new Set(['ConfigurationError', 'CredentialsProviderError']);

/** TransactionCanceledException reasons that say "not now". */
const TRANSIENT_CANCELLATIONS = new Set(['TransactionConflict', 'ProvisionedThroughputExceeded', 'ThrottlingError', 'None']);

function cancellationCodes(error: Error): string[] {
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.map((reason) => reason.Code ?? 'None');
}

/**
 * Positions of the transaction items whose condition failed (DynamoDB reports
 * one reason per item, in order); for a single-item write, `[0]`.
 */
export function failedConditions(error: unknown): number[] {
  if (!(error instanceof Error)) return [];
  if (error.name === 'ConditionalCheckFailedException') return [0];
  if (error.name !== 'TransactionCanceledException') return [];
  return cancellationCodes(error).flatMap((code, index) => (code === 'ConditionalCheckFailed' ? [index] : []));
}

/** True when a transaction was cancelled because another transaction was changing one of its items at the same time. */
export function isTransactionConflict(error: unknown): boolean {
  if (!(error instanceof Error) || error.name !== 'TransactionCanceledException') return false;
  return cancellationCodes(error).includes('TransactionConflict');
}

/**
 * Whether retrying may help: throttling, conflicts, DynamoDB's own 5xx, and
 * failures that got no HTTP answer at all (connection refused or reset,
 * timeouts). Any other answer DynamoDB gave (AccessDenied, ResourceNotFound,
 * ValidationException, a bad signature...) will be the same next time, and
 * so will a client's own configuration error, which sends nothing.
 */
export function isTransientStoreFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (TRANSIENT_ERRORS.has(error.name)) return true;
  if (CLIENT_CONFIGURATION_ERRORS.has(error.name)) return false;
  if (error.name === 'TransactionCanceledException') return cancellationCodes(error).every((code) => TRANSIENT_CANCELLATIONS.has(code));
  const { $fault, $metadata } = error as { $fault?: string; $metadata?: { httpStatusCode?: number } };
  const status = $metadata?.httpStatusCode;
  if (status === undefined) return true;
  return status >= 500 || $fault === 'server';
}

/**
 * Maps what DynamoDB threw (after the SDK's own retries) to a domain error:
 * StoreUnavailable (retryable) or StoreMisconfigured (not). Condition
 * failures are left to the caller, which knows what they mean, and a domain
 * error thrown inside a read-change-write passes through unchanged.
 */
export function storeError(operation: string, error: unknown, outcome?: string): Error {
  if (isConditionFailure(error) || error instanceof KeygateError) return error as Error;
  const name = error instanceof Error ? error.name : 'UnknownError';
  if (isTransientStoreFailure(error)) {
    return new StoreUnavailable(`${operation} failed: DynamoDB ${name}; ${outcome ?? 'nothing was written, try again'}`, { cause: error });
  }
  return new StoreMisconfigured(
    `${operation} failed: DynamoDB ${name}; ${outcome ?? 'nothing was written'}, and retrying will not help: check the table name, the function's permissions and the request`,
    { cause: error },
  );
}
