import * as z from 'zod/mini';
import { ValidationError } from './errors';
import { APP_UID_MAX_LENGTH, ID_CHARS, ID_RANDOM_CHARS } from './ids';
import { containsCredential } from './credential-format';

/**
 * Refuses a value that holds a well-formed keygate key or session token (any
 * prefix): key characters are valid id and name characters, so without this a
 * key pasted into the wrong field would be stored, returned and logged. The
 * message names the field, never the value.
 */
export function noCredential(field: string) {
  return z.refine<string>((value) => !containsCredential(value), `${field} must not contain an API key or session token`);
}

export const appUidSchema = z.string({ error: 'appUid must be a string' }).check(
  z.minLength(1, 'appUid must not be empty'),
  z.maxLength(APP_UID_MAX_LENGTH, `appUid must be at most ${APP_UID_MAX_LENGTH} characters`),
  z.regex(ID_CHARS, 'appUid may contain only letters, digits, _ and -'),
  noCredential('appUid'),
);

/** A key's name, as admins give it (create-key, roll-key, update-key, import-keys). */
export const keyNameSchema = z
  .string({ error: 'name must be a string' })
  .check(z.trim(), z.minLength(1, 'name must not be empty'), z.maxLength(100, 'name must be at most 100 characters'), noCredential('name'));

/** An id made by randomId(kind), in the field `field`. */
function randomIdSchema(field: string, kind: 'key' | 'usr' | 'ses') {
  return z
    .string({ error: `${field} must be a string` })
    .check(z.regex(new RegExp(`^${kind}_[0-9A-Za-z]{${ID_RANDOM_CHARS}}$`), `${field} must be '${kind}_' followed by ${ID_RANDOM_CHARS} letters or digits`));
}

export const keyIdSchema = randomIdSchema('keyId', 'key');
export const createdByKeyIdSchema = randomIdSchema('createdByKeyId', 'key');
export const userIdSchema = randomIdSchema('userId', 'usr');
export const sessionIdSchema = randomIdSchema('sessionId', 'ses');

/** The customer's own id for a user. */
export const externalIdSchema = z
  .string({ error: 'externalId must be a string' })
  .check(
    z.minLength(1, 'externalId must not be empty'),
    z.maxLength(100, 'externalId must be at most 100 characters'),
    z.regex(ID_CHARS, 'externalId may contain only letters, digits, _ and -'),
    noCredential('externalId'),
  );

export const userEmailSchema = z
  .email({ error: 'userEmail must be a valid email address' })
  .check(z.maxLength(100, 'userEmail must be at most 100 characters'), noCredential('userEmail'));

/** Who asked for a change, as the caller declares it (the CLI sends an ARN or `local:<user>`). Stored as given: it proves nothing. */
export const requestedBySchema = z.optional(
  z
    .string({ error: 'requestedBy must be a string' })
    .check(
      z.trim(),
      z.minLength(1, 'requestedBy must not be empty'),
      z.maxLength(256, 'requestedBy must be at most 256 characters'),
      z.regex(/^[\x20-\x7e]+$/, 'requestedBy may contain only printable ASCII characters'),
      noCredential('requestedBy'),
    ),
);

export const expiresAtSchema = z.iso.datetime({ offset: true, error: 'expiresAt must be an ISO 8601 date-time, e.g. 2030-01-01T00:00:00Z' });

/** An expiry given by an admin, normalized; it must lie ahead. `field` names it in the error. */
export function futureExpiry(expiresAt: string, now: Date, field = 'expiresAt'): string {
  const at = new Date(expiresAt);
  if (at.getTime() <= now.getTime()) throw new ValidationError(field, `${field} must be in the future`);
  return at.toISOString();
}

/** `limit` and `nextToken` of the list operations. */
export const pagingFields = {
  limit: z.optional(
    z.int({ error: 'limit must be a whole number' }).check(z.gte(1, 'limit must be between 1 and 100'), z.lte(100, 'limit must be between 1 and 100')),
  ),
  nextToken: z.optional(
    z.string({ error: 'nextToken must be a string' }).check(z.minLength(1, 'nextToken must not be empty'), z.maxLength(2048, 'nextToken is too long')),
  ),
};

export const DEFAULT_LIST_LIMIT = 50;

/** A refinement that exactly one of `fields` is present, reported on the first of them. */
export function exactlyOneOf(fields: readonly string[]) {
  const names = fields.length === 2 ? `${fields[0]} or ${fields[1]}` : `${fields.slice(0, -1).join(', ')} or ${fields.at(-1)}`;
  return z.refine((value: unknown) => fields.filter((field) => (value as Record<string, unknown>)[field] !== undefined).length === 1, {
    path: [fields[0]],
    message: `exactly one of ${names} is required`,
  });
}

/**
 * Parses `input` with `schema`, or throws a ValidationError naming the first
 * offending field. Unknown fields are refused too: a typo must not pass silently.
 */
export function parseInput<S extends z.ZodMiniType>(schema: S, input: unknown, what: string): z.output<S> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError('(body)', `${what} must be a JSON object`);
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    const names = issue.keys.map(shownFieldName);
    const plural = names.length > 1 ? 's' : '';
    if (issue.path.length > 0) {
      // In a nested object, e.g. an entry of import-keys' `keys`.
      const at = fieldName(issue.path);
      throw new ValidationError(`${at}.${names[0]}`, `unknown field${plural} ${names.join(', ')} in ${at}`);
    }
    throw new ValidationError(names[0], `unknown field${plural} ${names.join(', ')} in ${what}; the known fields are ${knownFields(schema)}`);
  }
  const field = fieldName(issue.path);
  const missing = issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined;
  throw new ValidationError(field, missing ? `${field} is required` : issue.message);
}

/** An unknown field's name is echoed only if it looks like a field name: a pasted key or token must never reach logs or answers. */
function shownFieldName(name: string): string {
  return /^[A-Za-z][A-Za-z0-9]{0,31}$/.test(name) ? name : '(unknown field)';
}

function knownFields(schema: z.ZodMiniType): string {
  const { shape } = schema as { shape?: Record<string, unknown> };
  return shape ? Object.keys(shape).join(', ') : '(none)';
}

/** `accountUids[2]`-style name of a path, or `(body)` for the whole input. */
function fieldName(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(body)';
  return path.map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`)).join('');
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const part of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}
