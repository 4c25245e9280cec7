import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshallItem, unmarshallItem } from '../../functions/aws-http/attribute-values';
import { DynamoDbHttpClient } from '../../functions/aws-http/dynamodb';
import type { TableNames } from '../../lib/local/tables';
import { createTestTables, testDynamoDbClient } from '../support/dynamodb';

/**
 * The authorizers' DynamoDB client against DynamoDB Local, found the way the
 * SDK finds it (AWS_ENDPOINT_URL_DYNAMODB, set by the global setup): the
 * same items, the same answers and the same error names as the SDK client.
 */

let sdk: DynamoDBClient;
let tables: TableNames;
const client = new DynamoDbHttpClient();

beforeAll(async () => {
  sdk = testDynamoDbClient();
  tables = await createTestTables(sdk);
});
afterAll(() => sdk.destroy());

const key = (pk: string) => marshallItem({ pk, sk: 'key' });

test('GetItem reads what the SDK wrote, attribute for attribute, and nothing for a missing item', async () => {
  const Item = {
    pk: { S: 'hash#round-trip' },
    sk: { S: 'key' },
    keyId: { S: 'key_1' },
    count: { N: '12.5' },
    enabled: { BOOL: false },
    gone: { NULL: true },
    tags: { L: [{ S: 'a' }, { N: '2' }] },
    limits: { M: { perSecond: { N: '10' }, plan: { S: 'free' } } },
    names: { SS: ['x', 'y'] },
  };
  await sdk.send(new PutItemCommand({ TableName: tables.Keys, Item }));
  const ours = await client.getItem({ TableName: tables.Keys, Key: key('hash#round-trip'), ConsistentRead: true });
  const theirs = await sdk.send(new GetItemCommand({ TableName: tables.Keys, Key: { pk: Item.pk, sk: Item.sk }, ConsistentRead: true }));
  expect(ours.Item).toEqual(theirs.Item);
  expect(unmarshallItem(ours.Item!)).toEqual({ pk: 'hash#round-trip', sk: 'key', keyId: 'key_1', count: 12.5, enabled: false, gone: null, tags: ['a', 2], limits: { perSecond: 10, plan: 'free' } });

  expect(await client.getItem({ TableName: tables.Keys, Key: key('hash#missing'), ConsistentRead: true })).toEqual({});
});

test('UpdateItem with a condition: applied when it holds, ConditionalCheckFailedException (HTTP 400) when not, nothing created', async () => {
  const update = (pk: string, at: string) =>
    client.updateItem({
      TableName: tables.Keys,
      Key: key(pk),
      UpdateExpression: 'SET lastUsedAt = :at',
      ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(lastUsedAt) OR lastUsedAt < :at)',
      ExpressionAttributeValues: { ':at': { S: at } },
      ReturnValues: 'NONE',
    });
  await sdk.send(new PutItemCommand({ TableName: tables.Keys, Item: { pk: { S: 'hash#update' }, sk: { S: 'key' }, keyId: { S: 'key_2' } } }));

  await expect(update('hash#update', '2030-01-02T00:00:00.000Z')).resolves.toEqual({});
  await expect(update('hash#update', '2030-01-01T00:00:00.000Z')).rejects.toMatchObject({
    name: 'ConditionalCheckFailedException',
    $fault: 'client',
    $metadata: { httpStatusCode: 400, attempts: 1 },
  });
  await expect(update('hash#never-written', '2030-01-01T00:00:00.000Z')).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
  expect((await client.getItem({ TableName: tables.Keys, Key: key('hash#update'), ConsistentRead: true })).Item?.lastUsedAt).toEqual({ S: '2030-01-02T00:00:00.000Z' });
  expect((await client.getItem({ TableName: tables.Keys, Key: key('hash#never-written'), ConsistentRead: true })).Item).toBeUndefined();

  const returned = await client.updateItem({ TableName: tables.Keys, Key: key('hash#update'), UpdateExpression: 'SET hits = :n', ExpressionAttributeValues: { ':n': { N: '3' } }, ReturnValues: 'ALL_NEW' });
  expect(unmarshallItem(returned.Attributes!)).toMatchObject({ keyId: 'key_2', hits: 3, lastUsedAt: '2030-01-02T00:00:00.000Z' });
});

test('service errors carry the SDK names, are not retried, and say what was wrong', async () => {
  await expect(client.getItem({ TableName: 'no-such-table', Key: key('hash#x') })).rejects.toMatchObject({
    name: 'ResourceNotFoundException',
    $metadata: { httpStatusCode: 400, attempts: 1 },
  });
  // A key of the wrong type: DynamoDB's ValidationException.
  await expect(client.getItem({ TableName: tables.Keys, Key: { pk: { N: '1' }, sk: { S: 'key' } } })).rejects.toMatchObject({
    name: 'ValidationException',
    message: expect.stringMatching(/key|schema/i),
    $metadata: { httpStatusCode: 400, attempts: 1 },
  });
});

test('credentials come from the environment on every call: without them, the SDK error and no request', async () => {
  const noCredentials = new DynamoDbHttpClient({ env: { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_DYNAMODB: process.env.AWS_ENDPOINT_URL_DYNAMODB } });
  await expect(noCredentials.getItem({ TableName: tables.Keys, Key: key('hash#x') })).rejects.toMatchObject({ name: 'CredentialsProviderError' });
});
