import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ensureTables, tableNames } from '../../lib/local/tables';
import { testDynamoDbClient } from '../support/dynamodb';

/**
 * The local stack keeps its tables across starts (`.keygate/`). A table made
 * by an older keygate with another key schema: the sessions table is
 * replaced (its data is re-creatable, as a deploy replaces it), a retained
 * table is refused with a clear error rather than used wrongly.
 */
let client: DynamoDBClient;
beforeAll(() => {
  client = testDynamoDbClient();
});
afterAll(() => client.destroy());

const pkOnly = (TableName: string) =>
  client.send(
    new CreateTableCommand({
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }),
  );
const keySchema = async (TableName: string) => ((await client.send(new DescribeTableCommand({ TableName }))).Table?.KeySchema ?? []).map((key) => key.AttributeName);

test('a sessions table from before the session index items (pk only) is replaced by one with pk and sk', async () => {
  const names = tableNames(`old${Date.now()}`);
  await pkOnly(names.Sessions);
  await client.send(new PutItemCommand({ TableName: names.Sessions, Item: { pk: { S: 'token#old' } } }));
  await ensureTables(client, names);
  expect(await keySchema(names.Sessions)).toEqual(['pk', 'sk']);
  // Idempotent on the next start.
  await ensureTables(client, names);
  expect(await keySchema(names.Sessions)).toEqual(['pk', 'sk']);
  await Promise.all(Object.values(names).map((TableName) => client.send(new DeleteTableCommand({ TableName }))));
});

test('a retained table (users) with another key schema is refused with a clear error, not dropped', async () => {
  const names = tableNames(`odd${Date.now()}`);
  await pkOnly(names.Users);
  await expect(ensureTables(client, names)).rejects.toThrow(
    `local table ${names.Users} has the key schema (pk) of an older keygate; export what you need and delete it, or start with a fresh KEYGATE_HOME`,
  );
  expect(await keySchema(names.Users)).toEqual(['pk']);
  await Promise.all(Object.values(names).map((TableName) => client.send(new DeleteTableCommand({ TableName })).catch(() => undefined)));
});
