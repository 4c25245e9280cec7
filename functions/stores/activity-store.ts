import { PutCommand, QueryCommand, type DynamoDBDocumentClient, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { activityExpiryEpoch, type ActivityAction, type ActivityEvent } from '../domain/activity';
import { storeError } from './dynamodb-errors';
import { pageCursor } from './page-cursor';
import { ACTIVITY_EVENT_SK_PREFIX, activityEventItemKey, appPartition } from '../../lib/shared/item-keys';
import { EVENT_TTL_ATTRIBUTE } from '../../lib/shared/tables';

/** One element of a TransactWriteItems through the document client. */
export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/**
 * The Put that records `event` in the keys table. Add it to the transaction
 * that makes the change, so the change and its event are written together or
 * not at all.
 */
export function activityEventPut(keysTable: string, appUid: string, event: ActivityEvent): TransactItem {
  return {
    Put: {
      TableName: keysTable,
      Item: { ...activityEventItemKey(appUid, event.at, event.eventId), ...event, [EVENT_TTL_ATTRIBUTE]: activityExpiryEpoch(event.at) },
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
}

export interface ActivityPage {
  readonly events: ActivityEvent[];
  readonly nextToken?: string;
}

const cursor = pageCursor(ACTIVITY_EVENT_SK_PREFIX, 'list-key-events');
/** Items one filtered Query examines, and Queries per call: a call reads at most 1,000 events however rare the key's are. */
const FILTERED_PAGE = 100;
const MAX_QUERIES = 10;

function eventOf(item: Record<string, unknown>): ActivityEvent {
  const { eventId, at, action, keyId, requestedBy, details } = item as Record<string, unknown>;
  return {
    eventId: String(eventId),
    at: String(at),
    action: action as ActivityAction,
    ...(typeof keyId === 'string' ? { keyId } : {}),
    ...(typeof requestedBy === 'string' ? { requestedBy } : {}),
    ...(details !== undefined && details !== null ? { details: details as Record<string, unknown> } : {}),
  };
}

export class ActivityStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Records an event on its own, for changes that are not one transaction in
   * the keys table (ending sessions and erasing users work on the sessions and
   * users tables, over several calls): written once the change is done.
   */
  async record(appUid: string, event: ActivityEvent, operation: string, outcome: string): Promise<void> {
    const { Put } = activityEventPut(this.tableName, appUid, event);
    try {
      await this.db.send(new PutCommand(Put!));
    } catch (error) {
      throw storeError(operation, error, outcome);
    }
  }

  /**
   * An app's events, newest first. With `keyId`, only the events about that
   * key (including the roll that made it); such a page may hold fewer than
   * `limit` events while `nextToken` says there is more to read.
   */
  async list(appUid: string, options: { keyId?: string; limit: number; nextToken?: string }): Promise<ActivityPage> {
    const { keyId, limit } = options;
    let start = options.nextToken === undefined ? undefined : cursor.decode(options.nextToken);
    const events: ActivityEvent[] = [];
    try {
      for (let queries = 0; queries < MAX_QUERIES; queries++) {
        const page = await this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :event)',
            ExpressionAttributeValues: { ':pk': appPartition(appUid), ':event': ACTIVITY_EVENT_SK_PREFIX, ...(keyId ? { ':keyId': keyId } : {}) },
            ...(keyId
              ? { FilterExpression: 'keyId = :keyId OR #details.#newKeyId = :keyId', ExpressionAttributeNames: { '#details': 'details', '#newKeyId': 'newKeyId' } }
              : {}),
            ScanIndexForward: false,
            ConsistentRead: true,
            Limit: keyId ? FILTERED_PAGE : limit - events.length,
            ExclusiveStartKey: start === undefined ? undefined : { pk: appPartition(appUid), sk: start },
          }),
        );
        const items = page.Items ?? [];
        for (const [index, item] of items.entries()) {
          events.push(eventOf(item));
          if (events.length === limit) {
            // Nothing after this one in the partition: no token. Otherwise resume right after it.
            const last = index === items.length - 1 && !page.LastEvaluatedKey;
            return last ? { events } : { events, nextToken: cursor.encode(String(item.sk)) };
          }
        }
        if (!page.LastEvaluatedKey) return { events };
        start = String(page.LastEvaluatedKey.sk);
      }
    } catch (error) {
      throw storeError('list-key-events', error);
    }
    return { events, nextToken: cursor.encode(start!) };
  }
}
