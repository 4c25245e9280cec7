import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { storeError } from './dynamodb-errors';
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

export class UserStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Finds or creates the user in one atomic UpdateItem: `if_not_exists` keeps
   * the first writer's userId, name and createdAt, so concurrent first calls
   * for one user converge on one item. Account ids are added to the user's set.
   */
  async findOrCreate(appUid: string, identity: UserIdentity, details: { name?: string; accountUids?: string[] }, now: Date): Promise<User> {
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
    if (details.name !== undefined) {
      names['#name'] = 'name';
      values[':name'] = details.name;
      sets.push('#name = if_not_exists(#name, :name)');
    }
    let expression = `SET ${sets.join(', ')}`;
    if (details.accountUids && details.accountUids.length > 0) {
      names['#accountUids'] = 'accountUids';
      values[':accountUids'] = new Set(details.accountUids);
      expression += ' ADD #accountUids :accountUids';
    }
    try {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userItemKey(appUid, userKey(identity)),
          UpdateExpression: expression,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return userOf(Attributes ?? {});
    } catch (error) {
      throw storeError('find-or-create user', error);
    }
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
