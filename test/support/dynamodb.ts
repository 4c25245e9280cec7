import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { DynamoDbHttpClient } from '../../functions/aws-http/dynamodb';
import { ENV } from '../../lib/shared/environment';
import { ensureTables, type TableNames } from '../../lib/local/tables';

/** The table names test-env.ts chose for this test file. */
export function testTableNames(): TableNames {
  return { Keys: process.env[ENV.keysTable]!, Sessions: process.env[ENV.sessionsTable]!, Users: process.env[ENV.usersTable]! };
}

export function testDynamoDbClient(): DynamoDBClient {
  return new DynamoDBClient({});
}

/** The client the authorizers read and write with (aws-http/), pointed at the run's DynamoDB Local like the SDK's. */
export function testAuthorizerDynamoDb(): DynamoDbHttpClient {
  return new DynamoDbHttpClient();
}

/** Creates this file's tables in the run's DynamoDB Local. */
export async function createTestTables(client: DynamoDBClient = testDynamoDbClient()): Promise<TableNames> {
  const names = testTableNames();
  await ensureTables(client, names);
  return names;
}

/** Every item of a table, read with a strongly consistent scan. */
export async function scanAll(client: DynamoDBClient, tableName: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, never> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey }));
    items.push(...(page.Items ?? []).map((item) => unmarshall(item)));
    ExclusiveStartKey = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (ExclusiveStartKey);
  return items;
}
