/**
 * The primary keys of every item keygate stores (DESIGN §3), in one place.
 * Free of imports on purpose: the authorizers need these and nothing else of
 * the stores, so their bundles stay clear of the document client.
 */

/** Keys table, hash item: `pk = hash#<keyHash>, sk = key`. The only item the API-key authorizer reads. */
export const keyHashItemKey = (keyHash: string) => ({ pk: `hash#${keyHash}`, sk: 'key' });

/** Keys table, per-app item: `pk = app#<appUid>, sk = key#<keyId>`, for listing and deleting. */
export const appKeyItemKey = (appUid: string, keyId: string) => ({ pk: appPartition(appUid), sk: `key#${keyId}` });

/** The partition holding one app's key items (keys table) or users (users table). */
export const appPartition = (appUid: string) => `app#${appUid}`;

/**
 * Keys table, app registry: one item per app under one partition (so listing
 * apps is a Query), `pk = apps, sk = app#<appUid>` → `{ appUid, createdAt,
 * keyCount, plan?, gatewayKeyId?, gatewayKey? }`.
 */
export const APPS_PARTITION = 'apps';
export const appRecordItemKey = (appUid: string) => ({ pk: APPS_PARTITION, sk: `app#${appUid}` });

/** Sessions table: `pk = token#<tokenHash>`. */
export const sessionItemKey = (tokenHash: string) => ({ pk: `token#${tokenHash}` });

/** Users table: `pk = app#<appUid>, sk = user#<externalId or email>`. */
export const userItemKey = (appUid: string, userKey: string) => ({ pk: appPartition(appUid), sk: `user#${userKey}` });
