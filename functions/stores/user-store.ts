import { DeleteCommand, GetCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { failedConditions, isConditionFailure, storeError } from './dynamodb-errors';
import { StoreUnavailable, UserBeingDeleted, ValidationError } from '../domain/errors';
import { randomId } from '../domain/ids';
import { userIdItemKey, userItemKey } from '../../lib/shared/item-keys';

/** How the customer's server names a user: its own id, or (deprecated) an email. */
export type UserIdentity = { readonly externalId: string } | { readonly userEmail: string };

export interface User {
  readonly userId: string;
  /** The user's sort-key part: external id or lower-cased email. */
  readonly userKey: string;
  readonly externalId?: string;
  readonly userEmail?: string;
  readonly name?: string;
  readonly accountUids: string[];
  readonly createdAt: string;
  /** Set when delete-user has started on this user. */
  readonly deletingAt?: string;
}

/**
 * The users table key: `pk = app#<appUid>`, `sk = user#<externalId or email>`.
 * External ids cannot contain '@' and emails always do, so the two never collide.
 * Emails are compared case-insensitively.
 */
export function userKey(identity: UserIdentity): string {
  return 'externalId' in identity ? identity.externalId : identity.userEmail.toLowerCase();
}

const USER_PREFIX = 'user#';
/** What a failure of the last step of delete-user leaves: safe to repeat. */
const NOT_YET_REMOVED = "the user's sessions are ended but its record is not yet removed; call again with the same input to finish";

function userOf(item: Record<string, unknown>): User {
  const accounts = item.accountUids;
  return {
    userId: String(item.userId),
    userKey: String(item.sk).slice(USER_PREFIX.length),
    ...(typeof item.externalId === 'string' ? { externalId: item.externalId } : {}),
    ...(typeof item.userEmail === 'string' ? { userEmail: item.userEmail } : {}),
    ...(typeof item.name === 'string' ? { name: item.name } : {}),
    accountUids: accounts instanceof Set ? [...(accounts as Set<string>)].sort() : [],
    createdAt: String(item.createdAt),
    ...(typeof item.deletingAt === 'string' ? { deletingAt: item.deletingAt } : {}),
  };
}

/**
 * Most account ids one user accumulates. `accountUids` only grows (each
 * sign-in adds its ids), and an item over DynamoDB's 400 KB limit can no
 * longer be written, which would lock the user out for good; 100 ids of at
 * most 128 characters stay far below it.
 */
export const MAX_ACCOUNT_UIDS_PER_USER = 100;

/** The account ids of an item as DynamoDB returned it with a failed condition (not unmarshalled). */
function heldAccountUids(item: unknown): Set<string> {
  const attribute = (item as { accountUids?: { SS?: string[] } | Set<string> } | undefined)?.accountUids;
  if (attribute instanceof Set) return attribute;
  return new Set(attribute?.SS ?? []);
}

/**
 * Two items per user in the users table, written together: the user
 * (`user#<userKey>`, with the personal data) and `userid#<userId>` (the
 * user's key, so delete-user can find a user by id). Users made before the
 * second item existed get it on their next sign-in (`userIdIndexed`).
 */
export class UserStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Finds the user and adds what `details` brings (a name if it had none,
   * account ids to its set), or creates it. Both steps are conditional, so
   * concurrent first calls for one user converge on one user and one userId.
   * A user being deleted gets no new session: UserBeingDeleted.
   */
  async findOrCreate(appUid: string, identity: UserIdentity, details: { name?: string; accountUids?: string[] }, now: Date): Promise<User> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const user = (await this.updateExisting(appUid, identity, details)) ?? (await this.createNew(appUid, identity, details, now));
      if (!user) continue;
      if (user.deletingAt !== undefined) throw new UserBeingDeleted('this user is being deleted; try again once the deletion has finished');
      return user;
    }
    throw new StoreUnavailable('find-or-create user: the user changed during the call; nothing was written, try again');
  }

  /**
   * The existing user with `details` added, or undefined if there is none.
   * Account ids are added to the user's set, never past
   * MAX_ACCOUNT_UIDS_PER_USER (a ValidationError naming `accountUids`, nothing
   * written). The cap is a condition on the same UpdateItem: the first try
   * assumes every requested id is new; if that fails, DynamoDB returns the item
   * as it was, and the second try knows which ids it already holds.
   */
  private async updateExisting(appUid: string, identity: UserIdentity, details: { name?: string; accountUids?: string[] }): Promise<User | undefined> {
    const requested = [...new Set(details.accountUids ?? [])];
    let alreadyHeld = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.updateOnce(appUid, identity, details.name, requested, requested.length - alreadyHeld);
      } catch (error) {
        if (!isConditionFailure(error)) throw storeError('find-or-create user', error);
        const old = (error as { Item?: unknown }).Item;
        // No item: there is no such user (yet).
        if (old === undefined) return undefined;
        const held = heldAccountUids(old);
        alreadyHeld = requested.filter((id) => held.has(id)).length;
        const added = requested.length - alreadyHeld;
        if (added > 0 && held.size + added > MAX_ACCOUNT_UIDS_PER_USER) {
          throw new ValidationError(
            'accountUids',
            `accountUids would take this user past ${MAX_ACCOUNT_UIDS_PER_USER} account ids, the most a user can have: it has ${held.size} and the request adds ${added} new`,
          );
        }
        if (attempt === 3) throw new StoreUnavailable('find-or-create user: the user kept changing; nothing was written, try again');
      }
    }
  }

  /** One conditional update (or a read, when there is nothing to add); `added` of the account ids are assumed new. */
  private async updateOnce(appUid: string, identity: UserIdentity, name: string | undefined, accountUids: string[], added: number): Promise<User | undefined> {
    const Key = userItemKey(appUid, userKey(identity));
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    if (name !== undefined) {
      names['#name'] = 'name';
      values[':name'] = name;
      sets.push('#name = if_not_exists(#name, :name)');
    }
    let expression = sets.length > 0 ? `SET ${sets.join(', ')}` : '';
    let condition = 'attribute_exists(pk)';
    if (accountUids.length > 0) {
      names['#accountUids'] = 'accountUids';
      values[':accountUids'] = new Set(accountUids);
      expression += ' ADD #accountUids :accountUids';
      // Ids the user already has add nothing, so they may always be sent, even by a user past the cap from before it.
      if (added > 0) {
        values[':roomFor'] = MAX_ACCOUNT_UIDS_PER_USER - added;
        condition += ' AND (attribute_not_exists(#accountUids) OR size(#accountUids) <= :roomFor)';
      }
    }
    let item: Record<string, unknown> | undefined;
    if (expression === '') {
      ({ Item: item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key, ConsistentRead: true })));
    } else {
      ({ Attributes: item } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key,
          UpdateExpression: expression.trim(),
          ConditionExpression: condition,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      ));
    }
    if (!item) return undefined;
    const user = userOf(item);
    if (item.userIdIndexed !== true && user.deletingAt === undefined) await this.indexUserId(appUid, user);
    return user;
  }

  /** Creates the user and its userid# item; undefined if a concurrent call created the user first. */
  private async createNew(appUid: string, identity: UserIdentity, details: { name?: string; accountUids?: string[] }, now: Date): Promise<User | undefined> {
    const key = userKey(identity);
    const item = {
      ...userItemKey(appUid, key),
      userId: randomId('usr'),
      ...identity,
      ...(details.name !== undefined ? { name: details.name } : {}),
      ...(details.accountUids && details.accountUids.length > 0 ? { accountUids: new Set(details.accountUids) } : {}),
      createdAt: now.toISOString(),
      userIdIndexed: true,
    };
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
            { Put: { TableName: this.tableName, Item: { ...userIdItemKey(appUid, item.userId), userId: item.userId, userKey: key }, ConditionExpression: 'attribute_not_exists(pk)' } },
          ],
        }),
      );
    } catch (error) {
      const failed = failedConditions(error);
      if (failed.includes(0)) return undefined;
      if (failed.length > 0) throw new StoreUnavailable('user id collision; nothing was written, try again');
      throw storeError('find-or-create user', error);
    }
    return userOf(item);
  }

  /** Gives a user from before the userid# items its item (once; idempotent). */
  private async indexUserId(appUid: string, user: User): Promise<void> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.tableName, Item: { ...userIdItemKey(appUid, user.userId), userId: user.userId, userKey: user.userKey } } },
            {
              Update: {
                TableName: this.tableName,
                Key: userItemKey(appUid, user.userKey),
                UpdateExpression: 'SET userIdIndexed = :true',
                ConditionExpression: 'userId = :userId AND attribute_not_exists(deletingAt)',
                ExpressionAttributeValues: { ':true': true, ':userId': user.userId },
              },
            },
          ],
        }),
      );
    } catch (error) {
      // Being deleted meanwhile: then the index item is not wanted, and the transaction wrote nothing.
      if (isConditionFailure(error)) return;
      throw storeError('find-or-create user', error);
    }
  }

  /** The user stored under `key` (external id or lower-cased email), or undefined. */
  async get(appUid: string, key: string): Promise<User | undefined> {
    try {
      const { Item } = await this.db.send(
        new GetCommand({ TableName: this.tableName, Key: userItemKey(appUid, key), ConsistentRead: true }),
      );
      return Item ? userOf(Item) : undefined;
    } catch (error) {
      throw storeError('get user', error);
    }
  }

  /** The user with this userId, through its userid# item, or undefined. */
  async getById(appUid: string, userId: string): Promise<User | undefined> {
    let pointer: Record<string, unknown> | undefined;
    try {
      ({ Item: pointer } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: userIdItemKey(appUid, userId), ConsistentRead: true })));
    } catch (error) {
      throw storeError('get user', error);
    }
    if (!pointer) return undefined;
    const user = await this.get(appUid, String(pointer.userKey));
    return user?.userId === userId ? user : undefined;
  }

  /** Marks the user as being deleted: from now on no session is issued for it (SessionStore.create checks). */
  async markDeleting(appUid: string, user: User, now: Date): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userItemKey(appUid, user.userKey),
          UpdateExpression: 'SET deletingAt = if_not_exists(deletingAt, :now)',
          ConditionExpression: 'userId = :userId',
          ExpressionAttributeValues: { ':now': now.toISOString(), ':userId': user.userId },
        }),
      );
    } catch (error) {
      // Deleted by a concurrent call: nothing left to mark.
      if (isConditionFailure(error)) return;
      throw storeError('delete-user', error);
    }
  }

  /** Removes the user and its userid# item. */
  async remove(appUid: string, user: User): Promise<void> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.tableName,
                Key: userItemKey(appUid, user.userKey),
                // Never another user that took the same externalId or email since.
                ConditionExpression: 'attribute_not_exists(pk) OR userId = :userId',
                ExpressionAttributeValues: { ':userId': user.userId },
              },
            },
            { Delete: { TableName: this.tableName, Key: userIdItemKey(appUid, user.userId) } },
          ],
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw storeError('delete-user', error, NOT_YET_REMOVED);
      // Only this user's userid# item is left to remove.
      try {
        await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: userIdItemKey(appUid, user.userId) }));
      } catch (retryError) {
        throw storeError('delete-user', retryError, NOT_YET_REMOVED);
      }
    }
  }
}

/** The body of `GET .../sdkusers/me`. */
export interface SessionUserView {
  readonly appUid: string;
  readonly userId: string;
  readonly externalId?: string;
  readonly userEmail?: string;
  readonly name?: string;
  readonly accountUids: string[];
  readonly sessionExpiresAt: string;
}

export function sessionUserView(appUid: string, user: User, sessionExpiresAt: string): SessionUserView {
  const { userId, externalId, userEmail, name, accountUids } = user;
  return {
    appUid,
    userId,
    ...(externalId === undefined ? {} : { externalId }),
    ...(userEmail === undefined ? {} : { userEmail }),
    ...(name === undefined ? {} : { name }),
    accountUids,
    sessionExpiresAt,
  };
}
