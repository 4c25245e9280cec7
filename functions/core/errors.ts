/**
 * Typed errors. Each sets `name`, which the Lambda runtime reports as
 * `errorType`, so callers of the admin functions can branch on it.
 */
export abstract class KeygateError extends Error {
  /** Whether calling again unchanged may succeed. */
  abstract readonly retryable: boolean;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The input is wrong; `field` names the first offending field. */
export class ValidationError extends KeygateError {
  readonly retryable = false;

  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export class KeyNotFound extends KeygateError {
  readonly retryable = false;

  constructor(readonly keyId: string, appUid: string) {
    super(`key ${keyId} not found in app ${appUid}`);
  }
}

/** A deployment or environment problem; the function cannot serve until it is fixed. */
export class ConfigurationError extends KeygateError {
  readonly retryable = false;
}

/** The pepper could not be read; authorizers fail closed. */
export class PepperUnavailable extends KeygateError {
  readonly retryable = true;
}

/**
 * DynamoDB refused or could not take the request (throttling, a conflicting
 * transaction, the service unreachable). Nothing was written.
 */
export class StoreUnavailable extends KeygateError {
  readonly retryable = true;
}
