import { z } from 'zod';
import { ValidationError } from './errors';

/** Identifier characters shared by app ids and external user ids. */
const ID_CHARS = /^[A-Za-z0-9_-]+$/;

export const appUidSchema = z
  .string({ error: 'appUid must be a string' })
  .min(1, 'appUid must not be empty')
  .max(128, 'appUid must be at most 128 characters')
  .regex(ID_CHARS, 'appUid may contain only letters, digits, _ and -');

export const keyIdSchema = z
  .string({ error: 'keyId must be a string' })
  .regex(/^key_[0-9A-Za-z]{20}$/, "keyId must be 'key_' followed by 20 letters or digits");

/**
 * Parses `input` with `schema`, or throws a ValidationError naming the first
 * offending field. Unknown fields are refused too: a typo must not pass silently.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError('(body)', `${what} must be a JSON object`);
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    const field = issue.keys.join(', ');
    throw new ValidationError(issue.keys[0], `unknown field ${field} in ${what}`);
  }
  const field = issue.path.length > 0 ? issue.path.map(String).join('.') : '(body)';
  const missing = issue.code === 'invalid_type' && issue.input === undefined;
  throw new ValidationError(field, missing ? `${field} is required` : issue.message);
}
