import { GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { failedConditions, storeError } from './dynamodb-errors';
import { KeyNotFound, StoreUnavailable, ValidationError } from '../domain/errors';
import { appKeyItemKey, appPartition, appRecordItemKey, keyHashItemKey } from '../../lib/shared/item-keys';

/** What admins see of a key. Never the key, never its hash. */
export interface KeyMetadata {
  readonly keyId: string;
  readonly appUid: string;
  readonly name: string;
  readonly displayPrefix: string;
  readonly createdAt: string;
  readonly expiresAt?: string;
}

/** The hash item as the API-key authorizer reads it: the metadata plus the app's gateway key, when it has a plan. */
export interface KeyHashRecord extends KeyMetadata {
  /** Value of the app's gateway API key: the authorizer returns it as `usageIdentifierKey`. */
  readonly gatewayKey?: string;
}

/**
 * The app's gateway key as create-key read it from the app registry. The key
 * is written only if the app still has exactly this gateway key (none:
 * `undefined`), so a concurrent set-app-plan cannot leave it with a stale one.
 */
export interface ExpectedGatewayKey {
  readonly gatewayKey: string | undefined;
}

/** The app's gateway key changed between create-key reading it and writing the key; nothing was written. */
export class AppPlanChanged extends Error {
  override readonly name = 'AppPlanChanged';
}

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

export interface KeyPage {
  readonly keys: KeyMetadata[];
  readonly nextToken?: string;
}

/**
 * Two items per key in the keys table:
 * - `pk = hash#<keyHash>, sk = key`: the only item the authorizer reads;
 * - `pk = app#<appUid>, sk = key#<keyId>`: for listing and deleting, with the hash.
 * They are written and removed together in one transaction, which also counts
 * the key in the app's registry item (`pk = apps, sk = app#<appUid>`).
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

  /**
   * Writes both items and counts the key in the app registry, or nothing.
   * With `expected` (plans on), the hash item carries the app's gateway key
   * and the write holds only if the registry still has that gateway key
   * (AppPlanChanged otherwise).
   */
  async create(key: KeyMetadata, keyHash: string, expected?: ExpectedGatewayKey): Promise<void> {
    const gatewayKey = expected?.gatewayKey;
    const count: TransactItem = {
      Update: {
        TableName: this.tableName,
        Key: appRecordItemKey(key.appUid),
        UpdateExpression: 'SET appUid = :appUid, createdAt = if_not_exists(createdAt, :createdAt) ADD keyCount :one',
        ...(expected && { ConditionExpression: gatewayKey === undefined ? 'attribute_not_exists(gatewayKey)' : 'gatewayKey = :gatewayKey' }),
        ExpressionAttributeValues: { ':appUid': key.appUid, ':createdAt': key.createdAt, ':one': 1, ...(gatewayKey !== undefined && { ':gatewayKey': gatewayKey }) },
      },
    };
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: { ...keyHashItemKey(keyHash), ...key, ...(gatewayKey !== undefined && { gatewayKey }) },
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
            count,
          ],
        }),
      );
    } catch (error) {
      const failed = failedConditions(error);
      if (failed.includes(2)) throw new AppPlanChanged(`the plan of app ${key.appUid} changed while the key was being created`);
      // A collision of 256-bit secrets or 119-bit ids is not going to happen; if it does, nothing was written.
      if (failed.length > 0) throw new StoreUnavailable('key id or hash collision; nothing was written, try again');
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
    const uncount: TransactItem = {
      Update: {
        TableName: this.tableName,
        Key: appRecordItemKey(appUid),
        UpdateExpression: 'ADD keyCount :minusOne',
        ConditionExpression: 'keyCount > :zero',
        ExpressionAttributeValues: { ':minusOne': -1, ':zero': 0 },
      },
    };
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: [...deletes, uncount] }));
      return;
    } catch (error) {
      const failed = failedConditions(error);
      // Someone else deleted it between our read and our write.
      if (failed.some((index) => index < 2)) throw new KeyNotFound(keyId, appUid);
      if (failed.length === 0) throw storeError('delete-key', error);
    }
    // The key predates the app registry, which has not counted it: delete it without uncounting.
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: deletes }));
    } catch (error) {
      if (failedConditions(error).length > 0) throw new KeyNotFound(keyId, appUid);
      throw storeError('delete-key', error);
    }
  }
}
