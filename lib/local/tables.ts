import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  waitUntilTableNotExists,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { TABLES, type TableDefinition } from '../shared/tables';

export type TableNames = Record<TableDefinition['id'], string>;

/** Table names for a name stem, e.g. `keygate` → `keygate-keys`, `keygate-sessions`, `keygate-users`. */
export function tableNames(stem: string): TableNames {
  return { Keys: `${stem}-keys`, Sessions: `${stem}-sessions`, Users: `${stem}-users` };
}

/** Creates each missing table from the shared definitions (the same ones the CDK construct uses). */
export async function ensureTables(client: DynamoDBClient, names: TableNames): Promise<void> {
  await Promise.all(TABLES.map((definition) => ensureTable(client, definition, names[definition.id])));
}

async function ensureTable(client: DynamoDBClient, definition: TableDefinition, tableName: string): Promise<void> {
  const keys = [definition.partitionKey, ...(definition.sortKey ? [definition.sortKey] : [])];
  const create = () =>
    client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: keys.map((key) => ({ AttributeName: key.name, AttributeType: key.type })),
        KeySchema: keys.map((key, index) => ({ AttributeName: key.name, KeyType: index === 0 ? 'HASH' : 'RANGE' })),
      }),
    );
  try {
    await create();
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    // A table kept from an earlier start: its key schema may predate a change to the definition.
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const schema = (Table?.KeySchema ?? []).map((element) => element.AttributeName).join(',');
    if (schema !== keys.map((key) => key.name).join(',')) {
      if (definition.retainOnDelete) {
        throw new Error(`local table ${tableName} has the key schema (${schema}) of an older keygate; export what you need and delete it, or start with a fresh KEYGATE_HOME`);
      }
      // Re-creatable data (sessions: users sign in again): replace it, as a deploy of the new schema would.
      await client.send(new DeleteTableCommand({ TableName: tableName }));
      await waitUntilTableNotExists({ client, maxWaitTime: 60, minDelay: 1 }, { TableName: tableName });
      await create();
    }
  }
  await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1 }, { TableName: tableName });
  if (definition.timeToLiveAttribute) {
    try {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: tableName,
          TimeToLiveSpecification: { AttributeName: definition.timeToLiveAttribute, Enabled: true },
        }),
      );
    } catch (error) {
      // Already enabled on a table kept from an earlier start.
      if (!(error instanceof Error && /already enabled/i.test(error.message))) throw error;
    }
  }
}
