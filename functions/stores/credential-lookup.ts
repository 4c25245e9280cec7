import { GetItemCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { keyHashItemKey, sessionItemKey } from '../../lib/shared/item-keys';
import type { KeyMetadata } from './key-store';
import type { Session } from './session-store';

/**
 * The authorizers' only read: one strongly consistent GetItem of a hash item.
 * It uses the bare DynamoDB client, not the document client, so the authorizer
 * bundles carry nothing beyond what this one call needs (cold start, size).
 */
export type CredentialLookup<T> = (credentialHash: string) => Promise<T | undefined>;

/** Flat items of string, number and boolean attributes, which is all hash items hold. */
export function plainItem(item: Record<string, AttributeValue>): Record<string, string | number | boolean> {
  const plain: Record<string, string | number | boolean> = {};
  for (const [name, value] of Object.entries(item)) {
    if (value.S !== undefined) plain[name] = value.S;
    else if (value.N !== undefined) plain[name] = Number(value.N);
    else if (value.BOOL !== undefined) plain[name] = value.BOOL;
  }
  return plain;
}

function attributeKey(plainKey: Record<string, string>): Record<string, AttributeValue> {
  const Key: Record<string, AttributeValue> = {};
  for (const name in plainKey) Key[name] = { S: plainKey[name]! };
  return Key;
}

function lookup<T>(client: DynamoDBClient, tableName: string, itemKey: (hash: string) => Record<string, string>): CredentialLookup<T> {
  return async (credentialHash) => {
    const { Item } = await client.send(new GetItemCommand({ TableName: tableName, Key: attributeKey(itemKey(credentialHash)), ConsistentRead: true }));
    if (!Item) return undefined;
    const { pk: _pk, sk: _sk, ...record } = plainItem(Item);
    return record as T;
  };
}

export function apiKeyLookup(client: DynamoDBClient, keysTable: string): CredentialLookup<KeyMetadata> {
  return lookup(client, keysTable, keyHashItemKey);
}

export function sessionLookup(client: DynamoDBClient, sessionsTable: string): CredentialLookup<Session> {
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
export function lastUsedWriter(client: DynamoDBClient, keysTable: string): (keyHash: string, at: string) => Promise<void> {
  return async (keyHash, at) => {
    try {
      await client.send(
        new UpdateItemCommand({
          TableName: keysTable,
          Key: attributeKey(keyHashItemKey(keyHash)),
          UpdateExpression: 'SET lastUsedAt = :at',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(lastUsedAt) OR lastUsedAt < :at)',
          ExpressionAttributeValues: { ':at': { S: at } },
          ReturnValues: 'NONE',
        }),
      );
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
    }
  };
}
