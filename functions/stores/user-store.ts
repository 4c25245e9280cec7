import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, storeError } from './dynamodb-errors';
import { StoreUnavailable, ValidationError } from '../domain/errors';
import { randomId } from '../domain/ids';
import { userItemKey } from '../../lib/shared/item-keys';

/** How the customer's server names a user: its own id, or (deprecated) an email. */
export type UserIdentity = { readonly externalId: string } | { readonly userEmail: string };

export interface User {
  readonly userId: string;
  readonly externalId?: string;
  readonly userEmail?: string;
  readonly name?: string;
  readonly accountUids: string[];
  readonly createdAt: string;
}

/**
 * The users table key: `pk = app#<appUid>`, `sk = user#<externalId or email>`.
 * External ids cannot contain '@' and emails always do, so the two never collide.
 * Emails are compared case-insensitively.
 */
export function userKey(identity: UserIdentity): string {
  return 'externalId' in identity ? identity.externalId : identity.userEmail.toLowerCase();
}

function userOf(item: Record<string, unknown>): User {
  const accounts = item.accountUids;
  return {
    userId: String(item.userId),
    ...(typeof item.externalId === 'string' ? { externalId: item.externalId } : {}),
    ...(typeof item.userEmail === 'string' ? { userEmail: item.userEmail } : {}),
    ...(typeof item.name === 'string' ? { name: item.name } : {}),
    accountUids: accounts instanceof Set ? [...(accounts as Set<string>)].sort() : [],
    createdAt: String(item.createdAt),
  };
}

/**
 * Most account ids one user accumulates. `accountUids` only grows (each
 * sign-in adds its ids), and an item over DynamoDB's 400 KB limit can no
 * longer be written, which would lock the user out for good; 100 ids of at
 * most 128 characters stay far below it.
 */
export const MAX_ACCOUNT_UIDS_PER_USER = 100;

/** Attempts at a conditional find-or-create before giving up on a user that keeps changing. */
const FIND_OR_CREATE_ATTEMPTS = 3;

/** The account ids of an item as DynamoDB returned it with a failed condition (not unmarshalled). */
function heldAccountUids(item: unknown): Set<string> {
  const attribute = (item as { accountUids?: { SS?: string[] } | Set<string> } | undefined)?.accountUids;
  if (attribute instanceof Set) return attribute;
  return new Set(attribute?.SS ?? []);
}

export class UserStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Finds or creates the user in one atomic UpdateItem: `if_not_exists` keeps
   * the first writer's userId, name and createdAt, so concurrent first calls
   * for one user converge on one item. Account ids are added to the user's
   * set, never past MAX_ACCOUNT_UIDS_PER_USER (a ValidationError naming
   * `accountUids`, nothing written).
   *
   * The cap is a condition on the same UpdateItem. The first attempt assumes
   * every requested id is new; if that fails, DynamoDB returns the item as it
   * was, and the next attempt knows which ids it already holds.
   */
  async findOrCreate(appUid: string, identity: UserIdentity, details: { name?: string; accountUids?: string[] }, now: Date): Promise<User> {
    const requested = [...new Set(details.accountUids ?? [])];
    let alreadyHeld: string[] = [];
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.upsert(appUid, identity, details.name, requested, alreadyHeld, now);
      } catch (error) {
        if (!isConditionFailure(error)) throw storeError('find-or-create user', error);
        const held = heldAccountUids((error as { Item?: unknown }).Item);
        alreadyHeld = requested.filter((id) => held.has(id));
        const added = requested.length - alreadyHeld.length;
        if (added > 0 && held.size + added > MAX_ACCOUNT_UIDS_PER_USER) {
          throw new ValidationError(
            'accountUids',
            `accountUids would take this user past ${MAX_ACCOUNT_UIDS_PER_USER} account ids, the most a user can have: it has ${held.size} and the request adds ${added} new`,
          );
        }
        if (attempt === FIND_OR_CREATE_ATTEMPTS) throw new StoreUnavailable('find-or-create user: the user kept changing; nothing was written, try again');
      }
    }
  }

  private async upsert(appUid: string, identity: UserIdentity, name: string | undefined, accountUids: string[], alreadyHeld: string[], now: Date): Promise<User> {
    const names: Record<string, string> = { '#userId': 'userId', '#createdAt': 'createdAt' };
    const values: Record<string, unknown> = { ':userId': randomId('usr'), ':now': now.toISOString() };
    const sets = ['#userId = if_not_exists(#userId, :userId)', '#createdAt = if_not_exists(#createdAt, :now)'];
    if ('externalId' in identity) {
      names['#identity'] = 'externalId';
      values[':identity'] = identity.externalId;
    } else {
      names['#identity'] = 'userEmail';
      values[':identity'] = identity.userEmail;
    }
    sets.push('#identity = if_not_exists(#identity, :identity)');
    if (name !== undefined) {
      names['#name'] = 'name';
      values[':name'] = name;
      sets.push('#name = if_not_exists(#name, :name)');
    }
    let expression = `SET ${sets.join(', ')}`;
    let condition: string | undefined;
    if (accountUids.length > 0) {
      names['#accountUids'] = 'accountUids';
      values[':accountUids'] = new Set(accountUids);
      expression += ' ADD #accountUids :accountUids';
      // Room for the ids not known to be held, and the known ones still there (ids are never removed, so this holds until the write).
      const added = accountUids.length - alreadyHeld.length;
      const checks = alreadyHeld.map((id, index) => {
        values[`:held${index}`] = id;
        return `contains(#accountUids, :held${index})`;
      });
      if (added > 0) {
        values[':room'] = MAX_ACCOUNT_UIDS_PER_USER - added;
        checks.unshift('size(#accountUids) <= :room');
      }
      condition = `attribute_not_exists(#accountUids) OR (${checks.join(' AND ')})`;
    }
    const { Attributes } = await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: userItemKey(appUid, userKey(identity)),
        UpdateExpression: expression,
        ...(condition && { ConditionExpression: condition, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return userOf(Attributes ?? {});
  }

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
