import { ValidationError } from '../domain/errors';

/**
 * `nextToken` of a paged Query within one partition: the sort key to resume
 * after, base64url JSON. Only a sort key with the expected prefix is accepted,
 * and the partition always comes from the caller's own appUid, so a token can
 * move a reader within its app's items of one kind and nowhere else.
 */
export interface PageCursor {
  encode(sk: string): string;
  /** The sort key in `token`, or a ValidationError naming nextToken. */
  decode(token: string): string;
}

export function pageCursor(skPrefix: string, operation: string): PageCursor {
  return {
    encode: (sk) => Buffer.from(JSON.stringify({ sk })).toString('base64url'),
    decode: (token) => {
      try {
        const { sk } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { sk?: unknown };
        if (typeof sk === 'string' && sk.startsWith(skPrefix)) return sk;
      } catch {
        // fall through to the validation error
      }
      throw new ValidationError('nextToken', `nextToken is not a token returned by ${operation}`);
    },
  };
}
