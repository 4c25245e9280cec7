import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { handler as deleteKeyHandler } from '../../functions/delete-key/index';
import { handler as deleteUserHandler } from '../../functions/delete-user/index';
import { handler as revokeSessionsHandler } from '../../functions/revoke-sessions/index';
import { handler as sdkUsersMe } from '../../functions/sdkusers-me/index';
import { handler as sessionAuthorizer } from '../../functions/session-authorizer/index';
import { UserBeingDeleted, UserNotFound } from '../../functions/domain/errors';
import { deleteUser, revokeSessions, SESSIONS_PER_ROUND, TIME_RESERVE_MS, type TimeBudget } from '../../functions/domain/session-admin';
import { ActivityStore } from '../../functions/stores/activity-store';
import { SessionStore } from '../../functions/stores/session-store';
import { UserStore } from '../../functions/stores/user-store';
import { userItemKey } from '../../lib/shared/item-keys';
import type { TableNames } from '../../lib/local/tables';
import { createTestTables, scanAll, testDynamoDbClient } from '../support/dynamodb';
import { gatewayOutcome, proxyEvent } from '../support/events';
import { authenticate, bearer, keyCaller, sessionStatus, signIn } from '../support/session-flow';
import { testSealer } from '../support/seals';

/**
 * revoke-sessions and delete-user on DynamoDB Local, through the handlers the
 * bundles are built from (the e2e suite runs the bundles through npm start).
 */
let client: DynamoDBClient;
let db: DynamoDBDocumentClient;
let tables: TableNames;
let sessions: SessionStore;
let users: UserStore;
let activity: ActivityStore;

beforeAll(async () => {
  client = testDynamoDbClient();
  db = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  tables = await createTestTables(client);
  sessions = new SessionStore(db, tables.Sessions, tables.Users, testSealer);
  users = new UserStore(db, tables.Users);
  activity = new ActivityStore(db, tables.Keys);
});
afterAll(() => client.destroy());

const NO_DEADLINE: TimeBudget = { remainingMs: () => Number.POSITIVE_INFINITY };
const deps = () => ({ sessions, users, activity, now: () => new Date() });
/** Every item of the three tables as text, string sets included. */
const tableDump = async () =>
  JSON.stringify(await Promise.all([tables.Keys, tables.Sessions, tables.Users].map((name) => scanAll(client, name))), (_key, value: unknown) =>
    value instanceof Set ? [...(value as Set<unknown>)] : value,
  );
/** The values of `values` that some item holds (case-insensitively), so a failure lists them rather than every item. */
const heldValues = (dump: string, values: readonly string[]) => values.filter((value) => dump.toLowerCase().includes(value.toLowerCase()));

/**
 * One app with two keys and three users, and a second app with a user of the
 * same externalId: five sessions, named by what tells them apart.
 */
async function fixture(appUid: string) {
  const k1 = await keyCaller(appUid);
  const k2 = await keyCaller(appUid);
  const other = await keyCaller(`${appUid}-other`);
  const tokens = {
    aliceByK1: await signIn(k1.context, { externalId: 'alice' }),
    aliceByK2: await signIn(k2.context, { externalId: 'alice' }),
    bobByK1: await signIn(k1.context, { externalId: 'bob' }),
    carolByK2: await signIn(k2.context, { userEmail: 'carol@example.com' }),
    otherAppAlice: await signIn(other.context, { externalId: 'alice' }),
  };
  const contextOf = async (token: string, app = appUid) => {
    const outcome = await gatewayOutcome(sessionAuthorizer, bearer(token, app));
    if (outcome.status !== 200) throw new Error(`session refused with ${outcome.status}`);
    return outcome.context;
  };
  const aliceByK2 = await contextOf(tokens.aliceByK2);
  const statuses = async () => ({
    aliceByK1: await sessionStatus(tokens.aliceByK1, appUid),
    aliceByK2: await sessionStatus(tokens.aliceByK2, appUid),
    bobByK1: await sessionStatus(tokens.bobByK1, appUid),
    carolByK2: await sessionStatus(tokens.carolByK2, appUid),
    otherAppAlice: await sessionStatus(tokens.otherAppAlice, `${appUid}-other`),
  });
  return { k1, k2, tokens, aliceUserId: aliceByK2.userId!, aliceByK2SessionId: aliceByK2.sessionId!, contextOf, statuses };
}

type Fixture = Awaited<ReturnType<typeof fixture>>;

describe('revoke-sessions: each selector ends exactly the matching sessions', () => {
  const cases: [string, (f: Fixture) => Record<string, string>, number, Partial<Record<keyof Fixture['tokens'], 401>>][] = [
    ['userId', (f) => ({ userId: f.aliceUserId }), 2, { aliceByK1: 401, aliceByK2: 401 }],
    ['externalId', () => ({ externalId: 'alice' }), 2, { aliceByK1: 401, aliceByK2: 401 }],
    ['createdByKeyId', (f) => ({ createdByKeyId: f.k2.created.keyId }), 2, { aliceByK2: 401, carolByK2: 401 }],
    ['sessionId', (f) => ({ sessionId: f.aliceByK2SessionId }), 1, { aliceByK2: 401 }],
  ];

  test.each(cases)('by %s', async (selector, pick, revoked, refused) => {
    const appUid = `rv-${selector}`;
    const f = await fixture(appUid);
    expect(await f.statuses()).toEqual({ aliceByK1: 200, aliceByK2: 200, bobByK1: 200, carolByK2: 200, otherAppAlice: 200 });

    expect(await revokeSessionsHandler({ appUid, ...pick(f) })).toEqual({ revoked });
    // The very next request: 401 for exactly the matching sessions; every other one, the other app's included, still works.
    expect(await f.statuses()).toEqual({ aliceByK1: 200, aliceByK2: 200, bobByK1: 200, carolByK2: 200, otherAppAlice: 200, ...refused });

    // Idempotent: nothing left to end.
    expect(await revokeSessionsHandler({ appUid, ...pick(f) })).toEqual({ revoked: 0 });
  });

  test('revoking leaves no item of the ended sessions behind, and nothing of the others is touched', async () => {
    const appUid = 'rv-clean';
    const f = await fixture(appUid);
    const before = await scanAll(client, tables.Sessions);
    await revokeSessionsHandler({ appUid, userId: f.aliceUserId });
    const after = await scanAll(client, tables.Sessions);
    const aliceItems = before.filter((item) => item.userId === f.aliceUserId);
    // Two sessions, each its own item and three index items.
    expect(aliceItems).toHaveLength(8);
    expect(after).toEqual(before.filter((item) => item.userId !== f.aliceUserId));
  });

  test('another app cannot revoke these sessions, whatever selector it names', async () => {
    const appUid = 'rv-own';
    const f = await fixture(appUid);
    const foreign = 'rv-foreign';
    expect(await revokeSessionsHandler({ appUid: foreign, userId: f.aliceUserId })).toEqual({ revoked: 0 });
    expect(await revokeSessionsHandler({ appUid: foreign, createdByKeyId: f.k1.created.keyId })).toEqual({ revoked: 0 });
    expect(await revokeSessionsHandler({ appUid: foreign, sessionId: f.aliceByK2SessionId })).toEqual({ revoked: 0 });
    expect(Object.values(await f.statuses()).every((status) => status === 200)).toBe(true);
  });

  test('an unknown externalId: UserNotFound, which names the field and not the value', async () => {
    const failure = await revokeSessionsHandler({ appUid: 'rv-none', externalId: 'nobody-here' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UserNotFound);
    expect((failure as Error).message).toBe('no user with that externalId in app rv-none');
  });

  test.each([
    [{ appUid: 'rv-bad' }, 'userId', 'exactly one of userId, externalId, createdByKeyId or sessionId is required'],
    [{ appUid: 'rv-bad', userId: 'usr_AAAAAAAAAAAAAAAAAAAA', sessionId: 'ses_AAAAAAAAAAAAAAAAAAAA' }, 'userId', 'exactly one of'],
    [{ appUid: 'rv-bad', userId: 'alice' }, 'userId', "userId must be 'usr_' followed by 20 letters or digits"],
    [{ appUid: 'rv-bad', createdByKeyId: 'usr_AAAAAAAAAAAAAAAAAAAA' }, 'createdByKeyId', "createdByKeyId must be 'key_'"],
    [{ appUid: 'rv-bad', sessionId: 7 }, 'sessionId', 'sessionId must be a string'],
    [{ appUid: 'rv-bad', externalId: 'a b' }, 'externalId', 'externalId may contain only'],
    [{ userId: 'usr_AAAAAAAAAAAAAAAAAAAA' }, 'appUid', 'appUid is required'],
    [{ appUid: 'rv-bad', userId: 'usr_AAAAAAAAAAAAAAAAAAAA', all: true }, 'all', 'unknown field all'],
  ])('bad input %j: ValidationError naming %s, nothing written', async (input, field, message) => {
    const before = await tableDump();
    const failure = await revokeSessionsHandler(input).catch((error: unknown) => error);
    expect(failure).toMatchObject({ name: 'ValidationError', field });
    expect((failure as Error).message).toContain(message);
    expect(await tableDump()).toBe(before);
  });

  test('a session that has already expired is cleaned up but not counted', async () => {
    const appUid = 'rv-expired';
    const { context } = await keyCaller(appUid);
    await signIn(context, { externalId: 'late' });
    const [session] = await sessions.find(appUid, { userId: (await users.get(appUid, 'late'))!.userId }, 10);
    // The session item past its expiry (TTL has not removed it yet): ending it is not a revocation.
    const ended = await sessions.end(appUid, [session!], new Date(Date.parse(session!.expiresAt) + 1000));
    expect(ended).toBe(0);
    expect((await scanAll(client, tables.Sessions)).filter((item) => item.sessionId === session!.sessionId)).toEqual([]);
  });
});

describe('the activity log', () => {
  test('each revoke-sessions call and each erasure writes one event, with keygate ids and never personal data', async () => {
    const appUid = 'rv-log';
    const k1 = await keyCaller(appUid);
    await signIn(k1.context, { externalId: 'logged-user', name: 'Logged Person' });
    await signIn(k1.context, { userEmail: 'logged@example.com' });
    const userId = (await users.get(appUid, 'logged-user'))!.userId;

    expect(await revokeSessionsHandler({ appUid, externalId: 'logged-user', requestedBy: 'local:test' })).toEqual({ revoked: 1 });
    expect(await revokeSessionsHandler({ appUid, createdByKeyId: k1.created.keyId })).toEqual({ revoked: 1 });
    await expect(revokeSessionsHandler({ appUid, externalId: 'nobody' })).rejects.toBeInstanceOf(UserNotFound);
    expect(await deleteUserHandler({ appUid, userEmail: 'logged@example.com' })).toMatchObject({ deleted: true, sessionsRevoked: 0 });

    const { events } = await activity.list(appUid, { limit: 10 });
    expect(events.map(({ action, keyId, requestedBy, details }) => ({ action, keyId, requestedBy, details }))).toEqual([
      { action: 'user-deleted', keyId: undefined, requestedBy: undefined, details: { sessionsRevoked: 0 } },
      { action: 'sessions-revoked', keyId: k1.created.keyId, requestedBy: undefined, details: { createdByKeyId: k1.created.keyId, revoked: 1 } },
      // The externalId is the customer's data: the event names the user by keygate's userId.
      { action: 'sessions-revoked', keyId: undefined, requestedBy: 'local:test', details: { userId, revoked: 1 } },
      { action: 'created', keyId: k1.created.keyId, requestedBy: undefined, details: { name: 'server' } },
    ]);
    expect(heldValues(JSON.stringify(events), ['logged-user', 'logged@example.com', 'Logged Person'])).toEqual([]);
  });
});

describe('keys and sessions stay independent', () => {
  test('deleting a key leaves its sessions valid; revoking by createdByKeyId then ends them', async () => {
    const appUid = 'rv-key-deleted';
    const { created, context } = await keyCaller(appUid);
    const tokens = [await signIn(context, { externalId: 'u1' }), await signIn(context, { externalId: 'u2' })];
    const keep = await keyCaller(appUid);
    const unrelated = await signIn(keep.context, { externalId: 'u1' });

    await deleteKeyHandler({ appUid, keyId: created.keyId });
    for (const token of tokens) expect(await sessionStatus(token, appUid)).toBe(200);

    expect(await revokeSessionsHandler({ appUid, createdByKeyId: created.keyId })).toEqual({ revoked: 2 });
    for (const token of tokens) expect(await sessionStatus(token, appUid)).toBe(401);
    expect(await sessionStatus(unrelated, appUid)).toBe(200);
  });
});

describe('revocation under concurrency: every session that existed is ended and counted once', () => {
  test('sign-ins racing revoke calls (40 rounds)', async () => {
    const appUid = 'rv-race';
    const { context } = await keyCaller(appUid);
    await signIn(context, { externalId: 'racer' });
    const userId = (await users.get(appUid, 'racer'))!.userId;
    await revokeSessionsHandler({ appUid, userId });
    let created = 0;
    let revoked = 0;
    for (let round = 0; round < 40; round++) {
      const before = await Promise.all([1, 2, 3].map(() => signIn(context, { externalId: 'racer' })));
      created += before.length;
      // Two more sign-ins while the revoke runs: each is either seen (and counted) or made after the read.
      const [result, ...during] = await Promise.all([
        revokeSessionsHandler({ appUid, userId }),
        signIn(context, { externalId: 'racer' }),
        signIn(context, { externalId: 'racer' }),
      ]);
      created += during.length;
      revoked += (result as { revoked: number }).revoked;
      // Sessions that existed before the call are refused once it has returned.
      for (const token of before) expect(await sessionStatus(token, appUid)).toBe(401);
    }
    revoked += (await revokeSessionsHandler({ appUid, userId })).revoked;
    expect(revoked).toBe(created);
    expect((await scanAll(client, tables.Sessions)).filter((item) => item.userId === userId)).toEqual([]);
  });
});

describe('a revoke with more sessions than one invocation has time for', () => {
  test('stops with `incomplete` when time runs short; calling again ends the rest', async () => {
    const appUid = 'rv-many';
    const { context } = await keyCaller(appUid);
    const count = SESSIONS_PER_ROUND + 20;
    const tokens: string[] = [];
    for (let i = 0; i < count; i += 10) tokens.push(...(await Promise.all(Array.from({ length: 10 }, () => signIn(context, { externalId: 'busy' })))));
    const userId = (await users.get(appUid, 'busy'))!.userId;

    // Time for one round, then below the reserve.
    let checks = 0;
    const shortBudget: TimeBudget = { remainingMs: () => (checks++ === 0 ? 60_000 : TIME_RESERVE_MS - 1) };
    const first = await revokeSessions(deps(), { appUid, userId }, shortBudget);
    expect(first).toEqual({ revoked: SESSIONS_PER_ROUND, incomplete: true });
    const statuses = await Promise.all(tokens.map((token) => sessionStatus(token, appUid)));
    expect(statuses.filter((status) => status === 401)).toHaveLength(SESSIONS_PER_ROUND);

    expect(await revokeSessions(deps(), { appUid, userId }, NO_DEADLINE)).toEqual({ revoked: 20 });
    expect(new Set(await Promise.all(tokens.map((token) => sessionStatus(token, appUid))))).toEqual(new Set([401]));
  });
});

describe('delete-user', () => {
  test.each([
    ['externalId', { externalId: 'erase-me-ext' }, { externalId: 'erase-me-ext', name: 'Erasable Name', accountUids: ['acct-erase-1'] }],
    ['userEmail', { userEmail: 'Erase.Me@Example.com' }, { userEmail: 'erase.me@example.com', name: 'Mail Person' }],
    ['userId', undefined, { externalId: 'erase-by-id', name: 'Id Person' }],
  ])('by %s: no item keeps the email, externalId or name; sessions end; other users stay', async (selector, given, body) => {
    const appUid = `du-${selector}`;
    const { context } = await keyCaller(appUid);
    const tokens = [await signIn(context, body), await signIn(context, body)];
    const bystander = await signIn(context, { externalId: 'bystander', name: 'Stays Here' });
    const outcome = await gatewayOutcome(sessionAuthorizer, bearer(tokens[0]!, appUid));
    const userId = outcome.status === 200 ? outcome.context.userId! : '';
    const personal = Object.values(body).flat().map(String);
    expect(heldValues(await tableDump(), personal)).toEqual(personal);

    const result = await deleteUserHandler({ appUid, ...(given ?? { userId }) });
    expect(result).toEqual({ userId, deleted: true, sessionsRevoked: 2 });

    const after = await tableDump();
    expect(heldValues(after, [...personal, userId])).toEqual([]);
    for (const token of tokens) expect(await sessionStatus(token, appUid)).toBe(401);
    expect(await sessionStatus(bystander, appUid)).toBe(200);
    expect(heldValues(after, ['Stays Here'])).toEqual(['Stays Here']);

    // Gone: a second call finds nobody; a new sign-in with the same externalId or email is a new user.
    await expect(deleteUserHandler({ appUid, ...(given ?? { userId }) })).rejects.toBeInstanceOf(UserNotFound);
    const fresh = await gatewayOutcome(sessionAuthorizer, bearer(await signIn(context, body), appUid));
    expect(fresh.status).toBe(200);
    expect((fresh as { context: Record<string, string> }).context.userId).not.toBe(userId);
  });

  test.each([
    [{ appUid: 'du-bad' }, 'userId'],
    [{ appUid: 'du-bad', externalId: 'a', userEmail: 'a@example.com' }, 'userId'],
    [{ appUid: 'du-bad', userEmail: 'not-an-email' }, 'userEmail'],
    [{ appUid: 'du-bad', sessionId: 'ses_AAAAAAAAAAAAAAAAAAAA' }, 'sessionId'],
  ])('bad input %j: ValidationError naming %s, nothing written', async (input, field) => {
    const before = await tableDump();
    await expect(deleteUserHandler(input)).rejects.toMatchObject({ name: 'ValidationError', field });
    expect(await tableDump()).toBe(before);
  });

  test('while a deletion is under way the user gets no new session (503); it can be finished by calling again', async () => {
    const appUid = 'du-partial';
    const { context } = await keyCaller(appUid);
    const tokens = await Promise.all(Array.from({ length: 3 }, () => signIn(context, { externalId: 'slow', name: 'Slow Person' })));
    // Out of time before the first round: the user is marked, nothing else yet.
    const first = await deleteUser(deps(), { appUid, externalId: 'slow' }, { remainingMs: () => 0 });
    expect(first).toMatchObject({ deleted: false, sessionsRevoked: 0, incomplete: true });

    const refused = await authenticate(context, { externalId: 'slow' });
    expect(refused.status).toBe(503);
    expect(await sdkUsersMe(proxyEvent({ method: 'GET', context: (await gatewayOutcome(sessionAuthorizer, bearer(tokens[0]!, appUid)) as { context: Record<string, string> }).context }))).toMatchObject({ statusCode: 200 });

    expect(await deleteUserHandler({ appUid, externalId: 'slow' })).toEqual({ userId: first.userId, deleted: true, sessionsRevoked: 3 });
    expect(heldValues(await tableDump(), ['Slow Person'])).toEqual([]);
    expect(await authenticate(context, { externalId: 'slow' })).toMatchObject({ status: 200 });
  });

  test('a session whose user is deleted before it is written is not written (the transaction checks the user)', async () => {
    const appUid = 'du-check';
    const { context } = await keyCaller(appUid);
    await signIn(context, { externalId: 'gone' });
    const user = (await users.get(appUid, 'gone'))!;
    await deleteUserHandler({ appUid, externalId: 'gone' });
    const before = await scanAll(client, tables.Sessions);
    const session = {
      sessionId: 'ses_AAAAAAAAAAAAAAAAAAAA',
      appUid,
      userId: user.userId,
      userKey: 'gone',
      createdAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
      expiresAtEpoch: Math.ceil(Date.now() / 1000) + 60,
      createdByKeyId: 'key_AAAAAAAAAAAAAAAAAAAA',
    };
    await expect(sessions.create(session, 'hash-of-a-token')).rejects.toBeInstanceOf(UserBeingDeleted);
    expect(await scanAll(client, tables.Sessions)).toEqual(before);
  });

  test('a user from before the userid# items can be deleted by userId after their next sign-in', async () => {
    const appUid = 'du-legacy';
    // The user item as keygate wrote it before: no userid# item, no userIdIndexed.
    await db.send(
      new PutCommand({
        TableName: tables.Users,
        Item: { ...userItemKey(appUid, 'old-timer'), userId: 'usr_OLDOLDOLDOLDOLDOLDOL', externalId: 'old-timer', name: 'Old Timer', createdAt: '2025-01-01T00:00:00.000Z' },
      }),
    );
    await expect(deleteUserHandler({ appUid, userId: 'usr_OLDOLDOLDOLDOLDOLDOL' })).rejects.toBeInstanceOf(UserNotFound);

    const { context } = await keyCaller(appUid);
    const token = await signIn(context, { externalId: 'old-timer' });
    expect(await deleteUserHandler({ appUid, userId: 'usr_OLDOLDOLDOLDOLDOLDOL' })).toEqual({ userId: 'usr_OLDOLDOLDOLDOLDOLDOL', deleted: true, sessionsRevoked: 1 });
    expect(await sessionStatus(token, appUid)).toBe(401);
    expect(heldValues(await tableDump(), ['old-timer', 'Old Timer'])).toEqual([]);
  });
});
