import { GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, storeError } from './dynamodb-errors';
import { KeyNotFound, StoreUnavailable, ValidationError } from '../domain/errors';
import { appKeyItemKey, appPartition, keyHashItemKey } from '../../lib/shared/item-keys';

/** What admins see of a key. Never the key, never its hash. */
export interface KeyMetadata {
  readonly keyId: string;
  readonly appUid: string;
  readonly name: string;
  readonly displayPrefix: string;
  readonly createdAt: string;
  readonly expiresAt?: string;
}

export interface KeyPage {
  readonly keys: KeyMetadata[];
  readonly nextToken?: string;
}

/**
 * Two items per key in the keys table:
 * - `pk = hash#<keyHash>, sk = key`: the only item the authorizer reads;
 * - `pk = app#<appUid>, sk = key#<keyId>`: for listing and deleting, with the hash.
 * They are written and removed together in one transaction.
 */

function metadataOf(item: Record<string, unknown>): KeyMetadata {
  const { keyId, appUid, name, displayPrefix, createdAt, expiresAt } = item as unknown as KeyMetadata;
  return expiresAt === undefined
    ? { keyId, appUid, name, displayPrefix, createdAt }
    : { keyId, appUid, name, displayPrefix, createdAt, expiresAt };
}

interface PageCursor {
  readonly sk: string;
}

function encodeCursor(lastKey: Record<string, unknown>): string {
  const cursor: PageCursor = { sk: String(lastKey.sk) };
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(token: string): PageCursor {
  try {
    const cursor = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as PageCursor;
    if (typeof cursor?.sk === 'string' && cursor.sk.startsWith('key#')) return { sk: cursor.sk };
  } catch {
    // fall through to the validation error
  }
  throw new ValidationError('nextToken', 'nextToken is not a token returned by list-keys');
}

export class KeyStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Writes both items or neither. Fails if either already exists. */
  async create(key: KeyMetadata, keyHash: string): Promise<void> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: { ...keyHashItemKey(keyHash), ...key },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: { ...appKeyItemKey(key.appUid, key.keyId), ...key, keyHash },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
    } catch (error) {
      // A collision of 256-bit secrets or 119-bit ids is not going to happen; if it does, nothing was written.
      if (isConditionFailure(error)) throw new StoreUnavailable('key id or hash collision; nothing was written, try again');
      throw storeError('create-key', error);
    }
  }

  async list(appUid: string, limit: number, nextToken?: string): Promise<KeyPage> {
    const cursor = nextToken === undefined ? undefined : decodeCursor(nextToken);
    try {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :key)',
          ExpressionAttributeValues: { ':pk': appPartition(appUid), ':key': 'key#' },
          ConsistentRead: true,
          Limit: limit,
          ExclusiveStartKey: cursor && { pk: appPartition(appUid), sk: cursor.sk },
        }),
      );
      const keys = (page.Items ?? []).map(metadataOf);
      return page.LastEvaluatedKey ? { keys, nextToken: encodeCursor(page.LastEvaluatedKey) } : { keys };
    } catch (error) {
      throw storeError('list-keys', error);
    }
  }

  /** Removes both items in one transaction; afterwards the authorizer cannot find the key. */
  async delete(appUid: string, keyId: string): Promise<void> {
    let item: Record<string, unknown> | undefined;
    try {
      ({ Item: item } = await this.db.send(
        new GetCommand({ TableName: this.tableName, Key: appKeyItemKey(appUid, keyId), ConsistentRead: true }),
      ));
    } catch (error) {
      throw storeError('delete-key', error);
    }
    if (!item) throw new KeyNotFound(keyId, appUid);
    // Someone else deleted it between our read and our write.
    if (!(await this.deleteItems(appUid, keyId, String(item.keyHash), 'delete-key'))) throw new KeyNotFound(keyId, appUid);
  }

  /**
   * Deletes the key whose hash item is `hash#<keyHash>` exactly as delete()
   * does: both items in one transaction. Returns which key it was, or
   * undefined when there is no such key (never was, or already deleted).
   */
  async deleteByHash(keyHash: string): Promise<{ keyId: string; appUid: string } | undefined> {
    let item: Record<string, unknown> | undefined;
    try {
      ({ Item: item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: keyHashItemKey(keyHash), ConsistentRead: true })));
    } catch (error) {
      throw storeError('revoke-key', error);
    }
    if (!item) return undefined;
    const key = { keyId: String(item.keyId), appUid: String(item.appUid) };
    return (await this.deleteItems(key.appUid, key.keyId, keyHash, 'revoke-key')) ? key : undefined;
  }

  /**
   * The one deletion path: both items of a key in one transaction, each on
   * condition that it still names the other, so a key is never half deleted
   * and never deleted in place of another. False when a condition failed
   * (the key was deleted meanwhile).
   */
  private async deleteItems(appUid: string, keyId: string, keyHash: string, operation: string): Promise<boolean> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.tableName,
                Key: appKeyItemKey(appUid, keyId),
                ConditionExpression: 'attribute_exists(pk) AND keyHash = :keyHash',
                ExpressionAttributeValues: { ':keyHash': keyHash },
              },
            },
            {
              Delete: {
                TableName: this.tableName,
                Key: keyHashItemKey(keyHash),
                ConditionExpression: 'attribute_exists(pk) AND keyId = :keyId',
                ExpressionAttributeValues: { ':keyId': keyId },
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw storeError(operation, error);
    }
  }
}
