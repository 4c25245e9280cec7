import { GetItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { keyHashItemKey, sessionItemKey } from '../../lib/shared/item-keys';
import { storeError } from './dynamodb-errors';
import type { KeyMetadata } from './key-store';
import type { Session } from './session-store';

/**
 * The authorizers' only read: one strongly consistent GetItem of a hash item.
 * It uses the bare DynamoDB client, not the document client, so the authorizer
 * bundles carry nothing beyond what this one call needs (cold start, size).
 */
export type CredentialLookup<T> = (credentialHash: string) => Promise<T | undefined>;

/** Flat items of string and number attributes, which is all hash items hold. */
function plainItem(item: Record<string, AttributeValue>): Record<string, string | number> {
  const plain: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(item)) {
    if (value.S !== undefined) plain[name] = value.S;
    else if (value.N !== undefined) plain[name] = Number(value.N);
  }
  return plain;
}

function lookup<T>(operation: string, client: DynamoDBClient, tableName: string, itemKey: (hash: string) => Record<string, string>): CredentialLookup<T> {
  return async (credentialHash) => {
    const plainKey = itemKey(credentialHash);
    const Key: Record<string, AttributeValue> = {};
    for (const name in plainKey) Key[name] = { S: plainKey[name]! };
    let Item: Record<string, AttributeValue> | undefined;
    try {
      ({ Item } = await client.send(new GetItemCommand({ TableName: tableName, Key, ConsistentRead: true })));
    } catch (error) {
      // Classified, so the authorizer's log says whether an operator must act.
      throw storeError(operation, error);
    }
    if (!Item) return undefined;
    const { pk: _pk, sk: _sk, ...record } = plainItem(Item);
    return record as T;
  };
}

export function apiKeyLookup(client: DynamoDBClient, keysTable: string): CredentialLookup<KeyMetadata> {
  return lookup('api key lookup', client, keysTable, keyHashItemKey);
}

export function sessionLookup(client: DynamoDBClient, sessionsTable: string): CredentialLookup<Session> {
  return lookup('session lookup', client, sessionsTable, sessionItemKey);
}
