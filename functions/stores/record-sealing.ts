import { QueryCommand, ScanCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ValidationError } from '../domain/errors';
import { APPS_PARTITION } from '../../lib/shared/item-keys';
import { SEAL_ATTRIBUTE, SEALED_FIELDS, type SealedKind } from '../../lib/shared/seals';
import { unmarshallItem, type Item, type PlainItem } from '../aws-http/attribute-values';
import { isConditionFailure, storeError } from './dynamodb-errors';

/**
 * Where each kind of sealed item lives (item-keys.ts): `hash#… / key` in the
 * keys table and `token#… / session` in the sessions table, each in a
 * partition of its own (found by a Scan); app registry items in the keys
 * table's one `apps` partition (a Query), `app#<appUid>` naming the app.
 */
const SEALED_ITEMS: Record<SealedKind, { readonly hashOf: (pk: string, sk: string) => string; readonly partition?: string; readonly prefix?: string; readonly sk?: string }> = {
  key: { prefix: 'hash#', sk: 'key', hashOf: (pk) => pk.slice('hash#'.length) },
  session: { prefix: 'token#', sk: 'session', hashOf: (pk) => pk.slice('token#'.length) },
  app: { partition: APPS_PARTITION, hashOf: (_pk, sk) => sk.slice('app#'.length) },
};

/** A sealed item as the authorizer sees it (aws-http's plain view), plus what it takes to write its seal safely. */
export interface HashItem {
  /** Its own hash (its pk), or for an app registry item the appUid. */
  readonly hash: string;
  /** The attributes without pk/sk, as the authorizer reads them. */
  readonly item: Readonly<PlainItem>;
  /** The raw sealed attributes, to condition the write on them being unchanged. */
  readonly raw: Readonly<Record<string, AttributeValue>>;
}

/** A table's primary key, where a Scan resumes. */
export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

export interface HashItemPage {
  readonly items: HashItem[];
  /** Where the next page starts; undefined after the last. */
  readonly next?: ItemKey;
}

/**
 * seal-records' reads and writes. A Scan is the only way to find every hash
 * item (each has its own partition); app plans live in one partition, read
 * with a Query. Either reads only the item key, the seal and the sealed
 * fields (the function may read nothing else), and the write sets only the
 * seal, on an item whose sealed fields are still those read.
 */
export class RecordSealingStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tables: Readonly<Record<SealedKind, string | undefined>>,
  ) {}

  /** Whether the kind's table is there (the sessions table is not when sessions are off). */
  has(kind: SealedKind): boolean {
    return this.tables[kind] !== undefined;
  }

  /**
   * One page of the kind's items; `limit` items are read (a Scan counts the
   * table's other items too). App registry items only with a plan: one without
   * has nothing sealed.
   */
  async page(kind: SealedKind, limit: number, start?: ItemKey): Promise<HashItemPage> {
    const { partition, prefix, sk, hashOf } = SEALED_ITEMS[kind];
    const attributes = ['pk', 'sk', SEAL_ATTRIBUTE, ...SEALED_FIELDS[kind]];
    const common = {
      TableName: this.table(kind),
      Select: 'SPECIFIC_ATTRIBUTES' as const,
      ProjectionExpression: attributes.map((_, i) => `#a${i}`).join(', '),
      ExpressionAttributeNames: Object.fromEntries(attributes.map((name, i) => [`#a${i}`, name])),
      ConsistentRead: true,
      Limit: limit,
      ExclusiveStartKey: start && { pk: { S: start.pk }, sk: { S: start.sk } },
    };
    const planFields = SEALED_FIELDS[kind].map((_, i) => `attribute_exists(#a${i + 3})`).join(' OR ');
    try {
      const page = await this.client.send(
        partition === undefined
          ? new ScanCommand({ ...common, FilterExpression: 'begins_with(#a0, :prefix) AND #a1 = :sk', ExpressionAttributeValues: { ':prefix': { S: prefix! }, ':sk': { S: sk! } } })
          : new QueryCommand({ ...common, KeyConditionExpression: '#a0 = :pk', FilterExpression: planFields, ExpressionAttributeValues: { ':pk': { S: partition } } }),
      );
      const items = (page.Items ?? []).map((raw) => {
        const { pk, sk: itemSk, ...item } = unmarshallItem(raw as Item);
        return { hash: hashOf(String(pk), String(itemSk)), item, raw };
      });
      const last = page.LastEvaluatedKey;
      return last ? { items, next: { pk: String(last.pk?.S), sk: String(last.sk?.S) } } : { items };
    } catch (error) {
      throw storeError('seal-records', error, 'seals written so far stay; running seal-records again is safe');
    }
  }

  /**
   * Writes `seal` on an item that has none, if its sealed fields are still
   * exactly those read (raw, type included). False when the item changed, was
   * sealed or went away in between: it is then left as it is.
   */
  async seal(kind: SealedKind, found: HashItem, seal: string): Promise<boolean> {
    const names: Record<string, string> = { '#pk': 'pk', '#seal': SEAL_ATTRIBUTE };
    const values: Record<string, AttributeValue> = { ':seal': { S: seal } };
    const unchanged = SEALED_FIELDS[kind].map((field, i) => {
      names[`#f${i}`] = field;
      const value = found.raw[field];
      if (value === undefined) return `attribute_not_exists(#f${i})`;
      values[`:f${i}`] = value;
      return `#f${i} = :f${i}`;
    });
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table(kind),
          Key: { pk: found.raw.pk!, sk: found.raw.sk! },
          UpdateExpression: 'SET #seal = :seal',
          ConditionExpression: ['attribute_exists(#pk)', 'attribute_not_exists(#seal)', ...unchanged].join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'NONE',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw storeError('seal-records', error, 'seals written so far stay; running seal-records again is safe');
    }
  }

  private table(kind: SealedKind): string {
    const name = this.tables[kind];
    if (name === undefined) throw new ValidationError('nextToken', `nextToken points into the ${kind} table, which this deployment does not have`);
    return name;
  }
}
