/**
 * The primary keys of every item keygate stores (DESIGN §3), in one place.
 * Free of imports on purpose: the authorizers need these and nothing else of
 * the stores, so their bundles stay clear of the document client.
 */

/** Keys table, hash item: `pk = hash#<keyHash>, sk = key`. The only item the API-key authorizer reads. */
export const keyHashItemKey = (keyHash: string) => ({ pk: `hash#${keyHash}`, sk: 'key' });

/** Keys table, per-app item: `pk = app#<appUid>, sk = key#<keyId>`, for listing and deleting. */
export const appKeyItemKey = (appUid: string, keyId: string) => ({ pk: appPartition(appUid), sk: `key#${keyId}` });

/**
 * Keys table, activity event: `pk = app#<appUid>, sk = event#<ISO time>#<eventId>`, next to the app's
 * key items, so one Query reads an app's log in time order and a transaction can write it with the change.
 */
export const ACTIVITY_EVENT_SK_PREFIX = 'event#';
export const activityEventItemKey = (appUid: string, at: string, eventId: string) => ({
  pk: appPartition(appUid),
  sk: `${ACTIVITY_EVENT_SK_PREFIX}${at}#${eventId}`,
});

/** The partition holding one app's key items and events (keys table) or users (users table). */
export const appPartition = (appUid: string) => `app#${appUid}`;

/** Sessions table: `pk = token#<tokenHash>`. */
export const sessionItemKey = (tokenHash: string) => ({ pk: `token#${tokenHash}` });

/** Users table: `pk = app#<appUid>, sk = user#<externalId or email>`. */
export const userItemKey = (appUid: string, userKey: string) => ({ pk: appPartition(appUid), sk: `user#${userKey}` });
