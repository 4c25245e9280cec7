/**
 * The DynamoDB tables, defined once. The CDK construct, the local stack and the
 * test harness all build their tables from these definitions, so a key schema
 * cannot drift between what deploys and what the tests run against.
 *
 * Kept free of aws-cdk-lib imports so the local stack does not pay for loading it.
 */
export type AttributeType = 'S' | 'N' | 'B';

export interface ItemKeyAttribute {
  readonly name: string;
  readonly type: AttributeType;
}

export interface TableDefinition {
  /** Logical name, used for construct ids and local table names. */
  readonly id: 'Keys' | 'Sessions' | 'Users';
  readonly partitionKey: ItemKeyAttribute;
  readonly sortKey?: ItemKeyAttribute;
  /** Attribute holding an epoch-seconds expiry that DynamoDB TTL deletes by. */
  readonly timeToLiveAttribute?: string;
  /** Tables whose loss would lock every client out or lose users: retained and deletion-protected. */
  readonly retainOnDelete: boolean;
}

/** TTL attribute of activity events: only events carry it, so DynamoDB TTL never removes a key item. */
export const EVENT_TTL_ATTRIBUTE = 'eventExpiresAtEpoch';

export const KEYS_TABLE: TableDefinition = {
  id: 'Keys',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  timeToLiveAttribute: EVENT_TTL_ATTRIBUTE,
  retainOnDelete: true,
};

export const SESSIONS_TABLE: TableDefinition = {
  id: 'Sessions',
  partitionKey: { name: 'pk', type: 'S' },
  // A sort key for the index items that find a user's, a key's or one id's sessions (see item-keys.ts).
  sortKey: { name: 'sk', type: 'S' },
  // Index items carry their session's expiry, so TTL removes them together.
  timeToLiveAttribute: 'expiresAtEpoch',
  // Sessions are short-lived and re-creatable with an API key.
  retainOnDelete: false,
};

export const USERS_TABLE: TableDefinition = {
  id: 'Users',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  retainOnDelete: true,
};

export const TABLES = [KEYS_TABLE, SESSIONS_TABLE, USERS_TABLE] as const;
