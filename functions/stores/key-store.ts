import { GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { failedConditions, isTransactionConflict, storeError } from './dynamodb-errors';
import { KeygateError, KeyNotFound, StoreUnavailable } from '../domain/errors';
import { APPS_PARTITION, appKeyItemKey, appPartition, appRecordItemKey, keyHashItemKey } from '../../lib/shared/item-keys';
import { decodeCursor, encodeCursor } from './page-cursor';

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

/** An app as the registry records it: when its first key was made and how many keys it has now. */
export interface AppRecord {
  readonly appUid: string;
  readonly createdAt: string;
  readonly keyCount: number;
}

export interface AppPage {
  readonly apps: AppRecord[];
  readonly nextToken?: string;
}

/**
 * Items per key in the keys table:
 * - `pk = hash#<keyHash>, sk = key`: the only item the authorizer reads;
 * - `pk = app#<appUid>, sk = key#<keyId>`: for listing and deleting, with the hash;
 * and per app `pk = apps, sk = app#<appUid>` (the app registry) with its key count.
 * A key's items and its count change together in one transaction.
 */

function metadataOf(item: Record<string, unknown>): KeyMetadata {
  const { keyId, appUid, name, displayPrefix, createdAt, expiresAt } = item as unknown as KeyMetadata;
  return expiresAt === undefined
    ? { keyId, appUid, name, displayPrefix, createdAt }
    : { keyId, appUid, name, displayPrefix, createdAt, expiresAt };
}

function appOf(item: Record<string, unknown>): AppRecord {
  return { appUid: String(item.appUid), createdAt: String(item.createdAt), keyCount: Number(item.keyCount) };
}

/** Tries of a transaction that collides with another on the app's registry item. */
const CONFLICT_ATTEMPTS = 4;

type TransactItem = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>[number];

export class KeyStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Writes the key's two items and counts it in the app registry, all or
   * nothing. Fails if either key item already exists.
   */
  async create(key: KeyMetadata, keyHash: string): Promise<void> {
    const puts: TransactItem[] = [
      { Put: { TableName: this.tableName, Item: { ...keyHashItemKey(keyHash), ...key }, ConditionExpression: 'attribute_not_exists(pk)' } },
      { Put: { TableName: this.tableName, Item: { ...appKeyItemKey(key.appUid, key.keyId), ...key, keyHash }, ConditionExpression: 'attribute_not_exists(pk)' } },
    ];
    // The usual case, one round trip: the app is registered, so its count goes up by one.
    if (await this.writeWithRegistry('create-key', puts, this.countKeys(key.appUid, 1))) return;
    // The app's first key since the registry exists: register it, counting keys it had from before the registry.
    const existing = await this.existingKeys(key.appUid);
    const createdAt = existing.earliest !== undefined && existing.earliest < key.createdAt ? existing.earliest : key.createdAt;
    const record: AppRecord = { appUid: key.appUid, createdAt, keyCount: existing.count + 1 };
    const register: TransactItem = {
      Put: { TableName: this.tableName, Item: { ...appRecordItemKey(key.appUid), ...record }, ConditionExpression: 'attribute_not_exists(pk)' },
    };
    if (await this.writeWithRegistry('create-key', puts, register)) return;
    // A concurrent create registered it in between: count on the record it made.
    if (await this.writeWithRegistry('create-key', puts, this.countKeys(key.appUid, 1))) return;
    throw new StoreUnavailable('create-key: the app registry changed during the call; nothing was written, try again');
  }

  async list(appUid: string, limit: number, nextToken?: string): Promise<KeyPage> {
    const sk = nextToken === undefined ? undefined : decodeCursor(nextToken, 'key#', 'list-keys');
    try {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :key)',
          ExpressionAttributeValues: { ':pk': appPartition(appUid), ':key': 'key#' },
          ConsistentRead: true,
          Limit: limit,
          ExclusiveStartKey: sk === undefined ? undefined : { pk: appPartition(appUid), sk },
        }),
      );
      const keys = (page.Items ?? []).map(metadataOf);
      return page.LastEvaluatedKey ? { keys, nextToken: encodeCursor(page.LastEvaluatedKey) } : { keys };
    } catch (error) {
      throw storeError('list-keys', error);
    }
  }

  /** Removes both items and uncounts the key in one transaction; afterwards the authorizer cannot find the key. */
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
    const deletes: TransactItem[] = [
      { Delete: { TableName: this.tableName, Key: appKeyItemKey(appUid, keyId), ConditionExpression: 'attribute_exists(pk)' } },
      { Delete: { TableName: this.tableName, Key: keyHashItemKey(String(item.keyHash)), ConditionExpression: 'attribute_exists(pk)' } },
    ];
    try {
      if (await this.writeWithRegistry('delete-key', deletes, this.countKeys(appUid, -1))) return;
      // An app from before the registry, not registered yet: nothing to uncount (its first create will count what is left).
      await this.transact(deletes);
    } catch (error) {
      // Someone else deleted it between our read and our write.
      if (failedConditions(error).length > 0) throw new KeyNotFound(keyId, appUid);
      throw error instanceof KeygateError ? error : storeError('delete-key', error);
    }
  }

  async getApp(appUid: string): Promise<AppRecord | undefined> {
    try {
      const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: appRecordItemKey(appUid), ConsistentRead: true }));
      return Item ? appOf(Item) : undefined;
    } catch (error) {
      throw storeError('get-app', error);
    }
  }

  async listApps(limit: number, nextToken?: string): Promise<AppPage> {
    const sk = nextToken === undefined ? undefined : decodeCursor(nextToken, 'app#', 'list-apps');
    try {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': APPS_PARTITION },
          ConsistentRead: true,
          Limit: limit,
          ExclusiveStartKey: sk === undefined ? undefined : { pk: APPS_PARTITION, sk },
        }),
      );
      const apps = (page.Items ?? []).map(appOf);
      return page.LastEvaluatedKey ? { apps, nextToken: encodeCursor(page.LastEvaluatedKey) } : { apps };
    } catch (error) {
      throw storeError('list-apps', error);
    }
  }

  /**
   * One transaction. Every key write of an app also updates its registry
   * item, so concurrent writes for one app can collide (TransactionConflict,
   * which the SDK does not retry): retried here a few times with jitter.
   */
  private async transact(items: TransactItem[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.db.send(new TransactWriteCommand({ TransactItems: items }));
        return;
      } catch (error) {
        if (!isTransactionConflict(error) || attempt === CONFLICT_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * 2 ** attempt));
      }
    }
  }

  /** The registry update that adds `delta` to a registered app's key count (fails if the app is not registered). */
  private countKeys(appUid: string, delta: 1 | -1): TransactItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: appRecordItemKey(appUid),
        UpdateExpression: 'ADD keyCount :delta',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':delta': delta },
      },
    };
  }

  /** How many key items the app has and the earliest createdAt among them (consistent; once per app, on its first registered create). */
  private async existingKeys(appUid: string): Promise<{ count: number; earliest?: string }> {
    let count = 0;
    let earliest: string | undefined;
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    try {
      do {
        const page = await this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :key)',
            ExpressionAttributeValues: { ':pk': appPartition(appUid), ':key': 'key#' },
            ProjectionExpression: 'createdAt',
            ConsistentRead: true,
            ExclusiveStartKey,
          }),
        );
        for (const item of page.Items ?? []) {
          count += 1;
          const createdAt = String(item.createdAt);
          if (earliest === undefined || createdAt < earliest) earliest = createdAt;
        }
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
    } catch (error) {
      throw storeError('create-key', error);
    }
    return earliest === undefined ? { count } : { count, earliest };
  }

  /**
   * Runs `items` plus the registry item in one transaction. False when only
   * the registry item's condition failed (nothing was written); a failed
   * condition on a key item is a collision of 256-bit secrets or 119-bit ids,
   * which does not happen, or (for delete) a concurrent delete: thrown for the caller.
   */
  private async writeWithRegistry(operation: string, items: TransactItem[], registry: TransactItem): Promise<boolean> {
    try {
      await this.transact([...items, registry]);
      return true;
    } catch (error) {
      const failed = failedConditions(error);
      if (failed.length === 1 && failed[0] === items.length) return false;
      if (failed.length > 0 && operation === 'create-key') throw new StoreUnavailable('key id or hash collision; nothing was written, try again');
      if (failed.length > 0) throw error;
      throw storeError(operation, error);
    }
  }
}
