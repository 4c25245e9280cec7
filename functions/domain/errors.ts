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

/** get-app or set-app-plan of an app keygate has no record of (it never had a key or a plan). */
export class AppNotFound extends KeygateError {
  override readonly name = 'AppNotFound';
  readonly retryable = false;

  constructor(readonly appUid: string) {
    super(`app ${appUid} not found: it has no keys and no plan`);
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
 * API Gateway did not take a gateway-key change (its management API
 * throttled or unreachable); what was done before is undone where possible.
 */
export class GatewayUnavailable extends KeygateError {
  override readonly name = 'GatewayUnavailable';
  readonly retryable = true;
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

/** import-keys named a key that is already stored (imported before, or the same key twice). Nothing was written. */
export class KeyAlreadyExists extends KeygateError {
  override readonly name = 'KeyAlreadyExists';
  readonly retryable = false;

  constructor(
    /** Position of the key in the input's `keys`. */
    readonly index: number,
    message: string,
  ) {
    super(message);
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

/**
 * A record an admin write depends on is not as keygate sealed it (see
 * seal.ts): a key's hash item or an app's plan carries no seal (written
 * before records were sealed: run seal-records) or one that does not verify
 * (changed by someone without the pepper), or a key's item disagrees with
 * its sealed hash item. Nothing was written.
 */
export class RecordSealInvalid extends KeygateError {
  override readonly name = 'RecordSealInvalid';
  readonly retryable = false;
}
