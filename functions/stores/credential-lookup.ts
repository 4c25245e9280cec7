import { keyHashItemKey, sessionItemKey } from '../../lib/shared/item-keys';
import { marshallItem, unmarshallItem } from '../aws-http/attribute-values';
import type { DynamoDbHttpClient } from '../aws-http/dynamodb';
import type { KeyMetadata } from './key-store';
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

function lookup<T>(client: CredentialItems, tableName: string, itemKey: (hash: string) => Record<string, string>): CredentialLookup<T> {
  return async (credentialHash) => {
    const { Item } = await client.getItem({ TableName: tableName, Key: marshallItem(itemKey(credentialHash)), ConsistentRead: true });
    if (!Item) return undefined;
    const { pk: _pk, sk: _sk, ...record } = unmarshallItem(Item);
    return record as T;
  };
}

export function apiKeyLookup(client: CredentialItems, keysTable: string): CredentialLookup<KeyMetadata> {
  return lookup(client, keysTable, keyHashItemKey);
}

export function sessionLookup(client: CredentialItems, sessionsTable: string): CredentialLookup<Session> {
  return lookup(client, sessionsTable, sessionItemKey);
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
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
    }
  };
}
