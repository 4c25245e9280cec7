import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, storeError } from './dynamodb-errors';
import { StoreUnavailable } from '../domain/errors';
import { sessionItemKey } from '../../lib/shared/item-keys';

/**
 * A session: `pk = token#<tokenHash>` in the sessions table. It lives on its
 * own: `createdByKeyId` is kept for audit and nothing checks that key again,
 * so deleting the key leaves the session valid until `expiresAt`.
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

export class SessionStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(session: Session, tokenHash: string): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...sessionItemKey(tokenHash), ...session },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) throw new StoreUnavailable('session token collision; nothing was written, try again');
      throw storeError('create session', error);
    }
  }
}
