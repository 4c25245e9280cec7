import { BatchGetCommand, GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, storeError } from './dynamodb-errors';
import { activityEventPut, type TransactItem } from './activity-store';
import { pageCursor } from './page-cursor';
import type { ActivityEvent } from '../domain/activity';
import { KeyNotFound, StoreUnavailable } from '../domain/errors';
import { appKeyItemKey, appPartition, keyHashItemKey } from '../../lib/shared/item-keys';

/** What admins see of a key. Never the key, never its hash. */
export interface KeyMetadata {
  readonly keyId: string;
  readonly appUid: string;
  readonly name: string;
  readonly displayPrefix: string;
  readonly createdAt: string;
  readonly expiresAt?: string;
  /** False when disabled. Items written before keys could be disabled have no such attribute: they count as enabled. */
  readonly enabled?: boolean;
  /** The key this one replaced (roll-key). */
  readonly rolledFromKeyId?: string;
  /** When an authorizer last let the key in, to within its recording interval; kept on the hash item only. */
  readonly lastUsedAt?: string;
}

export interface KeyPage {
  readonly keys: KeyMetadata[];
  readonly nextToken?: string;
}

/** The fields update-key may change; `expiresAt: null` removes the expiry. */
export interface KeyChanges {
  readonly name?: string;
  readonly expiresAt?: string | null;
  readonly enabled?: boolean;
}

/** What a change to an existing key writes, decided from the key as it is now; undefined writes nothing. */
export type KeyChangePlan = (current: KeyMetadata) => { readonly changes: KeyChanges; readonly event: ActivityEvent } | undefined;

/** What a roll writes, decided from the old key as it is now. */
export type KeyRollPlan = (current: KeyMetadata) => {
  readonly newKey: KeyMetadata;
  readonly newKeyHash: string;
  readonly previousKeyExpiresAt: string;
  readonly event: ActivityEvent;
};

const METADATA_FIELDS = ['keyId', 'appUid', 'name', 'displayPrefix', 'createdAt', 'expiresAt', 'enabled', 'rolledFromKeyId', 'lastUsedAt'] as const;

function metadataOf(item: Record<string, unknown>): KeyMetadata {
  const metadata: Record<string, unknown> = {};
  for (const field of METADATA_FIELDS) if (item[field] !== undefined) metadata[field] = item[field];
  return metadata as unknown as KeyMetadata;
}

/** What both items carry: the metadata with `enabled` always set, but not lastUsedAt (the authorizer's, on the hash item). */
function stored(key: KeyMetadata): Record<string, unknown> {
  const { lastUsedAt: _lastUsedAt, ...rest } = key;
  return { ...rest, enabled: key.enabled ?? true };
}

interface StoredKey {
  readonly metadata: KeyMetadata;
  readonly keyHash: string;
  readonly revision: number | undefined;
}

const cursor = pageCursor('key#', 'list-keys');
/** Attempts of a read-check-write before giving up on a key that keeps changing under it. */
const CHANGE_ATTEMPTS = 3;

/**
 * Every write to key items goes through here. Two items per key in the keys table:
 * - `pk = hash#<keyHash>, sk = key`: the only item the authorizer reads;
 * - `pk = app#<appUid>, sk = key#<keyId>`: for listing, changing and deleting, with the hash and a `revision`.
 * Both are written, changed and removed together in one transaction with the
 * activity event that records the change. Changes are read-check-write: the
 * transaction holds only if the app item's `revision` is still the one read.
 */
export class KeyStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Writes both items and the event, or nothing. Fails if either item already exists. */
  async create(key: KeyMetadata, keyHash: string, event: ActivityEvent): Promise<void> {
    try {
      await this.transact([...this.newKeyPuts(key, keyHash), activityEventPut(this.tableName, key.appUid, event)]);
    } catch (error) {
      // A collision of 256-bit secrets or 119-bit ids is not going to happen; if it does, nothing was written.
      if (isConditionFailure(error)) throw new StoreUnavailable('key id or hash collision; nothing was written, try again');
      throw storeError('create-key', error);
    }
  }

  /** A page of an app's keys, each with its `lastUsedAt` from the hash item. */
  async list(appUid: string, limit: number, nextToken?: string): Promise<KeyPage> {
    const start = nextToken === undefined ? undefined : cursor.decode(nextToken);
    try {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :key)',
          ExpressionAttributeValues: { ':pk': appPartition(appUid), ':key': 'key#' },
          ConsistentRead: true,
          Limit: limit,
          ExclusiveStartKey: start === undefined ? undefined : { pk: appPartition(appUid), sk: start },
        }),
      );
      const items = page.Items ?? [];
      const lastUsed = await this.lastUsedAt(items.map((item) => ({ keyHash: String(item.keyHash), keyId: String(item.keyId) })));
      const keys = items.map((item) => {
        const at = lastUsed.get(String(item.keyId));
        return metadataOf(at === undefined ? item : { ...item, lastUsedAt: at });
      });
      return page.LastEvaluatedKey ? { keys, nextToken: cursor.encode(String(page.LastEvaluatedKey.sk)) } : { keys };
    } catch (error) {
      throw storeError('list-keys', error);
    }
  }

  /**
   * Renames, sets or clears the expiry, disables or enables: both items and the
   * event in one transaction. Returns the key as it is afterwards.
   */
  async change(appUid: string, keyId: string, plan: KeyChangePlan): Promise<KeyMetadata> {
    const { metadata, keyHash } = await this.readChangeWrite(appUid, keyId, 'update-key', (current) => {
      const planned = plan(current.metadata);
      if (!planned) return { result: { metadata: current.metadata, keyHash: current.keyHash } };
      return {
        items: [...this.changeUpdates(current, planned.changes), activityEventPut(this.tableName, appUid, planned.event)],
        result: { metadata: applyChanges(current.metadata, planned.changes), keyHash: current.keyHash },
      };
    });
    return this.withLastUsed(metadata, keyHash);
  }

  /**
   * Creates the new key, moves the old key's expiry to `previousKeyExpiresAt`
   * and records the roll, all in one transaction.
   */
  async roll(appUid: string, keyId: string, plan: KeyRollPlan): Promise<{ newKey: KeyMetadata; previousKeyExpiresAt: string }> {
    return this.readChangeWrite(appUid, keyId, 'roll-key', (current) => {
      const { newKey, newKeyHash, previousKeyExpiresAt, event } = plan(current.metadata);
      return {
        items: [
          ...this.newKeyPuts(newKey, newKeyHash),
          ...this.changeUpdates(current, { expiresAt: previousKeyExpiresAt }),
          activityEventPut(this.tableName, appUid, event),
        ],
        result: { newKey, previousKeyExpiresAt },
      };
    });
  }

  /** Removes both items and records the deletion in one transaction; afterwards the authorizer cannot find the key. */
  async delete(appUid: string, keyId: string, event: (current: KeyMetadata) => ActivityEvent): Promise<void> {
    await this.readChangeWrite(appUid, keyId, 'delete-key', (current) => ({
      items: [
        {
          Delete: {
            TableName: this.tableName,
            Key: appKeyItemKey(appUid, keyId),
            ConditionExpression: 'attribute_exists(pk) AND keyHash = :keyHash',
            ExpressionAttributeValues: { ':keyHash': current.keyHash },
          },
        },
        {
          Delete: {
            TableName: this.tableName,
            Key: keyHashItemKey(current.keyHash),
            ConditionExpression: 'attribute_exists(pk) AND keyId = :keyId',
            ExpressionAttributeValues: { ':keyId': keyId },
          },
        },
        activityEventPut(this.tableName, appUid, event(current.metadata)),
      ],
      result: undefined,
    }));
  }

  /**
   * Deletes the key whose hash item is `hash#<keyHash>` exactly as delete()
   * does, event included. Returns which key it was, or undefined when there is
   * no such key (never was, or already deleted).
   */
  async deleteByHash(keyHash: string, event: (current: KeyMetadata) => ActivityEvent): Promise<{ keyId: string; appUid: string } | undefined> {
    let item: Record<string, unknown> | undefined;
    try {
      ({ Item: item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: keyHashItemKey(keyHash), ConsistentRead: true })));
    } catch (error) {
      throw storeError('revoke-key', error);
    }
    if (!item) return undefined;
    const key = { keyId: String(item.keyId), appUid: String(item.appUid) };
    try {
      await this.delete(key.appUid, key.keyId, event);
    } catch (error) {
      // Deleted (or replaced) by someone else between our read and our write.
      if (error instanceof KeyNotFound) return undefined;
      throw error;
    }
    return key;
  }

  private newKeyPuts(key: KeyMetadata, keyHash: string): TransactItem[] {
    return [
      { Put: { TableName: this.tableName, Item: { ...keyHashItemKey(keyHash), ...stored(key) }, ConditionExpression: 'attribute_not_exists(pk)' } },
      {
        Put: {
          TableName: this.tableName,
          Item: { ...appKeyItemKey(key.appUid, key.keyId), ...stored(key), keyHash, revision: 1 },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ];
  }

  /** The same SET/REMOVE on both items; the app item's only if its revision is still the one read. */
  private changeUpdates(current: StoredKey, changes: KeyChanges): TransactItem[] {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    const removes: string[] = [];
    for (const [field, value] of Object.entries(changes) as [keyof KeyChanges, unknown][]) {
      if (value === undefined) continue;
      names[`#${field}`] = field;
      if (value === null) removes.push(`#${field}`);
      else {
        values[`:${field}`] = value;
        sets.push(`#${field} = :${field}`);
      }
    }
    const expression = (extraSet: string[]) =>
      [sets.length + extraSet.length > 0 ? `SET ${[...sets, ...extraSet].join(', ')}` : '', removes.length > 0 ? `REMOVE ${removes.join(', ')}` : '']
        .filter(Boolean)
        .join(' ');
    const { appUid, keyId } = current.metadata;
    const revisionHeld = current.revision === undefined ? 'attribute_not_exists(#revision)' : '#revision = :readRevision';
    return [
      {
        Update: {
          TableName: this.tableName,
          Key: appKeyItemKey(appUid, keyId),
          UpdateExpression: expression(['#revision = :nextRevision']),
          ConditionExpression: `attribute_exists(pk) AND ${revisionHeld}`,
          ExpressionAttributeNames: { ...names, '#revision': 'revision' },
          ExpressionAttributeValues: {
            ...values,
            ':nextRevision': (current.revision ?? 0) + 1,
            ...(current.revision === undefined ? {} : { ':readRevision': current.revision }),
          },
        },
      },
      {
        Update: {
          TableName: this.tableName,
          Key: keyHashItemKey(current.keyHash),
          UpdateExpression: expression([]),
          ConditionExpression: 'attribute_exists(pk) AND #keyId = :keyId',
          ExpressionAttributeNames: { ...names, '#keyId': 'keyId' },
          ExpressionAttributeValues: { ...values, ':keyId': keyId },
        },
      },
    ];
  }

  /**
   * Reads the app item, asks `write` what to write, and writes it in one
   * transaction. When a condition fails, the key changed or went away between
   * read and write: read again (KeyNotFound if it is gone) and retry.
   */
  private async readChangeWrite<T>(
    appUid: string,
    keyId: string,
    operation: string,
    write: (current: StoredKey) => { readonly items?: TransactItem[]; readonly result: T },
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const { items, result } = write(await this.read(appUid, keyId, operation));
      if (!items) return result;
      try {
        await this.transact(items);
        return result;
      } catch (error) {
        if (!isConditionFailure(error)) throw storeError(operation, error);
        if (attempt === CHANGE_ATTEMPTS) throw new StoreUnavailable(`${operation}: key ${keyId} kept changing while being written; nothing was written, try again`);
      }
    }
  }

  private async read(appUid: string, keyId: string, operation: string): Promise<StoredKey> {
    let item: Record<string, unknown> | undefined;
    try {
      ({ Item: item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: appKeyItemKey(appUid, keyId), ConsistentRead: true })));
    } catch (error) {
      throw storeError(operation, error);
    }
    if (!item) throw new KeyNotFound(keyId, appUid);
    return { metadata: metadataOf(item), keyHash: String(item.keyHash), revision: typeof item.revision === 'number' ? item.revision : undefined };
  }

  private async withLastUsed(metadata: KeyMetadata, keyHash: string): Promise<KeyMetadata> {
    try {
      const at = (await this.lastUsedAt([{ keyHash, keyId: metadata.keyId }])).get(metadata.keyId);
      return at === undefined ? metadata : { ...metadata, lastUsedAt: at };
    } catch (error) {
      throw storeError('read lastUsedAt', error);
    }
  }

  /** `lastUsedAt` by keyId, read from the hash items in batches of 100 (no scan). */
  private async lastUsedAt(keys: readonly { keyHash: string; keyId: string }[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Record<string, unknown>[] = keys.slice(i, i + 100).map(({ keyHash }) => keyHashItemKey(keyHash));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt === 5) throw new StoreUnavailable('list-keys: DynamoDB left hash items unread after 5 attempts; try again');
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
        const { Responses, UnprocessedKeys } = await this.db.send(
          new BatchGetCommand({
            RequestItems: {
              [this.tableName]: { Keys: pending, ProjectionExpression: 'keyId, lastUsedAt', ConsistentRead: true },
            },
          }),
        );
        for (const item of Responses?.[this.tableName] ?? []) {
          if (typeof item.lastUsedAt === 'string') found.set(String(item.keyId), item.lastUsedAt);
        }
        pending = UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return found;
  }

  private async transact(items: TransactItem[]): Promise<void> {
    await this.db.send(new TransactWriteCommand({ TransactItems: items }));
  }
}

function applyChanges(metadata: KeyMetadata, changes: KeyChanges): KeyMetadata {
  const next: Record<string, unknown> = { ...metadata };
  for (const [field, value] of Object.entries(changes)) {
    if (value === null) delete next[field];
    else if (value !== undefined) next[field] = value;
  }
  return next as unknown as KeyMetadata;
}
