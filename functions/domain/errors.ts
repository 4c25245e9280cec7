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

export class AppNotFound extends KeygateError {
  override readonly name = 'AppNotFound';
  readonly retryable = false;

  constructor(readonly appUid: string) {
    super(`app ${appUid} not found: it has no keys`);
  }
}

/** No user matches; `selector` says how it was looked for (never an email: the message is logged). */
export class UserNotFound extends KeygateError {
  override readonly name = 'UserNotFound';
  readonly retryable = false;

  constructor(selector: string, appUid: string) {
    super(`no user with that ${selector} in app ${appUid}`);
  }
}

/**
 * The user is being erased (delete-user has started and not finished): no
 * new session is issued for it until the deletion completes, after which the
 * same externalId or email makes a new user.
 */
export class UserBeingDeleted extends KeygateError {
  override readonly name = 'UserBeingDeleted';
  readonly retryable = true;
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
 * DynamoDB refused or could not take the request (throttling, a conflicting
 * transaction, the service unreachable). Nothing was written.
 */
export class StoreUnavailable extends KeygateError {
  override readonly name = 'StoreUnavailable';
  readonly retryable = true;
}

/**
 * A key's hash item carries no seal, or one that does not verify (see
 * seal.ts): it was written before records were sealed (run seal-records), or
 * changed by someone without the pepper. Nothing was written; the authorizer
 * refuses the key until it is sealed or deleted.
 */
export class RecordSealInvalid extends KeygateError {
  override readonly name = 'RecordSealInvalid';
  readonly retryable = false;
}
