import { ValidationError } from '../domain/errors';

/**
 * The `nextToken` of a paged Query: the sort key of the last item returned,
 * base64url-encoded. Only the sort key is carried: the partition comes from
 * the caller's own input, so a token from one app cannot read another.
 */
export function encodeCursor(lastKey: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify({ sk: String(lastKey.sk) })).toString('base64url');
}

/** The sort key to resume after, or a ValidationError if the token is not one `operation` returned. */
export function decodeCursor(token: string, sortKeyPrefix: string, operation: string): string {
  try {
    const cursor = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { sk?: unknown } | null;
    if (typeof cursor?.sk === 'string' && cursor.sk.startsWith(sortKeyPrefix)) return cursor.sk;
  } catch {
    // fall through to the validation error
  }
  throw new ValidationError('nextToken', `nextToken is not a token returned by ${operation}`);
}
