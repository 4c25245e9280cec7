/**
 * The primary keys of every item keygate stores, in one place.
 * Free of imports on purpose: the authorizers need these and nothing else of
 * the stores, so their bundles stay clear of the document client.
 *
 * Ids never contain `#` (app ids, user, key and session ids are letters,
 * digits, `_` and `-`), so `#` separates the parts of a key unambiguously.
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

/**
 * Keys table, app registry: one item per app under one partition, so list-apps is a Query, not a scan:
 * `pk = apps, sk = app#<appUid>` → `{ appUid, createdAt, keyCount, plan?, gatewayKeyId?, gatewayKey? }`.
 */
export const APPS_PARTITION = 'apps';
export const appRecordItemKey = (appUid: string) => ({ pk: APPS_PARTITION, sk: `app#${appUid}` });

/** Sessions table, the session itself: `pk = token#<tokenHash>, sk = session`. The only item the session authorizer reads. */
export const sessionItemKey = (tokenHash: string) => ({ pk: `token#${tokenHash}`, sk: 'session' });

/**
 * Sessions table, index items written in the same transaction as the session,
 * so revoke-sessions finds them with a strongly consistent Query (a GSI would
 * be read eventually consistently and could miss a session just created):
 * - by user: `pk = user#<appUid>#<userId>, sk = ses#<sessionId>`;
 * - by the key that created it: `pk = key#<appUid>#<keyId>, sk = ses#<sessionId>`;
 * - by id: `pk = sid#<appUid>#<sessionId>, sk = session`.
 */
export const userSessionsPartition = (appUid: string, userId: string) => `user#${appUid}#${userId}`;
export const keySessionsPartition = (appUid: string, keyId: string) => `key#${appUid}#${keyId}`;
export const sessionIndexSortKey = (sessionId: string) => `ses#${sessionId}`;
export const sessionIdItemKey = (appUid: string, sessionId: string) => ({ pk: `sid#${appUid}#${sessionId}`, sk: 'session' });

/** Users table: `pk = app#<appUid>, sk = user#<externalId or email>`. */
export const userItemKey = (appUid: string, userKey: string) => ({ pk: appPartition(appUid), sk: `user#${userKey}` });

/** Users table, lookup by userId: `pk = app#<appUid>, sk = userid#<userId>` → the user's item key. */
export const userIdItemKey = (appUid: string, userId: string) => ({ pk: appPartition(appUid), sk: `userid#${userId}` });
