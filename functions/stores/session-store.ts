import { BatchWriteCommand, DeleteCommand, GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { failedConditions, isConditionFailure, storeError } from './dynamodb-errors';
import { ConfigurationError, StoreUnavailable, UserBeingDeleted } from '../domain/errors';
import { sealedSession, SEAL_ATTRIBUTE, type Sealer } from '../domain/seal';
import {
  keySessionsPartition,
  sessionIdItemKey,
  sessionIndexSortKey,
  sessionItemKey,
  userItemKey,
  userSessionsPartition,
} from '../../lib/shared/item-keys';

/**
 * A session: `pk = token#<tokenHash>, sk = session` in the sessions table. It
 * lives on its own: `createdByKeyId` is kept for audit and to find the
 * sessions a key opened; nothing checks that key again, so deleting the key
 * leaves the session valid until `expiresAt` or until it is revoked.
 */
export interface Session {
  readonly sessionId: string;
  readonly appUid: string;
  readonly userId: string;
  /** The user's key in the users table (external id or lower-cased email). */
  readonly userKey: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  /** DynamoDB TTL attribute (epoch seconds). TTL deletion lags, so readers check expiresAt themselves. */
  readonly expiresAtEpoch: number;
  readonly createdByKeyId: string;
  /**
   * The app's gateway API key when the session was opened (plans on): the
   * session authorizer returns it as `usageIdentifierKey`, so session calls
   * count against the app's plan too.
   */
  readonly gatewayKey?: string;
}

/**
 * What each index item of a session holds: enough to end the session and
 * remove its other index items, and nothing personal (ids and times only).
 */
export interface SessionRef {
  readonly tokenHash: string;
  readonly sessionId: string;
  readonly userId: string;
  readonly createdByKeyId: string;
  readonly expiresAt: string;
  readonly expiresAtEpoch: number;
}

/** Which sessions of an app: a user's, those a key opened, or one by id. */
export type SessionSelector =
  | { readonly userId: string }
  | { readonly createdByKeyId: string }
  | { readonly sessionId: string };

/** Parallel conditional deletes while ending a page of sessions. */
const END_CONCURRENCY = 8;
/** BatchWriteItem's limit. */
const BATCH_SIZE = 25;
/** What a failure while ending sessions leaves behind: every step is safe to repeat. */
const PARTLY_ENDED = 'some sessions may already be ended; call again with the same input to end the rest';

function refOf(item: Record<string, unknown>): SessionRef {
  const { tokenHash, sessionId, userId, createdByKeyId, expiresAt, expiresAtEpoch } = item as unknown as SessionRef;
  return { tokenHash, sessionId, userId, createdByKeyId, expiresAt, expiresAtEpoch };
}

/** The primary keys of a session's three index items. */
function indexItemKeys(appUid: string, ref: Pick<SessionRef, 'sessionId' | 'userId' | 'createdByKeyId'>): Record<string, string>[] {
  const sk = sessionIndexSortKey(ref.sessionId);
  return [{ pk: userSessionsPartition(appUid, ref.userId), sk }, { pk: keySessionsPartition(appUid, ref.createdByKeyId), sk }, sessionIdItemKey(appUid, ref.sessionId)];
}

export class SessionStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** The users table: a session is only written while its user exists and is not being deleted. */
    private readonly usersTableName: string,
    /** Seals session items (seal.ts); needed by create only. */
    private readonly sealer?: Sealer,
  ) {}

  /**
   * Writes the session and its index items in one transaction, conditional on
   * the user still existing and not being deleted: a delete-user that has
   * marked the user can then find every session it must end. The session
   * item is sealed: the session authorizer refuses it if it is changed.
   */
  async create(session: Session, tokenHash: string): Promise<void> {
    if (!this.sealer) throw new ConfigurationError('this SessionStore was built without a sealer: it cannot write sessions');
    const seal = await this.sealer.seal(sealedSession(tokenHash, session));
    const ref: SessionRef = {
      tokenHash,
      sessionId: session.sessionId,
      userId: session.userId,
      createdByKeyId: session.createdByKeyId,
      expiresAt: session.expiresAt,
      expiresAtEpoch: session.expiresAtEpoch,
    };
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.usersTableName,
                Key: userItemKey(session.appUid, session.userKey),
                ConditionExpression: 'userId = :userId AND attribute_not_exists(deletingAt)',
                ExpressionAttributeValues: { ':userId': session.userId },
              },
            },
            {
              Put: { TableName: this.tableName, Item: { ...sessionItemKey(tokenHash), ...session, [SEAL_ATTRIBUTE]: seal }, ConditionExpression: 'attribute_not_exists(pk)' },
            },
            ...indexItemKeys(session.appUid, ref).map((key) => ({ Put: { TableName: this.tableName, Item: { ...key, ...ref } } })),
          ],
        }),
      );
    } catch (error) {
      const failed = failedConditions(error);
      if (failed.includes(0)) throw new UserBeingDeleted('the user was deleted or is being deleted; no session was issued, try again');
      if (failed.length > 0) throw new StoreUnavailable('session token collision; nothing was written, try again');
      throw storeError('create session', error);
    }
  }

  /** Up to `limit` sessions matching `selector`, read with a strongly consistent Query (or GetItem for one id). */
  async find(appUid: string, selector: SessionSelector, limit: number): Promise<SessionRef[]> {
    try {
      if ('sessionId' in selector) {
        const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: sessionIdItemKey(appUid, selector.sessionId), ConsistentRead: true }));
        return Item ? [refOf(Item)] : [];
      }
      const pk = 'userId' in selector ? userSessionsPartition(appUid, selector.userId) : keySessionsPartition(appUid, selector.createdByKeyId);
      const { Items } = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :ses)',
          ExpressionAttributeValues: { ':pk': pk, ':ses': 'ses#' },
          ConsistentRead: true,
          Limit: limit,
        }),
      );
      return (Items ?? []).map(refOf);
    } catch (error) {
      throw storeError('find sessions', error);
    }
  }

  /**
   * Ends the sessions `refs` point to and removes their index items. Each
   * session item goes first, with a conditional delete by primary key, so a
   * session is refused from the moment it is counted; its index items go
   * after (left behind by a failure in between, they point at nothing and
   * the next call or TTL removes them). Returns how many were still valid.
   */
  async end(appUid: string, refs: readonly SessionRef[], now: Date): Promise<number> {
    let ended = 0;
    const queue = [...refs];
    const worker = async () => {
      for (let ref = queue.shift(); ref; ref = queue.shift()) {
        if (await this.deleteSessionItem(appUid, ref, now)) ended += 1;
      }
    };
    await Promise.all(Array.from({ length: Math.min(END_CONCURRENCY, refs.length) }, worker));
    await this.deleteAll(refs.flatMap((ref) => indexItemKeys(appUid, ref)));
    return ended;
  }

  /** True when a session item that had not expired was deleted. The condition keeps another app's item out of reach. */
  private async deleteSessionItem(appUid: string, ref: SessionRef, now: Date): Promise<boolean> {
    try {
      const { Attributes } = await this.db.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: sessionItemKey(ref.tokenHash),
          ConditionExpression: 'appUid = :appUid AND sessionId = :sessionId',
          ExpressionAttributeValues: { ':appUid': appUid, ':sessionId': ref.sessionId },
          ReturnValues: 'ALL_OLD',
        }),
      );
      return Attributes !== undefined && Date.parse(String(Attributes.expiresAt)) > now.getTime();
    } catch (error) {
      // Already gone: ended by a concurrent call, or expired and removed by TTL.
      if (isConditionFailure(error)) return false;
      throw storeError('ending sessions', error, PARTLY_ENDED);
    }
  }

  /** BatchWriteItem deletes, retrying what DynamoDB leaves unprocessed. */
  private async deleteAll(keys: Record<string, string>[]): Promise<void> {
    for (let start = 0; start < keys.length; start += BATCH_SIZE) {
      let requests = keys.slice(start, start + BATCH_SIZE).map((Key) => ({ DeleteRequest: { Key } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt === 5) throw new StoreUnavailable(`ending sessions failed: DynamoDB left index items unprocessed; ${PARTLY_ENDED}`);
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
        try {
          const { UnprocessedItems } = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }));
          requests = (UnprocessedItems?.[this.tableName] ?? []) as typeof requests;
        } catch (error) {
          throw storeError('ending sessions', error, PARTLY_ENDED);
        }
      }
    }
  }
}
