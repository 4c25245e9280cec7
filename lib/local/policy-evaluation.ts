/**
 * The part of IAM policy evaluation API Gateway applies to a Lambda
 * authorizer's policy: does the policy allow `execute-api:Invoke` on the
 * request's method ARN, and is there an explicit Deny?
 */
export type PolicyDecision = 'allow' | 'implicitDeny' | 'explicitDeny';

export class InvalidPolicy extends Error {}

interface Statement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: readonly string[];
  readonly Resource: readonly string[];
}

/**
 * IAM wildcard match: `*` matches any run of characters (including `/` and
 * `:`), `?` exactly one. Action names compare case-insensitively, resources
 * case-sensitively, as in IAM.
 */
export function iamWildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, ignoreCase ? 'is' : 's').test(value);
}

/** Parses the statements of an authorizer's `policyDocument`; throws InvalidPolicy on a shape API Gateway would reject. */
export function policyStatements(policyDocument: unknown): Statement[] {
  if (typeof policyDocument !== 'object' || policyDocument === null || Array.isArray(policyDocument)) throw new InvalidPolicy('policyDocument is not an object');
  const raw = (policyDocument as { Statement?: unknown }).Statement;
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return list.map((statement, index): Statement => {
    if (typeof statement !== 'object' || statement === null) throw new InvalidPolicy(`Statement[${index}] is not an object`);
    const { Effect, Action, Resource } = statement as Record<string, unknown>;
    if (Effect !== 'Allow' && Effect !== 'Deny') throw new InvalidPolicy(`Statement[${index}].Effect must be Allow or Deny`);
    return { Effect, Action: stringList(Action, `Statement[${index}].Action`), Resource: stringList(Resource, `Statement[${index}].Resource`) };
  });
}

function stringList(value: unknown, name: string): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((item) => typeof item === 'string')) {
    throw new InvalidPolicy(`${name} must be a string or a non-empty list of strings`);
  }
  return list;
}

/** Explicit Deny wins over Allow; no matching statement is an implicit deny. */
export function evaluatePolicy(policyDocument: unknown, methodArn: string, action = 'execute-api:Invoke'): PolicyDecision {
  const applies = (statement: Statement) =>
    statement.Action.some((pattern) => iamWildcardMatch(pattern, action, true)) &&
    statement.Resource.some((pattern) => iamWildcardMatch(pattern, methodArn));
  const matching = policyStatements(policyDocument).filter(applies);
  if (matching.some((statement) => statement.Effect === 'Deny')) return 'explicitDeny';
  if (matching.some((statement) => statement.Effect === 'Allow')) return 'allow';
  return 'implicitDeny';
}
