import { ValidationError } from '../domain/errors';

/**
 * The `nextToken` of a paged Query within one partition: the sort key of the
 * last item returned, base64url JSON. Only a sort key with the expected prefix
 * is accepted and the partition always comes from the caller's own input, so a
 * token can move a reader within its app's items of one kind and nowhere else.
 */
function encodeCursor(sk: string): string {
  return Buffer.from(JSON.stringify({ sk })).toString('base64url');
}

/** The sort key to resume after, or a ValidationError naming nextToken if the token is not one `operation` returned. */
function decodeCursor(token: string, sortKeyPrefix: string, operation: string): string {
  try {
    const cursor = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { sk?: unknown } | null;
    if (typeof cursor?.sk === 'string' && cursor.sk.startsWith(sortKeyPrefix)) return cursor.sk;
  } catch {
    // fall through to the validation error
  }
  throw new ValidationError('nextToken', `nextToken is not a token returned by ${operation}`);
}

/** encodeCursor/decodeCursor bound to one kind of item. */
export interface PageCursor {
  encode(sk: string): string;
  decode(token: string): string;
}

export function pageCursor(sortKeyPrefix: string, operation: string): PageCursor {
  return { encode: encodeCursor, decode: (token) => decodeCursor(token, sortKeyPrefix, operation) };
}
