import { BatchGetCommand, GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { failedConditions, isConditionFailure, isTransactionConflict, storeError } from './dynamodb-errors';
import { activityEventPut, type TransactItem } from './activity-store';
import { decodeCursor, encodeCursor, pageCursor } from './page-cursor';
import type { ActivityEvent } from '../domain/activity';
import { ConfigurationError, KeyNotFound, RecordSealInvalid, StoreUnavailable } from '../domain/errors';
import { sealedKey, sealEncoding, SEAL_ATTRIBUTE, type Sealer } from '../domain/seal';
import { APPS_PARTITION, appKeyItemKey, appPartition, appRecordItemKey, keyHashItemKey } from '../../lib/shared/item-keys';

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

/** An app as the registry records it: when its first key was made and how many keys it has now. */
export interface AppRecord {
  readonly appUid: string;
  readonly createdAt: string;
  readonly keyCount: number;
}

export interface AppPage {
  readonly apps: AppRecord[];
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

function appOf(item: Record<string, unknown>): AppRecord {
  return { appUid: String(item.appUid), createdAt: String(item.createdAt), keyCount: Number(item.keyCount) };
}

/** Tries of a transaction that collides with another on the app's registry item. */
const CONFLICT_ATTEMPTS = 4;

/** What both items carry: the metadata with `enabled` always set, but not lastUsedAt (the authorizer's, on the hash item). */
function stored(key: KeyMetadata): Record<string, unknown> {
  const { lastUsedAt: _lastUsedAt, ...rest } = key;
  return { ...rest, enabled: key.enabled ?? true };
}

/** What a read-check-write writes (nothing without `items`) and returns. */
interface WritePlan<T> {
  readonly items?: TransactItem[];
  readonly result: T;
  readonly keyDelta?: 1 | -1;
}

interface StoredKey {
  readonly metadata: KeyMetadata;
  readonly keyHash: string;
  readonly revision: number | undefined;
}

/** A key about to be changed: its hash item's seal, verified against the app item's view of the key. */
interface SealedStoredKey extends StoredKey {
  readonly seal: string;
}

const cursor = pageCursor('key#', 'list-keys');
/** Attempts of a read-check-write before giving up on a key that keeps changing under it. */
const CHANGE_ATTEMPTS = 3;

/**
 * Every write to key items goes through here. Two items per key in the keys table:
 * - `pk = hash#<keyHash>, sk = key`: the only item the authorizer reads;
 * - `pk = app#<appUid>, sk = key#<keyId>`: for listing, changing and deleting, with the hash and a `revision`.
 * Both are written, changed and removed together in one transaction with the
 * activity event that records the change, and with the app's registry item
 * (`pk = apps, sk = app#<appUid>`) whose `keyCount` counts them. Changes are read-check-write: the
 * transaction holds only if the app item's `revision` is still the one read.
 * The hash item carries a seal (seal.ts) over what the authorizer decides
 * on; a write that changes those fields changes a key only if its seal still
 * verifies, and seals the result.
 */
export class KeyStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** Needed by create, roll and change (they write hash items); the others never read the pepper. */
    private readonly sealer?: Sealer,
  ) {}

  /**
   * Writes the key's two items and its event and counts it in the app
   * registry, all or nothing. Fails if either key item already exists.
   */
  async create(key: KeyMetadata, keyHash: string, event: ActivityEvent): Promise<void> {
    const puts = [...(await this.newKeyPuts(key, keyHash)), activityEventPut(this.tableName, key.appUid, event)];
    // The usual case, one round trip: the app is registered, so its count goes up by one.
    if (await this.writeWithRegistry('create-key', puts, this.countKeys(key.appUid, 1))) return;
    // The app's first key since the registry exists: register it, counting keys it had from before the registry.
    const existing = await this.existingKeys(key.appUid);
    const createdAt = existing.earliest !== undefined && existing.earliest < key.createdAt ? existing.earliest : key.createdAt;
    const record: AppRecord = { appUid: key.appUid, createdAt, keyCount: existing.count + 1 };
    const register: TransactItem = {
      Put: { TableName: this.tableName, Item: { ...appRecordItemKey(key.appUid), ...record }, ConditionExpression: 'attribute_not_exists(pk)' },
    };
    if (await this.writeWithRegistry('create-key', puts, register)) return;
    // A concurrent create registered it in between: count on the record it made.
    if (await this.writeWithRegistry('create-key', puts, this.countKeys(key.appUid, 1))) return;
    throw new StoreUnavailable('create-key: the app registry changed during the call; nothing was written, try again');
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
    const { metadata, keyHash } = await this.readChangeWrite(appUid, keyId, 'update-key', async (current: SealedStoredKey) => {
      const planned = plan(current.metadata);
      if (!planned) return { result: { metadata: current.metadata, keyHash: current.keyHash } };
      return {
        items: [...(await this.changeUpdates(current, planned.changes)), activityEventPut(this.tableName, appUid, planned.event)],
        result: { metadata: applyChanges(current.metadata, planned.changes), keyHash: current.keyHash },
      };
    }, (...args) => this.readSealed(...args));
    return this.withLastUsed(metadata, keyHash);
  }

  /**
   * Creates the new key, moves the old key's expiry to `previousKeyExpiresAt`
   * and records the roll, all in one transaction.
   */
  async roll(appUid: string, keyId: string, plan: KeyRollPlan): Promise<{ newKey: KeyMetadata; previousKeyExpiresAt: string }> {
    return this.readChangeWrite(appUid, keyId, 'roll-key', async (current: SealedStoredKey) => {
      const { newKey, newKeyHash, previousKeyExpiresAt, event } = plan(current.metadata);
      return {
        items: [
          ...(await this.newKeyPuts(newKey, newKeyHash)),
          ...(await this.changeUpdates(current, { expiresAt: previousKeyExpiresAt })),
          activityEventPut(this.tableName, appUid, event),
        ],
        result: { newKey, previousKeyExpiresAt },
        keyDelta: 1,
      };
    }, (...args) => this.readSealed(...args));
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
      keyDelta: -1,
    }), (...args) => this.read(...args)); // No seal needed: a tampered key can always be deleted.
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

  async getApp(appUid: string): Promise<AppRecord | undefined> {
    try {
      const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: appRecordItemKey(appUid), ConsistentRead: true }));
      return Item ? appOf(Item) : undefined;
    } catch (error) {
      throw storeError('get-app', error);
    }
  }

  async listApps(limit: number, nextToken?: string): Promise<AppPage> {
    const sk = nextToken === undefined ? undefined : decodeCursor(nextToken, 'app#', 'list-apps');
    try {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': APPS_PARTITION },
          ConsistentRead: true,
          Limit: limit,
          ExclusiveStartKey: sk === undefined ? undefined : { pk: APPS_PARTITION, sk },
        }),
      );
      const apps = (page.Items ?? []).map(appOf);
      return page.LastEvaluatedKey ? { apps, nextToken: encodeCursor(page.LastEvaluatedKey) } : { apps };
    } catch (error) {
      throw storeError('list-apps', error);
    }
  }

  private async newKeyPuts(key: KeyMetadata, keyHash: string): Promise<TransactItem[]> {
    const hashItem = { ...keyHashItemKey(keyHash), ...stored(key) };
    return [
      { Put: { TableName: this.tableName, Item: { ...hashItem, [SEAL_ATTRIBUTE]: await this.sealOf(keyHash, hashItem) }, ConditionExpression: 'attribute_not_exists(pk)' } },
      {
        Put: {
          TableName: this.tableName,
          Item: { ...appKeyItemKey(key.appUid, key.keyId), ...stored(key), keyHash, revision: 1 },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ];
  }

  /**
   * The same SET/REMOVE on both items; the app item's only if its revision is
   * still the one read, the hash item's only if its seal is still the one
   * verified, and the hash item sealed anew for what it holds afterwards.
   */
  private async changeUpdates(current: SealedStoredKey, changes: KeyChanges): Promise<TransactItem[]> {
    // What the hash item holds afterwards: its sealed fields are the app item's (readSealed checked), changed alike.
    const nextSeal = await this.sealOf(current.keyHash, applyChanges(current.metadata, changes));
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
          UpdateExpression: expression(['#seal = :seal']),
          ConditionExpression: 'attribute_exists(pk) AND #keyId = :keyId AND #seal = :readSeal',
          ExpressionAttributeNames: { ...names, '#keyId': 'keyId', '#seal': SEAL_ATTRIBUTE },
          ExpressionAttributeValues: { ...values, ':keyId': keyId, ':seal': nextSeal, ':readSeal': current.seal },
        },
      },
    ];
  }

  /**
   * Reads the app item, asks `write` what to write, and writes it in one
   * transaction. When a condition fails, the key changed or went away between
   * read and write: read again (KeyNotFound if it is gone) and retry.
   */
  private async readChangeWrite<T, K extends StoredKey>(
    appUid: string,
    keyId: string,
    operation: string,
    write: (current: K) => WritePlan<T> | Promise<WritePlan<T>>,
    read: (appUid: string, keyId: string, operation: string) => Promise<K>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const { items, result, keyDelta } = await write(await read(appUid, keyId, operation));
      if (!items) return result;
      try {
        // A key added or removed is counted in the app registry in the same transaction; an app from before the
        // registry is not registered yet, so there is nothing to count (its next create-key counts what is there).
        if (keyDelta === undefined || !(await this.writeWithRegistry(operation, items, this.countKeys(appUid, keyDelta)))) await this.transact(items);
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

  /**
   * read(), plus the hash item, whose seal must verify and whose sealed
   * fields must be the app item's: a key whose hash item was changed without
   * the pepper (or never sealed) is not changed further, only deleted.
   */
  private async readSealed(appUid: string, keyId: string, operation: string): Promise<SealedStoredKey> {
    const current = await this.read(appUid, keyId, operation);
    let item: Record<string, unknown> | undefined;
    try {
      ({ Item: item } = await this.db.send(
        new GetCommand({ TableName: this.tableName, Key: keyHashItemKey(current.keyHash), ConsistentRead: true }),
      ));
    } catch (error) {
      throw storeError(operation, error);
    }
    if (!item) throw new KeyNotFound(keyId, appUid);
    const seal = item[SEAL_ATTRIBUTE];
    if (seal === undefined) {
      throw new RecordSealInvalid(`key ${keyId} in app ${appUid} has no seal: it was written before records were sealed; run seal-records (keygate seal-records), then try again`);
    }
    const asStored = sealedKey(current.keyHash, item);
    if (sealEncoding(asStored) !== sealEncoding(sealedKey(current.keyHash, current.metadata)) || seal !== (await this.sealOf(current.keyHash, item))) {
      throw new RecordSealInvalid(`key ${keyId} in app ${appUid}: the seal of its hash item does not verify, so the item was changed by someone without the pepper; the authorizer refuses the key: delete it and create a new one`);
    }
    return { ...current, seal: seal as string };
  }

  private async sealOf(keyHash: string, fields: object): Promise<string> {
    if (!this.sealer) throw new ConfigurationError('this KeyStore was built without a sealer: it cannot write hash items');
    return this.sealer.seal(sealedKey(keyHash, fields));
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

  /**
   * One transaction. Every key write of an app also updates its registry
   * item, so concurrent writes for one app can collide (TransactionConflict,
   * which the SDK does not retry): retried here a few times with jitter.
   */
  private async transact(items: TransactItem[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.db.send(new TransactWriteCommand({ TransactItems: items }));
        return;
      } catch (error) {
        if (!isTransactionConflict(error) || attempt === CONFLICT_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * 2 ** attempt));
      }
    }
  }

  /** The registry update that adds `delta` to a registered app's key count (fails if the app is not registered). */
  private countKeys(appUid: string, delta: 1 | -1): TransactItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: appRecordItemKey(appUid),
        UpdateExpression: 'ADD keyCount :delta',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':delta': delta },
      },
    };
  }

  /** How many key items the app has and the earliest createdAt among them (consistent; once per app, on its first registered create). */
  private async existingKeys(appUid: string): Promise<{ count: number; earliest?: string }> {
    let count = 0;
    let earliest: string | undefined;
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    try {
      do {
        const page = await this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :key)',
            ExpressionAttributeValues: { ':pk': appPartition(appUid), ':key': 'key#' },
            ProjectionExpression: 'createdAt',
            ConsistentRead: true,
            ExclusiveStartKey,
          }),
        );
        for (const item of page.Items ?? []) {
          count += 1;
          const createdAt = String(item.createdAt);
          if (earliest === undefined || createdAt < earliest) earliest = createdAt;
        }
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
    } catch (error) {
      throw storeError('create-key', error);
    }
    return earliest === undefined ? { count } : { count, earliest };
  }

  /**
   * Runs `items` plus the registry item in one transaction. False when only
   * the registry item's condition failed (nothing was written); a failed
   * condition on a key item is a collision of 256-bit secrets or 119-bit ids,
   * which does not happen, or (for delete) a concurrent delete: thrown for the caller.
   */
  private async writeWithRegistry(operation: string, items: TransactItem[], registry: TransactItem): Promise<boolean> {
    try {
      await this.transact([...items, registry]);
      return true;
    } catch (error) {
      const failed = failedConditions(error);
      if (failed.length === 1 && failed[0] === items.length) return false;
      if (failed.length > 0 && operation === 'create-key') throw new StoreUnavailable('key id or hash collision; nothing was written, try again');
      if (failed.length > 0) throw error;
      throw storeError(operation, error);
    }
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
