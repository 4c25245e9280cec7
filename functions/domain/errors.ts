/**
 * Typed errors. Each has a literal `name`, which the Lambda runtime reports as
 * `errorType`, so callers of the admin functions can branch on it. Literal,
 * not `new.target.name`: the deployed bundles are minified, which renames classes.
 */
export abstract class KeygateError extends Error {
  /** Whether calling again unchanged may succeed. */
  abstract readonly retryable: boolean;
  abstract override readonly name: string;
}

/** The input is wrong; `field` names the first offending field. */
export class ValidationError extends KeygateError {
  override readonly name = 'ValidationError';
  readonly retryable = false;

  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export class KeyNotFound extends KeygateError {
  override readonly name = 'KeyNotFound';
  readonly retryable = false;

  constructor(readonly keyId: string, appUid: string) {
    super(`key ${keyId} not found in app ${appUid}`);
  }
}

/** A deployment or environment problem; the function cannot serve until it is fixed. */
export class ConfigurationError extends KeygateError {
  override readonly name = 'ConfigurationError';
  readonly retryable = false;
}

/** The pepper could not be read; authorizers fail closed. */
export class PepperUnavailable extends KeygateError {
  override readonly name = 'PepperUnavailable';
  readonly retryable = true;
}

/**
 * DynamoDB could not take the request for now (throttling, a conflicting
 * transaction, a 5xx, the service unreachable). Nothing was written.
 */
export class StoreUnavailable extends KeygateError {
  override readonly name = 'StoreUnavailable';
  readonly retryable = true;
}

/**
 * DynamoDB refused the request for a reason that calling again cannot fix: no
 * permission, a missing table, a request it rejects as invalid. An operator
 * must act (IAM, table names, a bug). Nothing was written.
 */
export class StoreMisconfigured extends KeygateError {
  override readonly name = 'StoreMisconfigured';
  readonly retryable = false;
}

/** Failures only an operator can fix: logged at ERROR, where a caller's mistake or a transient outage is a WARN. */
export function needsOperator(error: unknown): boolean {
  return error instanceof ConfigurationError || error instanceof StoreMisconfigured;
}
