import { keyHashItemKey, sessionItemKey } from '../../lib/shared/item-keys';
import { marshallItem, unmarshallItem, type Item } from '../aws-http/attribute-values';
import type { DynamoDbHttpClient } from '../aws-http/dynamodb';
import { isConditionFailure, storeError } from './dynamodb-errors';
import type { KeyHashRecord } from './key-store';
import type { Session } from './session-store';

/**
 * The authorizers' only read: one strongly consistent GetItem of a hash item.
 * It goes through the small signed-HTTP client of aws-http/, not the SDK, so
 * the authorizer bundles carry nothing beyond what their calls need (cold
 * start, size; see the README's Performance section).
 */
export type CredentialLookup<T> = (credentialHash: string) => Promise<T | undefined>;

/** What the authorizers call on DynamoDB. */
export type CredentialItems = Pick<DynamoDbHttpClient, 'getItem' | 'updateItem'>;

function lookup<T>(operation: string, client: CredentialItems, tableName: string, itemKey: (hash: string) => Record<string, string>): CredentialLookup<T> {
  return async (credentialHash) => {
    let Item: Item | undefined;
    try {
      ({ Item } = await client.getItem({ TableName: tableName, Key: marshallItem(itemKey(credentialHash)), ConsistentRead: true }));
    } catch (error) {
      // Classified, so the authorizer's log says whether an operator must act.
      throw storeError(operation, error);
    }
    if (!Item) return undefined;
    const { pk: _pk, sk: _sk, ...record } = unmarshallItem(Item);
    return record as T;
  };
}

export function apiKeyLookup(client: CredentialItems, keysTable: string): CredentialLookup<KeyHashRecord> {
  return lookup('api key lookup', client, keysTable, keyHashItemKey);
}

export function sessionLookup(client: CredentialItems, sessionsTable: string): CredentialLookup<Session> {
  return lookup('session lookup', client, sessionsTable, sessionItemKey);
}

/**
 * The API-key authorizer's one write: `lastUsedAt` of a hash item. The only
 * key-item write outside KeyStore, and it touches only `lastUsedAt`, which
 * decides nothing (IAM allows this function that attribute and nothing else).
 * It never creates an item (`attribute_exists`) and never moves the time
 * back, so a late write from a thawed container cannot hide a newer use. A
 * failed condition (key deleted meanwhile, or a newer time already there) is
 * the expected outcome, not an error.
 */
export function lastUsedWriter(client: CredentialItems, keysTable: string): (keyHash: string, at: string) => Promise<void> {
  return async (keyHash, at) => {
    try {
      await client.updateItem({
        TableName: keysTable,
        Key: marshallItem(keyHashItemKey(keyHash)),
        UpdateExpression: 'SET lastUsedAt = :at',
        ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(lastUsedAt) OR lastUsedAt < :at)',
        ExpressionAttributeValues: { ':at': { S: at } },
        ReturnValues: 'NONE',
      });
    } catch (error) {
      // Classified like every store failure: an IAM or table mistake needs an operator, throttling does not.
      if (!isConditionFailure(error)) throw storeError('lastUsedAt write', error);
    }
  };
}
