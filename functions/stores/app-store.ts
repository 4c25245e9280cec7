import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, storeError } from './dynamodb-errors';
import { appPartition, appRecordItemKey, keyHashItemKey } from '../../lib/shared/item-keys';

/**
 * The app registry item (`pk = apps, sk = app#<appUid>` in the keys table):
 * when the app was first seen, how many keys it has (kept by create-key and
 * delete-key in their transactions) and, when it is on a plan, the plan and
 * its gateway API key.
 */
export interface AppRecord {
  readonly appUid: string;
  readonly createdAt: string;
  readonly keyCount: number;
  readonly plan?: string;
  /** API Gateway's id of the app's gateway API key. */
  readonly gatewayKeyId?: string;
  /** That key's value, also copied onto each of the app's hash items for the authorizer. */
  readonly gatewayKey?: string;
}

export interface PlanAssignment {
  readonly plan: string;
  readonly gatewayKeyId: string;
  readonly gatewayKey: string;
}

/** Hash items updated at once while an app's gateway key is set on its keys. */
const HASH_ITEM_CONCURRENCY = 8;

function appOf(item: Record<string, unknown>): AppRecord {
  const text = (name: string) => (typeof item[name] === 'string' ? { [name]: item[name] as string } : {});
  return {
    appUid: String(item.appUid),
    createdAt: String(item.createdAt),
    keyCount: Number(item.keyCount ?? 0),
    ...text('plan'),
    ...text('gatewayKeyId'),
    ...text('gatewayKey'),
  };
}

export class AppStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(appUid: string): Promise<AppRecord | undefined> {
    try {
      const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: appRecordItemKey(appUid), ConsistentRead: true }));
      return Item ? appOf(Item) : undefined;
    } catch (error) {
      throw storeError('get app', error);
    }
  }

  /**
   * Puts the app on a plan with its gateway key, registering the app if it is
   * new. Undefined when the app's gateway key is no longer `expectedKeyId`
   * (none: `undefined`): someone else changed it, nothing was written.
   */
  async setPlan(appUid: string, assignment: PlanAssignment, expectedKeyId: string | undefined, now: Date): Promise<AppRecord | undefined> {
    try {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: appRecordItemKey(appUid),
          UpdateExpression:
            'SET appUid = :appUid, createdAt = if_not_exists(createdAt, :now), keyCount = if_not_exists(keyCount, :zero), #plan = :plan, gatewayKeyId = :gatewayKeyId, gatewayKey = :gatewayKey',
          ConditionExpression: expectedKeyId === undefined ? 'attribute_not_exists(gatewayKeyId)' : 'gatewayKeyId = :expected',
          ExpressionAttributeNames: { '#plan': 'plan' },
          ExpressionAttributeValues: {
            ':appUid': appUid,
            ':now': now.toISOString(),
            ':zero': 0,
            ':plan': assignment.plan,
            ':gatewayKeyId': assignment.gatewayKeyId,
            ':gatewayKey': assignment.gatewayKey,
            ...(expectedKeyId !== undefined && { ':expected': expectedKeyId }),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return appOf(Attributes ?? {});
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw storeError('set app plan', error);
    }
  }

  /** Takes the app off its plan and forgets its gateway key; undefined when that key is no longer `expectedKeyId`. */
  async clearPlan(appUid: string, expectedKeyId: string): Promise<AppRecord | undefined> {
    try {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: appRecordItemKey(appUid),
          UpdateExpression: 'REMOVE #plan, gatewayKeyId, gatewayKey',
          ConditionExpression: 'gatewayKeyId = :expected',
          ExpressionAttributeNames: { '#plan': 'plan' },
          ExpressionAttributeValues: { ':expected': expectedKeyId },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return appOf(Attributes ?? {});
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw storeError('clear app plan', error);
    }
  }

  /**
   * Sets `gatewayKey` on the hash item of every key the app has (removes it
   * with `undefined`), so the authorizer finds it in its one read. Reads the
   * app's key items with a consistent Query: a key created before the
   * registry changed is found here; one created after copies the new value
   * itself. Returns how many hash items it updated.
   */
  async setGatewayKeyOnKeys(appUid: string, gatewayKey: string | undefined): Promise<number> {
    const hashes: string[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    try {
      do {
        const page = await this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :key)',
            ExpressionAttributeValues: { ':pk': appPartition(appUid), ':key': 'key#' },
            ProjectionExpression: 'keyHash',
            ConsistentRead: true,
            ExclusiveStartKey,
          }),
        );
        for (const item of page.Items ?? []) if (typeof item.keyHash === 'string') hashes.push(item.keyHash);
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
    } catch (error) {
      throw storeError('list app keys', error);
    }
    let updated = 0;
    const update = async (keyHash: string) => {
      try {
        await this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keyHashItemKey(keyHash),
            UpdateExpression: gatewayKey === undefined ? 'REMOVE gatewayKey' : 'SET gatewayKey = :gatewayKey',
            ConditionExpression: 'attribute_exists(pk)',
            ...(gatewayKey !== undefined && { ExpressionAttributeValues: { ':gatewayKey': gatewayKey } }),
          }),
        );
        updated += 1;
      } catch (error) {
        // Deleted since the Query: nothing left to update.
        if (!isConditionFailure(error)) throw storeError('set gateway key on keys', error);
      }
    };
    for (let next = 0; next < hashes.length; next += HASH_ITEM_CONCURRENCY) {
      await Promise.all(hashes.slice(next, next + HASH_ITEM_CONCURRENCY).map(update));
    }
    return updated;
  }
}
