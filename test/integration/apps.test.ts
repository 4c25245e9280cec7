import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { handler as createKeyHandler } from '../../functions/create-key/index';
import { handler as deleteKeyHandler } from '../../functions/delete-key/index';
import { handler as getAppHandler } from '../../functions/get-app/index';
import { handler as listAppsHandler } from '../../functions/list-apps/index';
import { handler as listKeysHandler } from '../../functions/list-keys/index';
import { AppNotFound, ValidationError } from '../../functions/domain/errors';
import { appKeyItemKey, appRecordItemKey, keyHashItemKey } from '../../lib/shared/item-keys';
import type { TableNames } from '../../lib/local/tables';
import { createTestTables, scanAll, testDynamoDbClient } from '../support/dynamodb';

/**
 * The app registry: one `apps / app#<appUid>` item per app in the keys table,
 * kept in step with the keys by create-key and delete-key, read by get-app
 * and list-apps without a scan.
 */
let client: DynamoDBClient;
let db: DynamoDBDocumentClient;
let tables: TableNames;

beforeAll(async () => {
  client = testDynamoDbClient();
  db = DynamoDBDocumentClient.from(client);
  tables = await createTestTables(client);
});
afterAll(() => client.destroy());

const keyCountOf = async (appUid: string) => (await getAppHandler({ appUid })).keyCount;

describe('get-app', () => {
  test('an app is registered by its first key, counts its keys, and keeps its record at zero keys', async () => {
    const before = Date.now();
    const first = await createKeyHandler({ appUid: 'reg-a', name: 'one' });
    const app = await getAppHandler({ appUid: 'reg-a' });
    expect(app).toEqual({ appUid: 'reg-a', createdAt: first.createdAt, keyCount: 1 });
    expect(Date.parse(app.createdAt)).toBeGreaterThanOrEqual(before);

    const second = await createKeyHandler({ appUid: 'reg-a', name: 'two' });
    expect(await getAppHandler({ appUid: 'reg-a' })).toEqual({ appUid: 'reg-a', createdAt: first.createdAt, keyCount: 2 });

    await deleteKeyHandler({ appUid: 'reg-a', keyId: first.keyId });
    await deleteKeyHandler({ appUid: 'reg-a', keyId: second.keyId });
    expect(await getAppHandler({ appUid: 'reg-a' })).toEqual({ appUid: 'reg-a', createdAt: first.createdAt, keyCount: 0 });
  });

  test('an app that never had a key: AppNotFound', async () => {
    await expect(getAppHandler({ appUid: 'never-had-keys' })).rejects.toBeInstanceOf(AppNotFound);
    await expect(getAppHandler({ appUid: 'never-had-keys' })).rejects.toMatchObject({ name: 'AppNotFound', message: 'app never-had-keys not found: it has no keys and no plan' });
  });

  test.each([
    [{}, 'appUid'],
    [{ appUid: 'a/b' }, 'appUid'],
    [{ appUid: 'a', extra: 1 }, 'extra'],
  ])('bad input %j: ValidationError naming %s', async (input, field) => {
    await expect(getAppHandler(input)).rejects.toMatchObject({ name: 'ValidationError', field });
  });

  test('concurrent first keys of a new app: one registration, every key counted', async () => {
    const created = await Promise.all(Array.from({ length: 12 }, (_, i) => createKeyHandler({ appUid: 'reg-race', name: `k${i}` })));
    expect(await keyCountOf('reg-race')).toBe(12);
    expect((await listKeysHandler({ appUid: 'reg-race', limit: 100 })).keys).toHaveLength(created.length);
  });

  test('a delete that fails (unknown key) leaves the count alone', async () => {
    await createKeyHandler({ appUid: 'reg-fail', name: 'one' });
    await expect(deleteKeyHandler({ appUid: 'reg-fail', keyId: 'key_AAAAAAAAAAAAAAAAAAAA' })).rejects.toMatchObject({ name: 'KeyNotFound' });
    expect(await keyCountOf('reg-fail')).toBe(1);
  });
});

describe('apps from before the registry', () => {
  /** Writes a key's two items as keygate did before the registry existed. */
  async function legacyKey(appUid: string, keyId: string, createdAt: string) {
    const key = { keyId, appUid, name: 'old', displayPrefix: 'kg_OLDOLDOL', createdAt };
    const keyHash = `legacy-${keyId}`;
    await db.send(new PutCommand({ TableName: tables.Keys, Item: { ...keyHashItemKey(keyHash), ...key } }));
    await db.send(new PutCommand({ TableName: tables.Keys, Item: { ...appKeyItemKey(appUid, keyId), ...key, keyHash } }));
  }

  test('are registered by their next create, counting the keys they had and dated by the oldest', async () => {
    await legacyKey('legacy-a', 'key_LLLLLLLLLLLLLLLLLLL1', '2025-01-02T00:00:00.000Z');
    await legacyKey('legacy-a', 'key_LLLLLLLLLLLLLLLLLLL2', '2025-01-01T00:00:00.000Z');
    await expect(getAppHandler({ appUid: 'legacy-a' })).rejects.toBeInstanceOf(AppNotFound);

    await createKeyHandler({ appUid: 'legacy-a', name: 'new' });
    expect(await getAppHandler({ appUid: 'legacy-a' })).toEqual({ appUid: 'legacy-a', createdAt: '2025-01-01T00:00:00.000Z', keyCount: 3 });
  });

  test('a delete before registration leaves no record (and no negative count); the next create counts what is left', async () => {
    await legacyKey('legacy-b', 'key_LLLLLLLLLLLLLLLLLLL3', '2025-01-01T00:00:00.000Z');
    await legacyKey('legacy-b', 'key_LLLLLLLLLLLLLLLLLLL4', '2025-01-01T00:00:00.000Z');
    await deleteKeyHandler({ appUid: 'legacy-b', keyId: 'key_LLLLLLLLLLLLLLLLLLL3' });
    const registry = (await scanAll(client, tables.Keys)).filter((item) => item.pk === appRecordItemKey('legacy-b').pk && item.sk === appRecordItemKey('legacy-b').sk);
    expect(registry).toEqual([]);

    await createKeyHandler({ appUid: 'legacy-b', name: 'new' });
    expect(await keyCountOf('legacy-b')).toBe(2);
  });
});

describe('list-apps', () => {
  test('pages with limit and nextToken cover every app exactly once, each with its count', async () => {
    const { apps: before } = await listAppsHandler({ limit: 100 });
    for (const appUid of ['list-1', 'list-2', 'list-3', 'list-4', 'list-5']) await createKeyHandler({ appUid, name: 'k' });
    await createKeyHandler({ appUid: 'list-3', name: 'k2' });

    const seen: { appUid: string; keyCount: number }[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await listAppsHandler({ limit: 2, ...(nextToken ? { nextToken } : {}) });
      expect(page.apps.length).toBeLessThanOrEqual(2);
      seen.push(...page.apps);
      nextToken = page.nextToken;
      pages += 1;
    } while (nextToken);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(seen.map((app) => app.appUid)).toEqual([...new Set(seen.map((app) => app.appUid))]);
    expect(seen).toHaveLength(before.length + 5);
    expect(seen.filter((app) => app.appUid.startsWith('list-'))).toEqual([
      expect.objectContaining({ appUid: 'list-1', keyCount: 1 }),
      expect.objectContaining({ appUid: 'list-2', keyCount: 1 }),
      expect.objectContaining({ appUid: 'list-3', keyCount: 2 }),
      expect.objectContaining({ appUid: 'list-4', keyCount: 1 }),
      expect.objectContaining({ appUid: 'list-5', keyCount: 1 }),
    ]);
  });

  test('the items are exactly { appUid, createdAt, keyCount }', async () => {
    await createKeyHandler({ appUid: 'shape', name: 'k' });
    const { apps } = await listAppsHandler({});
    expect(Object.keys(apps.find((app) => app.appUid === 'shape')!).sort()).toEqual(['appUid', 'createdAt', 'keyCount']);
  });

  test.each([
    [{ limit: 0 }, 'limit'],
    [{ limit: 101 }, 'limit'],
    [{ limit: 'ten' }, 'limit'],
    [{ nextToken: 'not-a-token' }, 'nextToken'],
    [{ nextToken: Buffer.from(JSON.stringify({ sk: 'key#key_x' })).toString('base64url') }, 'nextToken'],
    [{ appUid: 'x' }, 'appUid'],
  ])('bad input %j: ValidationError naming %s', async (input, field) => {
    const failure = await listAppsHandler(input).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ValidationError);
    expect(failure).toMatchObject({ field });
  });
});
