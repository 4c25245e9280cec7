import { BatchGetCommand, GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { failedConditions, isConditionFailure, isTransactionConflict, storeError } from './dynamodb-errors';
import { activityEventPut, type TransactItem } from './activity-store';
import { pageCursor } from './page-cursor';
import type { ActivityEvent } from '../domain/activity';
import { ConfigurationError, KeyAlreadyExists, KeyNotFound, RecordSealInvalid, StoreUnavailable } from '../domain/errors';
import { sealedApp, sealedKey, sealEncoding, SEAL_ATTRIBUTE, type Sealer } from '../domain/seal';
import { APPS_PARTITION, appKeyItemKey, appPartition, appRecordItemKey, keyHashItemKey } from '../../lib/shared/item-keys';
import { SEALED_FIELDS } from '../../lib/shared/seals';

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
  /** Set on keys import-keys stored: from the plaintext `key` or from another system's `keyHash`. */
  readonly importedFrom?: 'key' | 'keyHash';
}

/** The hash item as the API-key authorizer reads it: the metadata plus the app's gateway key, when it has a plan. */
export interface KeyHashRecord extends KeyMetadata {
  /** Value of the app's gateway API key: the authorizer returns it as `usageIdentifierKey`. */
  readonly gatewayKey?: string;
}

/**
 * The app's gateway key as create-key read it from the app registry. The key
 * is written only if the app still has exactly this gateway key (none:
 * `undefined`), so a concurrent set-app-plan cannot leave it with a stale one.
 */
export interface ExpectedGatewayKey {
  readonly gatewayKey: string | undefined;
}

/** The app's gateway key changed between create-key reading it and writing the key; nothing was written. */
export class AppPlanChanged extends Error {
  override readonly name = 'AppPlanChanged';
}

export interface KeyPage {
  readonly keys: KeyMetadata[];
  readonly nextToken?: string;
}

/**
 * An app as the registry records it: when it was registered (by its first key,
 * dated by its oldest, or by set-app-plan), how many keys it has now, and,
 * when it is on a plan, the plan and its gateway API key.
 */
export interface AppRecord {
  readonly appUid: string;
  readonly createdAt: string;
  readonly keyCount: number;
  readonly plan?: string;
  /** API Gateway's id of the app's gateway API key. */
  readonly gatewayKeyId?: string;
  /** That key's value, also copied onto each of the app's hash items for the authorizer. */
  readonly gatewayKey?: string;
}

/** What set-app-plan records on the registry item. */
export interface PlanAssignment {
  readonly plan: string;
  readonly gatewayKeyId: string;
  readonly gatewayKey: string;
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

const METADATA_FIELDS = ['keyId', 'appUid', 'name', 'displayPrefix', 'createdAt', 'expiresAt', 'enabled', 'rolledFromKeyId', 'lastUsedAt', 'importedFrom'] as const;

function metadataOf(item: Record<string, unknown>): KeyMetadata {
  const metadata: Record<string, unknown> = {};
  for (const field of METADATA_FIELDS) if (item[field] !== undefined) metadata[field] = item[field];
  return metadata as unknown as KeyMetadata;
}

function appOf(item: Record<string, unknown>): AppRecord {
  const text = (name: 'plan' | 'gatewayKeyId' | 'gatewayKey') => (typeof item[name] === 'string' ? { [name]: item[name] } : {});
  return {
    appUid: String(item.appUid),
    createdAt: String(item.createdAt),
    keyCount: Number(item.keyCount),
    ...text('plan'),
    ...text('gatewayKeyId'),
    ...text('gatewayKey'),
  };
}

/** Hash items updated at once while an app's gateway key is set on its keys. */
const HASH_ITEM_CONCURRENCY = 8;

/** Items a created key writes: hash item, app item, event (see newKeyPuts). */
const ITEMS_PER_CREATED_KEY = 3;

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
  readonly keyDelta?: number;
}

interface StoredKey {
  readonly metadata: KeyMetadata;
  readonly keyHash: string;
  readonly revision: number | undefined;
}

/** A key about to be changed: its hash item's seal, verified against the app item's view of the key, and what else the hash item carries. */
interface SealedStoredKey extends StoredKey {
  readonly seal: string;
  readonly gatewayKey: string | undefined;
  readonly lastUsedAt?: string;
}

const cursor = pageCursor('key#', 'list-keys');
const appCursor = pageCursor('app#', 'list-apps');
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
    /** Needed by the writers of hash items (create, import, roll, change, gateway keys) and of plans, and to check an app's plan (getApp); the others never read the pepper. */
    private readonly sealer?: Sealer,
  ) {}

  /**
   * Writes the key's two items and its event and counts it in the app
   * registry, all or nothing. Fails if either key item already exists. With
   * `expected` (plans on), the hash item carries the app's gateway key and the
   * write holds only if the registry still has that gateway key (AppPlanChanged otherwise).
   */
  async create(key: KeyMetadata, keyHash: string, event: ActivityEvent, expected?: ExpectedGatewayKey): Promise<void> {
    const items = [...(await this.newKeyPuts(key, keyHash, expected?.gatewayKey)), activityEventPut(this.tableName, key.appUid, event)];
    try {
      await this.createCounted('create-key', key.appUid, key.createdAt, items, 1, expected);
    } catch (error) {
      // A key item that exists already: a collision of 256-bit secrets or 119-bit ids, which does not happen.
      if (isConditionFailure(error)) throw new StoreUnavailable('key id or hash collision; nothing was written, try again');
      throw error;
    }
  }

  /**
   * Stores several keys of one app, each with its event, in one transaction
   * with the app's key count: all of them or none. A hash item that already
   * exists means that key is stored already (KeyAlreadyExists, with its
   * position); at most 33 keys (3 items each, and the registry item, within
   * DynamoDB's 100 per transaction). `expected` as in create().
   */
  async createMany(
    appUid: string,
    keys: readonly { readonly metadata: KeyMetadata; readonly keyHash: string; readonly event: ActivityEvent }[],
    expected?: ExpectedGatewayKey,
  ): Promise<void> {
    const perKey = await Promise.all(
      keys.map(async ({ metadata, keyHash, event }) => [...(await this.newKeyPuts(metadata, keyHash, expected?.gatewayKey)), activityEventPut(this.tableName, appUid, event)]),
    );
    const items = perKey.flat();
    try {
      await this.createCounted('import-keys', appUid, keys[0]!.metadata.createdAt, items, keys.length, expected);
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // Items go in threes, hash item first: a failed hash item is a stored key, anything else an id collision.
      const existing = failedConditions(error).find((index) => index < items.length && index % ITEMS_PER_CREATED_KEY === 0);
      if (existing !== undefined) throw new KeyAlreadyExists(existing / ITEMS_PER_CREATED_KEY, 'the key is already stored; nothing was written');
      throw new StoreUnavailable('key id collision; nothing was written, try again');
    }
  }

  /** Writes `items` (new keys) and adds `count` to the app's key count, registering the app on its first keys. */
  private async createCounted(operation: string, appUid: string, createdAt: string, items: TransactItem[], count: number, expected?: ExpectedGatewayKey): Promise<void> {
    // The usual case, one round trip: the app is registered, so its count goes up.
    if (await this.writeWithRegistry(operation, items, this.countKeys(appUid, count, expected))) return;
    // The app's first keys since the registry exists: register it, counting keys it had from before the registry.
    // (An app with a gateway key is registered already: only its gateway key can have changed.)
    if (expected?.gatewayKey === undefined) {
      const register: TransactItem = {
        Put: { TableName: this.tableName, Item: await this.registration(appUid, createdAt, count), ConditionExpression: 'attribute_not_exists(pk)' },
      };
      if (await this.writeWithRegistry(operation, items, register)) return;
    }
    // A concurrent create registered it in between: count on the record it made.
    if (await this.writeWithRegistry(operation, items, this.countKeys(appUid, count, expected))) return;
    if (expected) throw new AppPlanChanged(`the plan of app ${appUid} changed while ${operation} was writing`);
    throw new StoreUnavailable(`${operation}: the app registry changed during the call; nothing was written, try again`);
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
    const { metadata, lastUsedAt } = await this.readChangeWrite<{ metadata: KeyMetadata; lastUsedAt?: string }, SealedStoredKey>(appUid, keyId, 'update-key', (...args) => this.readSealed(...args), async (current) => {
      const planned = plan(current.metadata);
      // lastUsedAt from the hash item read to check its seal: no second read (and no BatchGetItem for update-key's role).
      if (!planned) return { result: current };
      return {
        items: [...(await this.changeUpdates(current, planned.changes)), activityEventPut(this.tableName, appUid, planned.event)],
        result: { metadata: applyChanges(current.metadata, planned.changes), lastUsedAt: current.lastUsedAt },
      };
    });
    return lastUsedAt === undefined ? metadata : { ...metadata, lastUsedAt };
  }

  /**
   * Creates the new key, moves the old key's expiry to `previousKeyExpiresAt`
   * and records the roll, all in one transaction. The new key's hash item
   * carries the app's gateway key, held by the registry item's condition as in create.
   */
  async roll(appUid: string, keyId: string, plan: KeyRollPlan): Promise<{ newKey: KeyMetadata; previousKeyExpiresAt: string }> {
    return this.readChangeWrite(appUid, keyId, 'roll-key', (...args) => this.readSealed(...args), async (current, app) => {
      const { newKey, newKeyHash, previousKeyExpiresAt, event } = plan(current.metadata);
      return {
        items: [
          ...(await this.newKeyPuts(newKey, newKeyHash, app?.gatewayKey)),
          ...(await this.changeUpdates(current, { expiresAt: previousKeyExpiresAt })),
          activityEventPut(this.tableName, appUid, event),
        ],
        result: { newKey, previousKeyExpiresAt },
        keyDelta: 1,
      };
    }, { readApp: true });
  }

  /** Removes both items and records the deletion in one transaction; afterwards the authorizer cannot find the key. */
  async delete(appUid: string, keyId: string, event: (current: KeyMetadata) => ActivityEvent): Promise<void> {
    // No seal needed: a tampered key can always be deleted.
    await this.readChangeWrite(appUid, keyId, 'delete-key', (...args) => this.read(...args), (current) => ({
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
    }));
  }

  /**
   * Deletes the key whose hash item is `hash#<keyHash>` exactly as delete()
   * does, event included. Returns which key it was, or undefined when there is
   * no such key (never was, or already deleted).
   */
  async deleteByHash(keyHash: string, event: (current: KeyMetadata) => ActivityEvent): Promise<{ keyId: string; appUid: string } | undefined> {
    const item = await this.hashItem(keyHash, 'revoke-key');
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

  /**
   * The app's registry record. With a sealer (the functions that write keys
   * or plans), its plan fields are believed only if their seal verifies
   * (RecordSealInvalid otherwise): they decide which gateway key new keys are
   * sealed with, and which gateway key a plan change deletes.
   */
  async getApp(appUid: string): Promise<AppRecord | undefined> {
    let item: Record<string, unknown> | undefined;
    try {
      ({ Item: item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: appRecordItemKey(appUid), ConsistentRead: true })));
    } catch (error) {
      throw storeError('get-app', error);
    }
    if (!item) return undefined;
    const app = appOf(item);
    const plain = authorizerView(item);
    if (this.sealer && SEALED_FIELDS.app.some((field) => field in plain)) {
      // keygate writes all three or none: a part of a plan, sealed or not, is not one.
      const check = SEALED_FIELDS.app.every((field) => typeof plain[field] === 'string') ? await this.sealer.check(sealedApp(appUid, plain), plain[SEAL_ATTRIBUTE]) : 'wrong';
      if (check !== 'sealed') {
        throw new RecordSealInvalid(
          check === 'unsealed'
            ? `app ${appUid}: its plan was recorded before records were sealed; run seal-records (keygate seal-records), then try again`
            : `app ${appUid}: the seal of its plan (plan, gateway key) does not verify, so its registry item was changed by someone without the pepper; nothing was written. Look into it, then remove plan, gatewayKeyId, gatewayKey and seal from the item (apps / app#${appUid}) and set its plan again`,
        );
      }
    }
    return app;
  }

  async listApps(limit: number, nextToken?: string): Promise<AppPage> {
    const sk = nextToken === undefined ? undefined : appCursor.decode(nextToken);
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
      return page.LastEvaluatedKey ? { apps, nextToken: appCursor.encode(String(page.LastEvaluatedKey.sk)) } : { apps };
    } catch (error) {
      throw storeError('list-apps', error);
    }
  }

  /**
   * Registers an app that has none (set-app-plan before or without keys),
   * counting keys it has from before the registry; returns the record, also
   * when a concurrent call registered it first.
   */
  async registerApp(appUid: string, now: Date): Promise<AppRecord> {
    try {
      const Item = await this.registration(appUid, now.toISOString(), 0);
      await this.db.send(new PutCommand({ TableName: this.tableName, Item, ConditionExpression: 'attribute_not_exists(pk)' }));
      return appOf(Item);
    } catch (error) {
      if (!isConditionFailure(error)) throw storeError('register app', error);
    }
    const app = await this.getApp(appUid);
    if (!app) throw new StoreUnavailable(`app ${appUid} could not be registered; try again`);
    return app;
  }

  /**
   * Puts a registered app on a plan with its gateway key. Undefined when the
   * app's gateway key is no longer `expectedKeyId` (none: `undefined`):
   * someone else changed it, nothing was written.
   */
  async setAppPlan(appUid: string, assignment: PlanAssignment, expectedKeyId: string | undefined): Promise<AppRecord | undefined> {
    const seal = await this.requireSealer().seal(sealedApp(appUid, assignment));
    return this.updateApp('set app plan', appUid, expectedKeyId, {
      UpdateExpression: 'SET #plan = :plan, gatewayKeyId = :gatewayKeyId, gatewayKey = :gatewayKey, #seal = :seal',
      ExpressionAttributeValues: { ':plan': assignment.plan, ':gatewayKeyId': assignment.gatewayKeyId, ':gatewayKey': assignment.gatewayKey, ':seal': seal },
    });
  }

  /** Takes the app off its plan and forgets its gateway key; undefined when that key is no longer `expectedKeyId`. */
  async clearAppPlan(appUid: string, expectedKeyId: string): Promise<AppRecord | undefined> {
    return this.updateApp('clear app plan', appUid, expectedKeyId, { UpdateExpression: 'REMOVE #plan, gatewayKeyId, gatewayKey, #seal' });
  }

  /**
   * Sets `gatewayKey` on the hash item of every key the app has (removes it
   * with `undefined`), so the authorizer finds it in its one read. Reads the
   * app's key items with a consistent Query: a key created or rolled before the
   * registry changed is found here; one written after copies the new value
   * itself. Returns how many hash items it updated.
   *
   * Each hash item is resealed for its new gateway key, and only if its seal
   * still verifies (the write is conditioned on the seal read). An item with
   * no seal yet (from before sealed records) gets the key and stays unsealed
   * for seal-records; one whose seal is wrong is left as it is (the
   * authorizer refuses it anyway) and not counted.
   */
  async setGatewayKeyOnKeys(appUid: string, gatewayKey: string | undefined): Promise<number> {
    const hashes = (await this.appKeyItems(appUid, 'keyHash', 'list app keys')).flatMap((item) => (typeof item.keyHash === 'string' ? [item.keyHash] : []));
    let updated = 0;
    const update = async (keyHash: string) => {
      for (let attempt = 1; ; attempt++) {
        const item = await this.hashItem(keyHash, 'set gateway key on keys');
        // Deleted since the Query: nothing left to update.
        if (!item) return;
        const readSeal = item[SEAL_ATTRIBUTE];
        const check = await this.requireSealer().check(sealedKey(keyHash, item), readSeal);
        if (check === 'wrong') return;
        const { gatewayKey: _old, ...rest } = item;
        const nextSeal = check === 'sealed' ? await this.sealOf(keyHash, gatewayKey === undefined ? rest : { ...rest, gatewayKey }) : undefined;
        const sets = [...(gatewayKey === undefined ? [] : ['gatewayKey = :gatewayKey']), ...(nextSeal === undefined ? [] : ['#seal = :seal'])];
        const values = {
          ...(gatewayKey !== undefined && { ':gatewayKey': gatewayKey }),
          ...(nextSeal !== undefined && { ':seal': nextSeal }),
          ...(readSeal !== undefined && { ':readSeal': readSeal }),
        };
        try {
          await this.db.send(
            new UpdateCommand({
              TableName: this.tableName,
              Key: keyHashItemKey(keyHash),
              UpdateExpression: [sets.length > 0 ? `SET ${sets.join(', ')}` : '', gatewayKey === undefined ? 'REMOVE gatewayKey' : ''].filter(Boolean).join(' '),
              ConditionExpression: readSeal === undefined ? 'attribute_exists(pk) AND attribute_not_exists(#seal)' : 'attribute_exists(pk) AND #seal = :readSeal',
              ExpressionAttributeNames: { '#seal': SEAL_ATTRIBUTE },
              // DynamoDB refuses an empty map: clearing the key of an unsealed item names no value.
              ...(Object.keys(values).length > 0 && { ExpressionAttributeValues: values }),
            }),
          );
          updated += 1;
          return;
        } catch (error) {
          if (!isConditionFailure(error)) throw storeError('set gateway key on keys', error);
          // Changed (or deleted) since it was read: read it again.
          if (attempt === CHANGE_ATTEMPTS) throw new StoreUnavailable(`set gateway key on keys: a key of app ${appUid} kept changing while being written; call again`);
        }
      }
    };
    for (let next = 0; next < hashes.length; next += HASH_ITEM_CONCURRENCY) {
      await Promise.all(hashes.slice(next, next + HASH_ITEM_CONCURRENCY).map(update));
    }
    return updated;
  }

  /** One conditional update of a registered app's plan fields; undefined when its gateway key id is no longer `expectedKeyId`. */
  private async updateApp(
    operation: string,
    appUid: string,
    expectedKeyId: string | undefined,
    update: { UpdateExpression: string; ExpressionAttributeValues?: Record<string, unknown> },
  ): Promise<AppRecord | undefined> {
    try {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: appRecordItemKey(appUid),
          UpdateExpression: update.UpdateExpression,
          ConditionExpression: expectedKeyId === undefined ? 'attribute_exists(pk) AND attribute_not_exists(gatewayKeyId)' : 'gatewayKeyId = :expected',
          ExpressionAttributeNames: { '#plan': 'plan', '#seal': SEAL_ATTRIBUTE },
          ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ...(expectedKeyId !== undefined && { ':expected': expectedKeyId }) },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return appOf(Attributes ?? {});
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw storeError(operation, error);
    }
  }

  /** A key's two items; the hash item also carries the app's gateway key, when it has one, and its seal. */
  private async newKeyPuts(key: KeyMetadata, keyHash: string, gatewayKey?: string): Promise<TransactItem[]> {
    const hashItem = { ...keyHashItemKey(keyHash), ...stored(key), ...(gatewayKey !== undefined && { gatewayKey }) };
    return [
      {
        Put: {
          TableName: this.tableName,
          Item: { ...hashItem, [SEAL_ATTRIBUTE]: await this.sealOf(keyHash, hashItem) },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
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
    // What the hash item holds afterwards: its sealed fields are the app item's (readSealed checked) and its gateway key, changed alike.
    const nextSeal = await this.sealOf(current.keyHash, { ...applyChanges(current.metadata, changes), gatewayKey: current.gatewayKey });
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
    read: (appUid: string, keyId: string, operation: string) => Promise<K>,
    write: (current: K, app: AppRecord | undefined) => WritePlan<T> | Promise<WritePlan<T>>,
    options: { readonly readApp?: boolean } = {},
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const current = await read(appUid, keyId, operation);
      // Read after the key: a registry change between the two reads is caught by the registry item's condition.
      const app = options.readApp ? await this.getApp(appUid) : undefined;
      const { items, result, keyDelta } = await write(current, app);
      if (!items) return result;
      try {
        // A key added or removed is counted in the app registry in the same transaction; an app from before the
        // registry is not registered yet, so there is nothing to count (its next create-key counts what is there).
        if (keyDelta === undefined) await this.transact(items);
        else if (options.readApp) await this.transact([...items, app ? this.countKeys(appUid, keyDelta, { gatewayKey: app.gatewayKey }) : this.notRegistered(appUid)]);
        // Held while the app is still unregistered: a create that registers it meanwhile counts this key, so retry and count.
        else if (!(await this.writeWithRegistry(operation, items, this.countKeys(appUid, keyDelta)))) await this.transact([...items, this.notRegistered(appUid)]);
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
    const item = await this.hashItem(current.keyHash, operation);
    if (!item) throw new KeyNotFound(keyId, appUid);
    const seal = item[SEAL_ATTRIBUTE];
    const check = await this.requireSealer().check(sealedKey(current.keyHash, item), seal);
    if (check === 'unsealed') {
      throw new RecordSealInvalid(`key ${keyId} in app ${appUid} has no seal: it was written before records were sealed; run seal-records (keygate seal-records), then try again`);
    }
    if (check === 'wrong') {
      throw new RecordSealInvalid(`key ${keyId} in app ${appUid}: the seal of its hash item does not verify, so the item was changed by someone without the pepper; the authorizer refuses the key: delete it and create a new one`);
    }
    const gatewayKey = typeof item.gatewayKey === 'string' ? item.gatewayKey : undefined;
    if (sealEncoding(sealedKey(current.keyHash, item)) !== sealEncoding(sealedKey(current.keyHash, { ...current.metadata, gatewayKey }))) {
      throw new RecordSealInvalid(
        `key ${keyId} in app ${appUid}: its key item (app#${appUid} / key#${keyId}) does not match its hash item, whose seal verifies: the key item was changed outside keygate; the authorizer goes by the hash item. Delete the key and create a new one`,
      );
    }
    return { ...current, seal: seal as string, gatewayKey, ...(typeof item.lastUsedAt === 'string' && { lastUsedAt: item.lastUsedAt }) };
  }

  /** A hash item as the authorizers see it (see authorizerView). */
  private async hashItem(keyHash: string, operation: string): Promise<Record<string, unknown> | undefined> {
    let item: Record<string, unknown> | undefined;
    try {
      ({ Item: item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: keyHashItemKey(keyHash), ConsistentRead: true })));
    } catch (error) {
      throw storeError(operation, error);
    }
    return item && authorizerView(item);
  }

  private async sealOf(keyHash: string, fields: object): Promise<string> {
    return this.requireSealer().seal(sealedKey(keyHash, fields));
  }

  private requireSealer(): Sealer {
    if (!this.sealer) throw new ConfigurationError('this KeyStore was built without a sealer: it cannot write hash items');
    return this.sealer;
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

  /**
   * The registry update that adds `delta` to a registered app's key count
   * (fails if the app is not registered); with `expected`, also if the app's
   * gateway key is no longer the one the new key's hash item carries.
   */
  private countKeys(appUid: string, delta: number, expected?: ExpectedGatewayKey): TransactItem {
    const gatewayKey = expected?.gatewayKey;
    const held = expected === undefined ? '' : gatewayKey === undefined ? ' AND attribute_not_exists(gatewayKey)' : ' AND gatewayKey = :gatewayKey';
    return {
      Update: {
        TableName: this.tableName,
        Key: appRecordItemKey(appUid),
        UpdateExpression: 'ADD keyCount :delta',
        ConditionExpression: `attribute_exists(pk)${held}`,
        ExpressionAttributeValues: { ':delta': delta, ...(gatewayKey !== undefined && { ':gatewayKey': gatewayKey }) },
      },
    };
  }

  /** Holds a write to an app from before the registry only while it is still unregistered (and so has no gateway key). */
  private notRegistered(appUid: string): TransactItem {
    return { ConditionCheck: { TableName: this.tableName, Key: appRecordItemKey(appUid), ConditionExpression: 'attribute_not_exists(pk)' } };
  }

  /** The registry item of an app registered now: dated by its oldest key, counting the keys it has plus `added`. */
  private async registration(appUid: string, now: string, added: number): Promise<Record<string, unknown>> {
    const existing = await this.existingKeys(appUid);
    const createdAt = existing.earliest !== undefined && existing.earliest < now ? existing.earliest : now;
    const record: AppRecord = { appUid, createdAt, keyCount: existing.count + added };
    return { ...appRecordItemKey(appUid), ...record };
  }

  /** How many key items the app has and the earliest createdAt among them (consistent; once per app, when it is registered). */
  private async existingKeys(appUid: string): Promise<{ count: number; earliest?: string }> {
    const createdAts = (await this.appKeyItems(appUid, 'createdAt', 'register app')).map((item) => String(item.createdAt)).sort();
    return createdAts.length === 0 ? { count: 0 } : { count: createdAts.length, earliest: createdAts[0]! };
  }

  /** One attribute of every key item of an app, every page of a consistent Query (no scan). */
  private async appKeyItems(appUid: string, attribute: 'createdAt' | 'keyHash', operation: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    try {
      do {
        const page = await this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :key)',
            ExpressionAttributeValues: { ':pk': appPartition(appUid), ':key': 'key#' },
            ProjectionExpression: attribute,
            ConsistentRead: true,
            ExclusiveStartKey,
          }),
        );
        items.push(...(page.Items ?? []));
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
    } catch (error) {
      throw storeError(operation, error);
    }
    return items;
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
      if (failed.length > 0) throw error;
      throw storeError(operation, error);
    }
  }

}

/**
 * An item as the authorizers' client reads it (aws-http/attribute-values.ts):
 * values of a type it does not read (sets, binary) count as absent, so a seal
 * check here reaches the authorizer's verdict. A seal of such a type is kept:
 * not a string, it is a wrong seal, not a missing one.
 */
function authorizerView(item: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(item).filter(([name, value]) => name === SEAL_ATTRIBUTE || !(value instanceof Set || value instanceof Uint8Array)));
}

function applyChanges(metadata: KeyMetadata, changes: KeyChanges): KeyMetadata {
  const next: Record<string, unknown> = { ...metadata };
  for (const [field, value] of Object.entries(changes)) {
    if (value === null) delete next[field];
    else if (value !== undefined) next[field] = value;
  }
  return next as unknown as KeyMetadata;
}
