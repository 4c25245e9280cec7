/**
 * The CloudWatch metrics keygate's functions publish (embedded metric format)
 * and the construct alarms and graphs on, named once. Import-free: the Lambda
 * bundles and the construct both import it.
 *
 * Every dimension has a small, fixed set of values. `appUid` is never a
 * dimension: each distinct dimension value is a metric of its own, billed
 * per month, so one per app would grow the bill with the number of apps.
 */

/** The `service` dimension Powertools puts on every record, and the logger's service name. */
export const SERVICE_NAME = 'keygate';

export const DEFAULT_METRICS_NAMESPACE = 'keygate';

export const METRIC = {
  /** Count, dimensions `credential` and `outcome`: one per authorizer invocation. */
  verifications: 'Verifications',
  /** Milliseconds, dimensions `credential` and `outcome`: well-formed credentials only (malformed ones take microseconds). */
  verificationLatency: 'VerificationLatency',
  /** Count, dimensions `operation` and `outcome`: one per admin function invocation. */
  adminOperations: 'AdminOperations',
  /** Count, no dimension besides `service`: one per report to the public revoke endpoint that was processed (202). */
  revocationReports: 'RevocationReports',
  /** Count: well-formed keys of this deployment named in revocation reports (each once per report), and how many of them existed and were revoked. */
  keysReported: 'KeysReported',
  keysRevoked: 'KeysRevoked',
  /** Count, no dimension besides `service`: lastUsedAt writes of the API-key authorizer that failed (the key was let in all the same). */
  lastUsedWriteFailures: 'LastUsedWriteFailures',
} as const;

export const DIMENSION = { credential: 'credential', outcome: 'outcome', operation: 'operation' } as const;

/** The `credential` dimension: which authorizer verified. */
export type CredentialKind = 'api_key' | 'session_token';

/** Verification outcomes that refuse the caller (401). The rest are `valid` and `error` (500). */
export const REFUSAL_OUTCOMES = ['malformed', 'not_found', 'expired', 'disabled', 'tampered'] as const;
export const VALID_OUTCOME = 'valid';
/** The verification could not be completed (DynamoDB or the pepper unavailable): API Gateway answers 500. */
export const ERROR_OUTCOME = 'error';

/** Admin outcomes: `success`, the failure's literal errorType (ValidationError, KeyNotFound, ...), or `error` for anything else. */
export const SUCCESS_OUTCOME = 'success';

/** CloudWatch namespace rules: 1-255 of these characters, not only spaces, and not AWS's own `AWS/` prefix. */
export function metricsNamespaceProblem(namespace: string): string | undefined {
  if (!/^[A-Za-z0-9._\-/#: ]{1,255}$/.test(namespace) || namespace.trim() === '') {
    return `must be 1-255 characters of A-Z a-z 0-9 . _ - / # : and space, got '${namespace}'`;
  }
  if (namespace.startsWith('AWS/')) return `must not start with 'AWS/', which is reserved for AWS services, got '${namespace}'`;
  return undefined;
}
