import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { handler as apiKeyAuthorizer } from '../../functions/api-key-authorizer/index';
import { handler as createKeyHandler } from '../../functions/create-key/index';
import { handler as deleteKeyHandler } from '../../functions/delete-key/index';
import { handler as listKeysHandler } from '../../functions/list-keys/index';
import { handler as rollKeyHandler } from '../../functions/roll-key/index';
import { handler as updateKeyHandler } from '../../functions/update-key/index';
import { handler as listKeyEventsHandler } from '../../functions/list-key-events/index';
import { handler as sdkUsersAuth } from '../../functions/sdkusers-auth/index';
import { handler as sessionAuthorizer } from '../../functions/session-authorizer/index';
import { handler as sealRecordsHandler } from '../../functions/seal-records/index';
import { activityEvent } from '../../functions/domain/activity';
import { createHasher } from '../../functions/domain/hashing';
import { credentialFormat } from '../../functions/domain/credential-format';
import { KeyNotFound, StoreUnavailable, ValidationError } from '../../functions/domain/errors';
import { lastUsedWriter } from '../../functions/stores/credential-lookup';
import { KeyStore } from '../../functions/stores/key-store';
import { activityEventItemKey, appKeyItemKey, keyHashItemKey } from '../../lib/shared/item-keys';
import type { TableNames } from '../../lib/local/tables';
import { createTestTables, scanAll, testAuthorizerDynamoDb, testDynamoDbClient } from '../support/dynamodb';
import { apiKeyEvent, authorizerEvent, gatewayOutcome, methodArn, proxyEvent, sessionTokenEvent } from '../support/events';
import { eventually } from '../support/eventually';
import { testSealer } from '../support/seals';

/**
 * The key lifecycle (issue 12) on DynamoDB Local, through the handlers: roll
 * with a grace period, update (rename, expiry, disable/enable), lastUsedAt,
 * and the activity log written in the same transaction as each change.
 */
let client: DynamoDBClient;
let db: DynamoDBDocumentClient;
let tables: TableNames;
/** What the authorizers read hash items with. */
const authorizerDynamoDb = testAuthorizerDynamoDb();
let store: KeyStore;
const hash = createHasher(async () => process.env.KEYGATE_LOCAL_PEPPER!);

beforeAll(async () => {
  client = testDynamoDbClient();
  db = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  tables = await createTestTables(client);
  store = new KeyStore(db, tables.Keys, testSealer);
});
afterAll(() => client.destroy());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What API Gateway answers for the key on the app's whoami route. */
async function use(apiKey: string, appUid: string): Promise<number> {
  return (await gatewayOutcome(apiKeyAuthorizer, apiKeyEvent(apiKey, appUid))).status;
}

/** A session opened with the key through the real sdkusers/auth handler. */
async function sessionOf(apiKey: string, appUid: string, externalId: string): Promise<string> {
  const granted = await gatewayOutcome(apiKeyAuthorizer, authorizerEvent({ 'x-api-key': apiKey }, methodArn('POST', appUid, 'sdkusers/auth')));
  if (granted.status !== 200) throw new Error(`key refused with ${granted.status}`);
  const response = await sdkUsersAuth(proxyEvent({ body: JSON.stringify({ externalId }), context: granted.context }));
  if (response.statusCode !== 200) throw new Error(`sdkusers/auth answered ${response.statusCode}`);
  return (JSON.parse(response.body) as { authToken: string }).authToken;
}

async function sessionStatus(token: string, appUid: string): Promise<number> {
  return (await gatewayOutcome(sessionAuthorizer, sessionTokenEvent(token, appUid))).status;
}

async function listed(appUid: string, keyId: string) {
  return (await listKeysHandler({ appUid })).keys.find((key) => key.keyId === keyId);
}

async function eventsOf(appUid: string, keyId?: string) {
  return (await listKeyEventsHandler({ appUid, limit: 100, ...(keyId ? { keyId } : {}) })).events;
}

/** Every item of one app in the keys table: its key items (which carry appUid) and its events (its partition). */
async function appItems(appUid: string) {
  return (await scanAll(client, tables.Keys)).filter((item) => item.appUid === appUid || item.pk === `app#${appUid}`);
}

async function failureOf(promise: Promise<unknown>): Promise<Error & { field?: string }> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: Error) => error,
  );
}

describe('roll-key', () => {
  test('grace 0: the old key is refused at once, the new one works; sessions of both keys keep working', async () => {
    const app = 'roll-now';
    const old = await createKeyHandler({ appUid: app, name: 'billing' });
    const oldSession = await sessionOf(old.apiKey, app, 'user-old');

    const rolled = await rollKeyHandler({ appUid: app, keyId: old.keyId, gracePeriodSeconds: 0, requestedBy: 'local:ada' });
    expect(Object.keys(rolled)).toEqual(['keyId', 'apiKey', 'appUid', 'name', 'displayPrefix', 'createdAt', 'rolledFromKeyId', 'previousKeyExpiresAt']);
    expect(rolled).toMatchObject({ appUid: app, name: 'billing', rolledFromKeyId: old.keyId });
    expect(rolled.keyId).not.toBe(old.keyId);
    expect(rolled.apiKey.startsWith(rolled.displayPrefix)).toBe(true);
    expect(Date.parse(rolled.previousKeyExpiresAt)).toBeLessThanOrEqual(Date.now());

    expect(await use(old.apiKey, app)).toBe(401);
    expect(await use(rolled.apiKey, app)).toBe(200);
    const newSession = await sessionOf(rolled.apiKey, app, 'user-new');
    expect(await sessionStatus(oldSession, app)).toBe(200);
    expect(await sessionStatus(newSession, app)).toBe(200);

    expect(await listed(app, old.keyId)).toMatchObject({ status: 'expired', enabled: true, expiresAt: rolled.previousKeyExpiresAt });
    expect(await listed(app, rolled.keyId)).toMatchObject({ status: 'active', enabled: true, rolledFromKeyId: old.keyId, name: 'billing' });
    expect((await listed(app, rolled.keyId))?.expiresAt).toBeUndefined();
  });

  test('a grace period that runs out during the test: the old key works, then gets 401; the new key and both sessions keep working', async () => {
    const app = 'roll-grace';
    const old = await createKeyHandler({ appUid: app, name: 'worker' });
    const oldSession = await sessionOf(old.apiKey, app, 'user-old');
    const rolled = await rollKeyHandler({ appUid: app, keyId: old.keyId, gracePeriodSeconds: 2 });
    const graceEnds = Date.parse(rolled.previousKeyExpiresAt);
    expect(graceEnds - Date.now()).toBeGreaterThan(1000);
    expect(graceEnds - Date.now()).toBeLessThanOrEqual(2000);

    // During the grace period both keys work: a client can switch without downtime.
    expect(await use(old.apiKey, app)).toBe(200);
    expect(await use(rolled.apiKey, app)).toBe(200);
    expect(await listed(app, old.keyId)).toMatchObject({ status: 'active', expiresAt: rolled.previousKeyExpiresAt });
    const newSession = await sessionOf(rolled.apiKey, app, 'user-new');

    await sleep(graceEnds - Date.now() + 50);
    expect(await use(old.apiKey, app)).toBe(401);
    expect(await use(rolled.apiKey, app)).toBe(200);
    expect(await listed(app, old.keyId)).toMatchObject({ status: 'expired' });
    expect(await sessionStatus(oldSession, app)).toBe(200);
    expect(await sessionStatus(newSession, app)).toBe(200);
  });

  test('the default grace is 24 hours; an earlier expiry of the old key is kept; name and expiry of the new key may be given', async () => {
    const app = 'roll-options';
    const plain = await createKeyHandler({ appUid: app, name: 'plain' });
    const before = Date.now();
    const rolledPlain = await rollKeyHandler({ appUid: app, keyId: plain.keyId });
    const grace = Date.parse(rolledPlain.previousKeyExpiresAt) - before;
    expect(grace).toBeGreaterThanOrEqual(24 * 3600 * 1000 - 1000);
    expect(grace).toBeLessThanOrEqual(24 * 3600 * 1000 + 5000);

    const soon = new Date(Date.now() + 3600_000).toISOString();
    const expiring = await createKeyHandler({ appUid: app, name: 'expiring', expiresAt: soon });
    const newExpiry = '2035-06-01T00:00:00.000Z';
    const rolled = await rollKeyHandler({ appUid: app, keyId: expiring.keyId, gracePeriodSeconds: 7 * 86400, name: 'expiring v2', expiresAt: newExpiry });
    expect(rolled.previousKeyExpiresAt).toBe(soon);
    expect(rolled).toMatchObject({ name: 'expiring v2', expiresAt: newExpiry });
    expect(await listed(app, expiring.keyId)).toMatchObject({ expiresAt: soon, name: 'expiring' });
  });

  test('a key can be rolled again: each new key names the one it replaced', async () => {
    const app = 'roll-chain';
    const first = await createKeyHandler({ appUid: app, name: 'chain' });
    const second = await rollKeyHandler({ appUid: app, keyId: first.keyId, gracePeriodSeconds: 60 });
    const third = await rollKeyHandler({ appUid: app, keyId: second.keyId, gracePeriodSeconds: 0 });
    expect(third.rolledFromKeyId).toBe(second.keyId);
    expect(await use(first.apiKey, app)).toBe(200);
    expect(await use(second.apiKey, app)).toBe(401);
    expect(await use(third.apiKey, app)).toBe(200);
  });
});

describe('update-key', () => {
  test('disable: 401 on the very next request, status disabled; enable: 200 again; sessions are untouched', async () => {
    const app = 'upd-disable';
    const key = await createKeyHandler({ appUid: app, name: 'toggled' });
    const session = await sessionOf(key.apiKey, app, 'user-1');
    expect(await use(key.apiKey, app)).toBe(200);

    const disabled = await updateKeyHandler({ appUid: app, keyId: key.keyId, enabled: false });
    expect(disabled).toMatchObject({ keyId: key.keyId, name: 'toggled', status: 'disabled', enabled: false });
    expect(await use(key.apiKey, app)).toBe(401);
    expect(await listed(app, key.keyId)).toMatchObject({ status: 'disabled', enabled: false });
    expect(await sessionStatus(session, app)).toBe(200);

    expect(await updateKeyHandler({ appUid: app, keyId: key.keyId, enabled: true })).toMatchObject({ status: 'active', enabled: true });
    expect(await use(key.apiKey, app)).toBe(200);
  });

  test('the output is the key as list-keys shows it', async () => {
    const app = 'upd-shape';
    const key = await createKeyHandler({ appUid: app, name: 'shape' });
    const updated = await updateKeyHandler({ appUid: app, keyId: key.keyId, name: 'renamed' });
    expect(updated).toEqual(await listed(app, key.keyId));
    expect(Object.keys(updated)).toEqual(['keyId', 'name', 'displayPrefix', 'createdAt', 'status', 'enabled']);
    expect(await use(key.apiKey, app)).toBe(200);
  });

  test('expiry set (the key stops when it passes) and cleared (it works again)', async () => {
    const app = 'upd-expiry';
    const key = await createKeyHandler({ appUid: app, name: 'expiry' });
    const far = '2031-01-01T00:00:00.000Z';
    expect(await updateKeyHandler({ appUid: app, keyId: key.keyId, expiresAt: far })).toMatchObject({ expiresAt: far, status: 'active' });

    const soon = new Date(Date.now() + 1500).toISOString();
    await updateKeyHandler({ appUid: app, keyId: key.keyId, expiresAt: soon });
    expect(await use(key.apiKey, app)).toBe(200);
    await sleep(Date.parse(soon) - Date.now() + 50);
    expect(await use(key.apiKey, app)).toBe(401);
    expect(await listed(app, key.keyId)).toMatchObject({ status: 'expired', expiresAt: soon });

    const cleared = await updateKeyHandler({ appUid: app, keyId: key.keyId, expiresAt: null });
    expect(cleared.expiresAt).toBeUndefined();
    expect(cleared.status).toBe('active');
    expect(await use(key.apiKey, app)).toBe(200);
    // Both items lost the attribute, not just the one list-keys reads.
    const items = (await appItems(app)).filter((item) => item.pk !== 'apps' && !String(item.sk).startsWith('event#'));
    expect(items).toHaveLength(2);
    for (const item of items) expect(item.expiresAt).toBeUndefined();
  });

  test('a disabled key that is also past its expiry shows as expired; enabling it does not make it work', async () => {
    const app = 'upd-both';
    const key = await createKeyHandler({ appUid: app, name: 'both', expiresAt: new Date(Date.now() + 1000).toISOString() });
    await updateKeyHandler({ appUid: app, keyId: key.keyId, enabled: false });
    await sleep(1100);
    expect(await listed(app, key.keyId)).toMatchObject({ status: 'expired', enabled: false });
    await updateKeyHandler({ appUid: app, keyId: key.keyId, enabled: true });
    expect(await use(key.apiKey, app)).toBe(401);
  });

  test('key items written before keys could be disabled (no enabled, no revision) count as enabled and can be changed once sealed', async () => {
    const app = 'upd-legacy';
    // A well-formed key stored as the first release did: no enabled flag, no revision, no seal.
    const legacyKey = credentialFormat('kg').generate();
    const keyHash = await hash(legacyKey);
    const metadata = { keyId: 'key_LLLLLLLLLLLLLLLLLLLL', appUid: app, name: 'legacy', displayPrefix: legacyKey.slice(0, 11), createdAt: '2025-01-01T00:00:00.000Z' };
    await db.send(new PutCommand({ TableName: tables.Keys, Item: { ...keyHashItemKey(keyHash), ...metadata } }));
    await db.send(new PutCommand({ TableName: tables.Keys, Item: { ...appKeyItemKey(app, metadata.keyId), ...metadata, keyHash } }));

    // Unsealed: refused, and not changed by an admin write (which would seal whatever it holds) until seal-records has run.
    expect(await use(legacyKey, app)).toBe(401);
    const before = await appItems(app);
    const refused = await failureOf(updateKeyHandler({ appUid: app, keyId: metadata.keyId, enabled: false }));
    expect(refused).toMatchObject({ name: 'RecordSealInvalid', message: expect.stringMatching(/has no seal.*seal-records/) });
    expect(await appItems(app)).toEqual(before);
    expect((await sealRecordsHandler({})).keys).toMatchObject({ sealed: 1, wrongSeal: 0, skipped: 0 });

    expect(await use(legacyKey, app)).toBe(200);
    expect(await listed(app, metadata.keyId)).toMatchObject({ status: 'active', enabled: true });
    await updateKeyHandler({ appUid: app, keyId: metadata.keyId, enabled: false });
    expect(await use(legacyKey, app)).toBe(401);
    await updateKeyHandler({ appUid: app, keyId: metadata.keyId, enabled: true });
    expect(await use(legacyKey, app)).toBe(200);
  });

  test('a call that changes nothing writes nothing, not even an event', async () => {
    const app = 'upd-noop';
    const key = await createKeyHandler({ appUid: app, name: 'same' });
    const before = await appItems(app);
    expect(await updateKeyHandler({ appUid: app, keyId: key.keyId, name: 'same', enabled: true, expiresAt: null })).toMatchObject({ name: 'same', status: 'active' });
    expect(await appItems(app)).toEqual(before);
  });

  test('concurrent changes of one key: each call that returns is applied with exactly one event, none is lost', async () => {
    const app = 'upd-race';
    const key = await createKeyHandler({ appUid: app, name: 'n0' });
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => updateKeyHandler({ appUid: app, keyId: key.keyId, name: `n${i + 1}` })));
    const succeeded = results.filter((result) => result.status === 'fulfilled');
    for (const result of results) if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(StoreUnavailable);
    expect(succeeded.length).toBeGreaterThanOrEqual(1);
    const renames = (await eventsOf(app, key.keyId)).filter((event) => event.action === 'updated');
    expect(renames).toHaveLength(succeeded.length);
    // The renames form one chain from n0, each "from" being the name the previous one set: no write was based on a stale read.
    const steps = new Map(renames.map((event) => [(event.details as { name: { from: string } }).name.from, (event.details as { name: { to: string } }).name.to]));
    expect(steps.size).toBe(renames.length);
    let name = 'n0';
    for (let i = 0; i < renames.length; i++) name = steps.get(name)!;
    expect(name).toBeDefined();
    expect((await listed(app, key.keyId))?.name).toBe(name);
  });
});

describe('lastUsedAt', () => {
  async function lastUsedOnHashItem(apiKey: string): Promise<string | undefined> {
    const { Item } = await client.send(
      new GetItemCommand({ TableName: tables.Keys, Key: { pk: { S: keyHashItemKey(await hash(apiKey)).pk }, sk: { S: 'key' } }, ConsistentRead: true }),
    );
    return Item?.lastUsedAt?.S;
  }

  test('absent before first use; appears after it (written after the answer); not rewritten within the interval; a new container writes it again', async () => {
    const app = 'last-used';
    const key = await createKeyHandler({ appUid: app, name: 'used' });
    expect((await listed(app, key.keyId))?.lastUsedAt).toBeUndefined();

    const before = new Date().toISOString();
    expect(await use(key.apiKey, app)).toBe(200);
    const first = await eventually(async () => (await listed(app, key.keyId))?.lastUsedAt);
    expect(first >= before).toBe(true);
    expect(await lastUsedOnHashItem(key.apiKey)).toBe(first);
    // Only the hash item carries it: the app item is not written by the authorizer.
    const appItem = (await appItems(app)).find((item) => item.pk === `app#${app}` && String(item.sk).startsWith('key#'));
    expect(appItem?.lastUsedAt).toBeUndefined();

    await sleep(30);
    for (let i = 0; i < 5; i++) expect(await use(key.apiKey, app)).toBe(200);
    await sleep(300);
    expect(await lastUsedOnHashItem(key.apiKey)).toBe(first);

    // A cold start (fresh module instance) remembers nothing and records the use.
    let coldAuthorizer: typeof apiKeyAuthorizer | undefined;
    jest.isolateModules(() => {
      coldAuthorizer = require('../../functions/api-key-authorizer/index').handler;
    });
    expect((await gatewayOutcome(coldAuthorizer!, apiKeyEvent(key.apiKey, app))).status).toBe(200);
    const second = await eventually(async () => {
      const at = await lastUsedOnHashItem(key.apiKey);
      return at !== first ? at : undefined;
    });
    expect(second > first).toBe(true);
    expect((await listed(app, key.keyId))?.lastUsedAt).toBe(second);
  });

  test('refused keys (disabled, expired by a roll) are not recorded as used', async () => {
    const app = 'last-used-refused';
    const key = await createKeyHandler({ appUid: app, name: 'refused' });
    await updateKeyHandler({ appUid: app, keyId: key.keyId, enabled: false });
    expect(await use(key.apiKey, app)).toBe(401);
    await sleep(200);
    expect(await lastUsedOnHashItem(key.apiKey)).toBeUndefined();
  });

  test('the write can never create an item, and never moves the time back', async () => {
    const write = lastUsedWriter(authorizerDynamoDb, tables.Keys);
    await write('no-such-hash', new Date().toISOString());
    expect((await scanAll(client, tables.Keys)).filter((item) => item.pk === 'hash#no-such-hash')).toEqual([]);

    const app = 'last-used-order';
    const key = await createKeyHandler({ appUid: app, name: 'order' });
    const keyHash = await hash(key.apiKey);
    await write(keyHash, '2030-01-02T00:00:00.000Z');
    await write(keyHash, '2030-01-01T00:00:00.000Z');
    expect(await lastUsedOnHashItem(key.apiKey)).toBe('2030-01-02T00:00:00.000Z');
  });
});

describe('activity log', () => {
  test('every change has exactly one event, in the order made, with who asked and what changed', async () => {
    const app = 'log-all';
    const by = 'arn:aws:iam::123456789012:user/ada';
    const key = await createKeyHandler({ appUid: app, name: 'logged', requestedBy: by });
    await updateKeyHandler({ appUid: app, keyId: key.keyId, name: 'renamed', requestedBy: by });
    await updateKeyHandler({ appUid: app, keyId: key.keyId, name: 'renamed' }); // no change: no event
    await updateKeyHandler({ appUid: app, keyId: key.keyId, enabled: false, requestedBy: by });
    await updateKeyHandler({ appUid: app, keyId: key.keyId, enabled: true, expiresAt: '2032-01-01T00:00:00Z', requestedBy: by });
    const rolled = await rollKeyHandler({ appUid: app, keyId: key.keyId, gracePeriodSeconds: 0, requestedBy: by });
    await deleteKeyHandler({ appUid: app, keyId: key.keyId, requestedBy: by });

    const events = await eventsOf(app);
    expect(events.map((event) => [event.action, event.keyId])).toEqual([
      ['deleted', key.keyId],
      ['rolled', key.keyId],
      ['enabled', key.keyId],
      ['disabled', key.keyId],
      ['updated', key.keyId],
      ['created', key.keyId],
    ]);
    for (const event of events) {
      expect(event).toMatchObject({ requestedBy: by, eventId: expect.stringMatching(/^evt_[0-9A-Za-z]{20}$/) });
      expect(Number.isNaN(Date.parse(event.at))).toBe(false);
    }
    expect(events.map((event) => event.at)).toEqual([...events.map((event) => event.at)].sort().reverse());
    expect(events[5]!.details).toEqual({ name: 'logged' });
    expect(events[4]!.details).toEqual({ name: { from: 'logged', to: 'renamed' } });
    expect(events[3]!.details).toEqual({ enabled: { from: true, to: false } });
    expect(events[2]!.details).toEqual({ expiresAt: { from: null, to: '2032-01-01T00:00:00.000Z' }, enabled: { from: false, to: true } });
    expect(events[1]!.details).toEqual({ newKeyId: rolled.keyId, gracePeriodSeconds: 0, previousKeyExpiresAt: rolled.previousKeyExpiresAt });
    expect(events[0]!.details).toEqual({ name: 'renamed' });
    // Never key material.
    expect(JSON.stringify(events)).not.toContain(key.apiKey);
    expect(JSON.stringify(events)).not.toContain(rolled.apiKey);

    // Filtered by key: the new key's log starts with the roll that made it.
    expect((await eventsOf(app, rolled.keyId)).map((event) => event.action)).toEqual(['rolled']);
    expect((await eventsOf(app, key.keyId)).map((event) => event.action)).toEqual(['deleted', 'rolled', 'enabled', 'disabled', 'updated', 'created']);
    expect(await eventsOf('log-other-app')).toEqual([]);
  });

  test('events carry a TTL of 400 days; key items carry none', async () => {
    const app = 'log-ttl';
    const key = await createKeyHandler({ appUid: app, name: 'ttl' });
    const items = await appItems(app);
    const event = items.find((item) => item.action === 'created')!;
    const at = Date.parse(String(event.at)) / 1000;
    expect(event.eventExpiresAtEpoch).toBe(Math.floor(at) + 400 * 86400);
    expect(items.filter((item) => item.keyId === key.keyId && item.eventExpiresAtEpoch === undefined)).toHaveLength(2);
  });

  test('pages with limit and nextToken cover every event once, also filtered by key; a foreign token is refused', async () => {
    const app = 'log-pages';
    const a = await createKeyHandler({ appUid: app, name: 'a' });
    const b = await createKeyHandler({ appUid: app, name: 'b' });
    for (let i = 0; i < 4; i++) {
      await updateKeyHandler({ appUid: app, keyId: a.keyId, name: `a${i}` });
      await updateKeyHandler({ appUid: app, keyId: b.keyId, name: `b${i}` });
    }
    const all = await eventsOf(app);
    expect(all).toHaveLength(10);
    for (const keyId of [undefined, a.keyId]) {
      const seen: string[] = [];
      let nextToken: string | undefined;
      do {
        const page = await listKeyEventsHandler({ appUid: app, limit: 3, ...(keyId ? { keyId } : {}), ...(nextToken ? { nextToken } : {}) });
        expect(page.events.length).toBeLessThanOrEqual(3);
        seen.push(...page.events.map((event) => event.eventId));
        nextToken = page.nextToken;
      } while (nextToken);
      expect(seen).toEqual(all.filter((event) => !keyId || event.keyId === keyId).map((event) => event.eventId));
    }
    const keysToken = (await listKeysHandler({ appUid: app, limit: 1 })).nextToken!;
    expect(await failureOf(listKeyEventsHandler({ appUid: app, nextToken: keysToken }))).toMatchObject({ name: 'ValidationError', field: 'nextToken' });
  });
});

describe('a failed call writes neither change nor event', () => {
  let app: string;
  let key: Awaited<ReturnType<typeof createKeyHandler>>;
  beforeAll(async () => {
    app = 'fail-nothing';
    key = await createKeyHandler({ appUid: app, name: 'untouched' });
    // Each case checks the key still works; record its lastUsedAt now, so no such write lands between a case's two reads.
    expect(await use(key.apiKey, app)).toBe(200);
    await eventually(async () => (await listed(app, key.keyId))?.lastUsedAt);
  });

  const cases: [string, () => Promise<unknown>, string, string][] = [
    ['roll: grace over 7 days', () => rollKeyHandler({ appUid: app, keyId: key.keyId, gracePeriodSeconds: 604801 }), 'ValidationError', 'gracePeriodSeconds'],
    ['roll: grace negative', () => rollKeyHandler({ appUid: app, keyId: key.keyId, gracePeriodSeconds: -1 }), 'ValidationError', 'gracePeriodSeconds'],
    ['roll: grace not whole', () => rollKeyHandler({ appUid: app, keyId: key.keyId, gracePeriodSeconds: 1.5 }), 'ValidationError', 'gracePeriodSeconds'],
    ['roll: new expiry in the past', () => rollKeyHandler({ appUid: app, keyId: key.keyId, expiresAt: '2001-01-01T00:00:00Z' }), 'ValidationError', 'expiresAt'],
    ['roll: blank name', () => rollKeyHandler({ appUid: app, keyId: key.keyId, name: ' ' }), 'ValidationError', 'name'],
    ['roll: unknown key', () => rollKeyHandler({ appUid: app, keyId: 'key_00000000000000000000' }), 'KeyNotFound', ''],
    ['roll: key of another app', () => rollKeyHandler({ appUid: 'fail-thief', keyId: key.keyId }), 'KeyNotFound', ''],
    ['update: nothing to change', () => updateKeyHandler({ appUid: app, keyId: key.keyId }), 'ValidationError', '(body)'],
    ['update: enabled not a boolean', () => updateKeyHandler({ appUid: app, keyId: key.keyId, enabled: 'false' }), 'ValidationError', 'enabled'],
    ['update: expiry in the past', () => updateKeyHandler({ appUid: app, keyId: key.keyId, expiresAt: '2001-01-01T00:00:00Z' }), 'ValidationError', 'expiresAt'],
    ['update: expiry not a date', () => updateKeyHandler({ appUid: app, keyId: key.keyId, expiresAt: 'soon' }), 'ValidationError', 'expiresAt'],
    ['update: unknown field', () => updateKeyHandler({ appUid: app, keyId: key.keyId, enabled: false, appUidNew: 'x' }), 'ValidationError', 'appUidNew'],
    ['update: requestedBy with a newline', () => updateKeyHandler({ appUid: app, keyId: key.keyId, enabled: false, requestedBy: 'a\nb' }), 'ValidationError', 'requestedBy'],
    ['update: requestedBy too long', () => updateKeyHandler({ appUid: app, keyId: key.keyId, enabled: false, requestedBy: 'x'.repeat(257) }), 'ValidationError', 'requestedBy'],
    ['update: unknown key', () => updateKeyHandler({ appUid: app, keyId: 'key_00000000000000000000', enabled: false }), 'KeyNotFound', ''],
    ['delete: key of another app', () => deleteKeyHandler({ appUid: 'fail-thief', keyId: key.keyId }), 'KeyNotFound', ''],
    ['events: limit 0', () => listKeyEventsHandler({ appUid: app, limit: 0 }), 'ValidationError', 'limit'],
    ['events: keyId of the wrong shape', () => listKeyEventsHandler({ appUid: app, keyId: 'kg_x' }), 'ValidationError', 'keyId'],
  ];

  test.each(cases)('%s', async (_label, call, errorType, field) => {
    const before = await appItems(app);
    const thiefBefore = await appItems('fail-thief');
    const failure = await failureOf(call());
    expect(failure.name).toBe(errorType);
    if (errorType === 'ValidationError') {
      expect(failure).toBeInstanceOf(ValidationError);
      expect(failure.field).toBe(field);
    } else {
      expect(failure).toBeInstanceOf(KeyNotFound);
    }
    expect(await appItems(app)).toEqual(before);
    expect(await appItems('fail-thief')).toEqual(thiefBefore);
    expect(await use(key.apiKey, app)).toBe(200);
  });

  test('a transaction that fails on its event leaves the key unchanged (change and event are one write)', async () => {
    const before = await appItems(app);
    // An event item already at the place the new event goes: its Put fails, so the whole transaction must.
    const taken = activityEvent({ now: new Date('2030-05-05T00:00:00Z'), action: 'updated', keyId: key.keyId });
    await db.send(new PutCommand({ TableName: tables.Keys, Item: { ...activityEventItemKey(app, taken.at, taken.eventId), occupied: true } }));
    const failure = await failureOf(store.change(app, key.keyId, () => ({ changes: { enabled: false }, event: taken })));
    expect(failure).toBeInstanceOf(StoreUnavailable);
    expect(await use(key.apiKey, app)).toBe(200);
    const after = await appItems(app);
    expect(after.filter((item) => !item.occupied)).toEqual(before);
  });

  test('a roll whose new key cannot be written leaves the old key unchanged and logs nothing', async () => {
    const before = await appItems(app);
    const other = await createKeyHandler({ appUid: 'fail-collide', name: 'holder' });
    const takenHash = await hash(other.apiKey);
    const failure = await failureOf(
      store.roll(app, key.keyId, (current) => ({
        newKey: { ...current, keyId: 'key_NNNNNNNNNNNNNNNNNNNN', rolledFromKeyId: current.keyId },
        newKeyHash: takenHash,
        previousKeyExpiresAt: new Date().toISOString(),
        event: activityEvent({ now: new Date(), action: 'rolled', keyId: current.keyId }),
      })),
    );
    expect(failure).toBeInstanceOf(StoreUnavailable);
    expect(await appItems(app)).toEqual(before);
    expect(await use(key.apiKey, app)).toBe(200);
  });
});
