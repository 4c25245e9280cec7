import { GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, storeError } from './dynamodb-errors';
import { KeyAlreadyExists, KeyNotFound, StoreUnavailable, ValidationError } from '../domain/errors';
import { appKeyItemKey, appPartition, keyHashItemKey } from '../../lib/shared/item-keys';

/** What admins see of a key. Never the key, never its hash. */
export interface KeyMetadata {
  readonly keyId: string;
  readonly appUid: string;
  readonly name: string;
  readonly displayPrefix: string;
  readonly createdAt: string;
  readonly expiresAt?: string;
  /** Set on keys import-keys stored: from the plaintext `key` or from another system's `keyHash`. */
  readonly importedFrom?: 'key' | 'keyHash';
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
  const { keyId, appUid, name, displayPrefix, createdAt, expiresAt, importedFrom } = item as unknown as KeyMetadata;
  return {
    keyId,
    appUid,
    name,
    displayPrefix,
    createdAt,
    ...(expiresAt === undefined ? {} : { expiresAt }),
    ...(importedFrom === undefined ? {} : { importedFrom }),
  };
}

/** The two conditional Puts that store one key. */
function keyPuts(tableName: string, key: KeyMetadata, keyHash: string) {
  return [
    { Put: { TableName: tableName, Item: { ...keyHashItemKey(keyHash), ...key }, ConditionExpression: 'attribute_not_exists(pk)' } },
    { Put: { TableName: tableName, Item: { ...appKeyItemKey(key.appUid, key.keyId), ...key, keyHash }, ConditionExpression: 'attribute_not_exists(pk)' } },
  ];
}

/** Index of each cancelled item of a TransactWriteItems whose condition failed. */
function failedConditions(error: unknown): number[] {
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.flatMap((reason, index) => (reason?.Code === 'ConditionalCheckFailed' ? [index] : []));
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
      await this.db.send(new TransactWriteCommand({ TransactItems: keyPuts(this.tableName, key, keyHash) }));
    } catch (error) {
      // A collision of 256-bit secrets or 119-bit ids is not going to happen; if it does, nothing was written.
      if (isConditionFailure(error)) throw new StoreUnavailable('key id or hash collision; nothing was written, try again');
      throw storeError('create-key', error);
    }
  }

  /**
   * Stores several keys in one transaction: all of them or none. A hash item
   * that already exists means that key is stored already (KeyAlreadyExists,
   * with its position); at most 50 keys (100 items per transaction).
   */
  async createMany(keys: readonly { readonly metadata: KeyMetadata; readonly keyHash: string }[]): Promise<void> {
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: keys.flatMap(({ metadata, keyHash }) => keyPuts(this.tableName, metadata, keyHash)) }));
    } catch (error) {
      if (!isConditionFailure(error)) throw storeError('import-keys', error);
      // Items go in pairs, hash item first: an even index is a stored key, an odd one a keyId collision.
      const existing = failedConditions(error).find((index) => index % 2 === 0);
      if (existing !== undefined) throw new KeyAlreadyExists(existing / 2, 'the key is already stored; nothing was written');
      throw new StoreUnavailable('key id collision; nothing was written, try again');
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
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.tableName,
                Key: appKeyItemKey(appUid, keyId),
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
            {
              Delete: {
                TableName: this.tableName,
                Key: keyHashItemKey(String(item.keyHash)),
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
          ],
        }),
      );
    } catch (error) {
      // Someone else deleted it between our read and our write.
      if (isConditionFailure(error)) throw new KeyNotFound(keyId, appUid);
      throw storeError('delete-key', error);
    }
  }
}
