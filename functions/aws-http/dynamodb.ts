import type { AttributeValue, Item } from './attribute-values';
import { AwsJsonClient, type AwsJsonClientOptions } from './json-client';

export interface GetItemInput {
  readonly TableName: string;
  readonly Key: Item;
  readonly ConsistentRead?: boolean;
  readonly ProjectionExpression?: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
}

export interface GetItemOutput {
  readonly Item?: Item;
}

export interface UpdateItemInput {
  readonly TableName: string;
  readonly Key: Item;
  readonly UpdateExpression: string;
  readonly ConditionExpression?: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Record<string, AttributeValue>;
  readonly ReturnValues?: 'NONE' | 'ALL_OLD' | 'UPDATED_OLD' | 'ALL_NEW' | 'UPDATED_NEW';
}

export interface UpdateItemOutput {
  readonly Attributes?: Item;
}

/**
 * The two DynamoDB operations the authorizers make, with the SDK's input and
 * output shapes (which are DynamoDB's wire format); any other operation is
 * one `call` away. Defaults as the SDK's DynamoDB client: 4 attempts, 25 ms
 * backoff base.
 */
export class DynamoDbHttpClient extends AwsJsonClient {
  constructor(options: AwsJsonClientOptions = {}) {
    super({ signingName: 'dynamodb', envSuffix: 'DYNAMODB', targetPrefix: 'DynamoDB_20120810', jsonVersion: '1.0', defaultMaxAttempts: 4, baseDelayMs: 25 }, options);
  }

  getItem(input: GetItemInput): Promise<GetItemOutput> {
    return this.call('GetItem', input);
  }

  updateItem(input: UpdateItemInput): Promise<UpdateItemOutput> {
    return this.call('UpdateItem', input);
  }
}
