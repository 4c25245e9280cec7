import fc from 'fast-check';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { handler as createKeyHandler } from '../../functions/create-key/index';
import { handler as deleteKeyHandler } from '../../functions/delete-key/index';
import { handler as listKeysHandler } from '../../functions/list-keys/index';
import { handler as rollKeyHandler } from '../../functions/roll-key/index';
import { handler as updateKeyHandler } from '../../functions/update-key/index';
import { handler as listKeyEventsHandler } from '../../functions/list-key-events/index';
import { handler as listAppsHandler } from '../../functions/list-apps/index';
import { handler as getAppHandler } from '../../functions/get-app/index';
import { handler as revokeSessionsHandler } from '../../functions/revoke-sessions/index';
import { handler as deleteUserHandler } from '../../functions/delete-user/index';
import { handler as sealRecordsHandler } from '../../functions/seal-records/index';
import { handler as sdkUsersAuth } from '../../functions/sdkusers-auth/index';
import { handler as revokeKeys } from '../../functions/revoke-keys/index';
import { credentialFormat } from '../../functions/domain/credential-format';
import { ValidationError } from '../../functions/domain/errors';
import { createTestTables, scanAll, testDynamoDbClient } from '../support/dynamodb';
import { proxyEvent } from '../support/events';
import type { TableNames } from '../../lib/local/tables';

/**
 * Fuzzes the admin payloads (create-key, list-keys, delete-key, roll-key,
 * update-key, list-key-events, list-apps, get-app, revoke-sessions,
 * delete-user), the public revoke body and the
 * sdkusers/auth body with generated malformed input, one kind at a time.
 * Each kind breaks exactly one field of an otherwise valid payload, so the
 * expected `field` is known: the function must fail with ValidationError
 * naming it (400 naming it for sdkusers/auth), and a consistent scan of every
 * table must be unchanged.
 */

let client: DynamoDBClient;
let tables: TableNames;
let existing: { keyId: string; apiKey: string };

beforeAll(async () => {
  client = testDynamoDbClient();
  tables = await createTestTables(client);
  existing = await createKeyHandler({ appUid: 'adm-app', name: 'existing' });
  // A user with a live session, so that a revoke or delete that slipped through would change the tables.
  const signedIn = await sdkUsersAuth(proxyEvent({ body: JSON.stringify({ externalId: 'user-1', name: 'Fuzz Person' }), context: { appUid: 'adm-app', keyId: existing.keyId } }));
  expect(signedIn.statusCode).toBe(200);
});
afterAll(() => client.destroy());

async function snapshot(): Promise<string> {
  const all = await Promise.all([tables.Keys, tables.Sessions, tables.Users].map((name) => scanAll(client, name)));
  return JSON.stringify(all.map((items) => items.map((item) => JSON.stringify(item)).sort()));
}

// ------------------------------------------------------------- building blocks

const ID_OK = /^[A-Za-z0-9_-]+$/;
const notAString = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));
const badIdChars = fc.string({ minLength: 1, maxLength: 60, unit: 'binary' }).filter((s) => !ID_OK.test(s));
const tooLongId = fc.integer({ min: 129, max: 5000 }).map((n) => 'a'.repeat(n));
// Identifier-like names: the error names them. (Names that are not identifiers may be reported as '(unknown field)', see secret-hygiene.test.ts.)
const unknownFieldName = (known: string[]) => fc.stringMatching(/^[a-z][A-Za-z0-9]{0,29}$/).filter((name) => !known.includes(name) && !(name in Object.prototype));
const validCreate = { appUid: 'adm-app', name: 'fuzzed' };
const validList = { appUid: 'adm-app' };
const validDelete = () => ({ appUid: 'adm-app', keyId: existing.keyId });
const validAuth = { externalId: 'user-1' };
const notIsoDate = fc.string({ maxLength: 40 }).filter((s) => !/^\d{4}-\d\d-\d\dT/.test(s));
/** A well-formed key or session token of any valid prefix, with id characters (or any text) around it. */
const credentialIn = (around: fc.Arbitrary<string>) =>
  fc.tuple(fc.stringMatching(/^[a-z][a-z0-9]{0,15}$/), around, around).map(([prefix, before, after]) => `${before}${credentialFormat(prefix).generate()}${after}`);
const idChars = fc.stringMatching(/^[A-Za-z0-9_-]{0,20}$/);
const pastDate = fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date(Date.now() - 60_000), noInvalidDate: true }).map((d) => d.toISOString());

type Kind = {
  readonly target: 'create' | 'list' | 'delete' | 'roll' | 'update' | 'events' | 'auth' | 'revoke' | 'listApps' | 'getApp' | 'revokeSessions' | 'deleteUser' | 'sealRecords';
  readonly field: string | ((payload: unknown) => string);
  readonly payload: fc.Arbitrary<unknown>;
};

const with_ = <T extends object>(base: T | (() => T), field: string, value: fc.Arbitrary<unknown>) =>
  value.map((v) => ({ ...(typeof base === 'function' ? base() : base), [field]: v }));
const without = <T extends object>(base: T | (() => T), field: string) =>
  fc.constant(null).map(() => {
    const copy = { ...(typeof base === 'function' ? base() : base) } as Record<string, unknown>;
    delete copy[field];
    return copy;
  });
const unknownField = (base: object | (() => object), known: string[]) =>
  fc.tuple(unknownFieldName(known), fc.jsonValue()).map(([name, value]) => ({ ...(typeof base === 'function' ? base() : base), [name]: value }));
const nameOfExtraField = (known: string[]) => (payload: unknown) => Object.keys(payload as object).find((k) => !known.includes(k))!;

const CREATE = ['appUid', 'name', 'expiresAt', 'requestedBy'];
const LIST = ['appUid', 'limit', 'nextToken'];
const DELETE = ['appUid', 'keyId', 'requestedBy'];
const ROLL = ['appUid', 'keyId', 'gracePeriodSeconds', 'name', 'expiresAt', 'requestedBy'];
const UPDATE = ['appUid', 'keyId', 'name', 'expiresAt', 'enabled', 'requestedBy'];
const EVENTS = ['appUid', 'keyId', 'limit', 'nextToken'];
const validRoll = () => ({ appUid: 'adm-app', keyId: existing.keyId });
// The key is enabled: were a malformed payload ever accepted, it would still change nothing.
const validUpdate = () => ({ appUid: 'adm-app', keyId: existing.keyId, enabled: true });
const validEvents = { appUid: 'adm-app' };
const wrongKeyId = fc.oneof(fc.string({ maxLength: 60 }).filter((s) => !/^key_[0-9A-Za-z]{20}$/.test(s)), notAString);
// A character outside printable ASCII inside the value (not at an end, where trimming would remove whitespace).
const badRequestedBy = fc.oneof(
  notAString,
  fc.tuple(fc.string({ maxLength: 20 }), fc.constantFrom('\n', '\t', '\u0000', '\u007f', 'é', '\u2028', '\ud83d\udd11'), fc.string({ maxLength: 20 })).map(([a, bad, b]) => `x${a}${bad}${b}x`),
  fc.integer({ min: 257, max: 3000 }).map((n) => 'r'.repeat(n)),
  fc.string({ unit: fc.constantFrom(' ', '\t', '\n'), maxLength: 10 }),
);
const badGrace = fc.oneof(
  fc.integer({ max: -1 }),
  fc.integer({ min: 604801 }),
  fc.double({ noInteger: true }),
  fc.constantFrom(Number.NaN, Infinity, -Infinity),
  fc.string(),
  fc.boolean(),
  fc.constant(null),
);
const AUTH = ['externalId', 'userEmail', 'name', 'accountUids'];
const validRevoke = { keys: ['kg_x'] };
const REVOKE_SESSIONS = ['appUid', 'userId', 'externalId', 'createdByKeyId', 'sessionId'];
const DELETE_USER = ['appUid', 'userId', 'externalId', 'userEmail'];
const validRevokeSessions = { appUid: 'adm-app', externalId: 'user-1' };
const validDeleteUser = { appUid: 'adm-app', externalId: 'user-1' };
const SEAL_RECORDS = ['limit', 'nextToken'];
/** What seal-records' nextToken decodes to when it is one of its own: a kind of item, maybe a start key. */
const isSealPosition = (value: unknown) => value !== null && typeof value === 'object' && ['key', 'session'].includes((value as { kind?: unknown }).kind as string);
const ID = (kind: string) => fc.stringMatching(new RegExp(`^${kind}_[0-9A-Za-z]{20}$`));
/** Values that are not `<kind>_` + 20 base62 characters: other shapes, other kinds' ids, keys and tokens. */
const notAnId = (kind: string) =>
  fc.oneof(
    fc.string({ maxLength: 60 }).filter((s) => !new RegExp(`^${kind}_[0-9A-Za-z]{20}$`).test(s)),
    ID(kind === 'key' ? 'usr' : 'key'),
    fc.constant(null).map(() => existing.apiKey),
    notAString,
  );

const KINDS: Record<string, Kind> = {
  'create: top level not an object': { target: 'create', field: '(body)', payload: fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.jsonValue(), { maxLength: 3 })) },
  'create: appUid missing': { target: 'create', field: 'appUid', payload: without(validCreate, 'appUid') },
  'create: appUid not a string': { target: 'create', field: 'appUid', payload: with_(validCreate, 'appUid', notAString) },
  'create: appUid empty': { target: 'create', field: 'appUid', payload: with_(validCreate, 'appUid', fc.constant('')) },
  'create: appUid with forbidden characters (/, *, #, unicode, control)': { target: 'create', field: 'appUid', payload: with_(validCreate, 'appUid', badIdChars) },
  'create: appUid over 128 characters': { target: 'create', field: 'appUid', payload: with_(validCreate, 'appUid', tooLongId) },
  'create: name missing': { target: 'create', field: 'name', payload: without(validCreate, 'name') },
  'create: name not a string': { target: 'create', field: 'name', payload: with_(validCreate, 'name', notAString) },
  'create: name only whitespace': { target: 'create', field: 'name', payload: with_(validCreate, 'name', fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r', '\u00a0', '\u2003', '\ufeff'), maxLength: 50 })) },
  'create: name over 100 characters': { target: 'create', field: 'name', payload: with_(validCreate, 'name', fc.integer({ min: 101, max: 10_000 }).map((n) => 'n'.repeat(n))) },
  'create: expiresAt not an ISO date-time': { target: 'create', field: 'expiresAt', payload: with_(validCreate, 'expiresAt', notIsoDate) },
  'create: expiresAt not a string': { target: 'create', field: 'expiresAt', payload: with_(validCreate, 'expiresAt', fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.object({ maxDepth: 0 }))) },
  'create: expiresAt in the past': { target: 'create', field: 'expiresAt', payload: with_(validCreate, 'expiresAt', pastDate) },
  'create: unknown field': { target: 'create', field: nameOfExtraField(CREATE), payload: unknownField(validCreate, CREATE) },
  'create: own constructor / prototype field (JSON-parsed)': {
    target: 'create',
    field: (payload) => Object.keys(payload as object).find((k) => !CREATE.includes(k))!,
    payload: fc.constantFrom('constructor', 'prototype').map((name) => JSON.parse(`{"appUid":"adm-app","name":"x","${name}":{"appUid":"*"}}`) as unknown),
  },
  'list: appUid missing': { target: 'list', field: 'appUid', payload: without(validList, 'appUid') },
  'list: appUid with forbidden characters': { target: 'list', field: 'appUid', payload: with_(validList, 'appUid', fc.oneof(badIdChars, tooLongId, fc.constant(''))) },
  'list: limit not a number': { target: 'list', field: 'limit', payload: with_(validList, 'limit', fc.oneof(fc.string(), fc.boolean(), fc.constant(null), fc.array(fc.integer()))) },
  'list: limit out of range or not whole': {
    target: 'list',
    field: 'limit',
    payload: with_(validList, 'limit', fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 101 }), fc.double({ noInteger: true }), fc.constantFrom(Number.NaN, Infinity, -Infinity))),
  },
  'list: nextToken forged': {
    target: 'list',
    field: 'nextToken',
    payload: with_(
      validList,
      'nextToken',
      fc.oneof(
        fc.string({ minLength: 1, maxLength: 200 }),
        fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')),
        fc.string({ maxLength: 40 }).filter((sk) => !sk.startsWith('key#')).map((sk) => Buffer.from(JSON.stringify({ sk })).toString('base64url')),
      ),
    ),
  },
  'list: nextToken empty, too long or not a string': {
    target: 'list',
    field: 'nextToken',
    payload: with_(validList, 'nextToken', fc.oneof(fc.constant(''), fc.integer({ min: 2049, max: 20_000 }).map((n) => 'A'.repeat(n)), notAString)),
  },
  'list: unknown field': { target: 'list', field: nameOfExtraField(LIST), payload: unknownField(validList, LIST) },
  'delete: keyId missing': { target: 'delete', field: 'keyId', payload: without(validDelete, 'keyId') },
  'delete: keyId of the wrong shape': {
    target: 'delete',
    field: 'keyId',
    payload: with_(validDelete, 'keyId', fc.oneof(fc.string({ maxLength: 60 }).filter((s) => !/^key_[0-9A-Za-z]{20}$/.test(s)), notAString)),
  },
  'delete: the API key itself in place of keyId': { target: 'delete', field: 'keyId', payload: fc.constant(null).map(() => ({ appUid: 'adm-app', keyId: existing.apiKey })) },
  'delete: appUid invalid': { target: 'delete', field: 'appUid', payload: with_(validDelete, 'appUid', fc.oneof(badIdChars, tooLongId, notAString)) },
  'delete: unknown field': { target: 'delete', field: nameOfExtraField(DELETE), payload: unknownField(validDelete, DELETE) },
  'roll: gracePeriodSeconds out of range, not whole or not a number': { target: 'roll', field: 'gracePeriodSeconds', payload: with_(validRoll, 'gracePeriodSeconds', badGrace) },
  'roll: keyId of the wrong shape': { target: 'roll', field: 'keyId', payload: with_(validRoll, 'keyId', wrongKeyId) },
  'roll: name blank, too long or not a string': { target: 'roll', field: 'name', payload: with_(validRoll, 'name', fc.oneof(fc.constant(' '), fc.integer({ min: 101, max: 2000 }).map((n) => 'x'.repeat(n)), notAString)) },
  'roll: expiresAt in the past or not a date': { target: 'roll', field: 'expiresAt', payload: with_(validRoll, 'expiresAt', fc.oneof(pastDate, notIsoDate)) },
  'roll: requestedBy invalid': { target: 'roll', field: 'requestedBy', payload: with_(validRoll, 'requestedBy', badRequestedBy) },
  'roll: unknown field': { target: 'roll', field: nameOfExtraField(ROLL), payload: unknownField(validRoll, ROLL) },
  'update: enabled not a boolean': { target: 'update', field: 'enabled', payload: with_(validUpdate, 'enabled', fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.boolean(), { maxLength: 2 }))) },
  'update: expiresAt neither null nor a future ISO date-time': { target: 'update', field: 'expiresAt', payload: with_(validUpdate, 'expiresAt', fc.oneof(pastDate, notIsoDate, fc.integer(), fc.boolean())) },
  'update: keyId of the wrong shape': { target: 'update', field: 'keyId', payload: with_(validUpdate, 'keyId', wrongKeyId) },
  'update: requestedBy invalid': { target: 'update', field: 'requestedBy', payload: with_(validUpdate, 'requestedBy', badRequestedBy) },
  'update: unknown field': { target: 'update', field: nameOfExtraField(UPDATE), payload: unknownField(validUpdate, UPDATE) },
  'events: keyId of the wrong shape': { target: 'events', field: 'keyId', payload: with_(validEvents, 'keyId', wrongKeyId) },
  'events: limit out of range or not whole': { target: 'events', field: 'limit', payload: with_(validEvents, 'limit', fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 101 }), fc.double({ noInteger: true }), fc.string())) },
  'events: nextToken forged (not an event position)': {
    target: 'events',
    field: 'nextToken',
    payload: with_(
      validEvents,
      'nextToken',
      fc.oneof(
        fc.string({ minLength: 1, maxLength: 200 }),
        fc.string({ maxLength: 40 }).filter((sk) => !sk.startsWith('event#')).map((sk) => Buffer.from(JSON.stringify({ sk })).toString('base64url')),
      ),
    ),
  },
  'events: unknown field': { target: 'events', field: nameOfExtraField(EVENTS), payload: unknownField(validEvents, EVENTS) },
  'auth: body not JSON': { target: 'auth', field: '(body)', payload: fc.string({ minLength: 1 }).filter((s) => { try { JSON.parse(s); return false; } catch { return true; } }).map((raw) => ({ raw })) },
  'auth: both externalId and userEmail': { target: 'auth', field: 'externalId', payload: fc.stringMatching(/^[a-z0-9]{1,20}@[a-z]{1,10}\.com$/).map((userEmail) => ({ externalId: 'u1', userEmail })) },
  'auth: neither externalId nor userEmail': { target: 'auth', field: 'externalId', payload: fc.constantFrom({}, { name: 'n' }, { accountUids: ['a'] }) },
  'auth: externalId invalid': { target: 'auth', field: 'externalId', payload: with_({}, 'externalId', fc.oneof(badIdChars, fc.constant(''), fc.integer({ min: 101, max: 500 }).map((n) => 'e'.repeat(n)), notAString)) },
  'auth: userEmail invalid': { target: 'auth', field: 'userEmail', payload: with_({}, 'userEmail', fc.oneof(fc.string({ maxLength: 60 }).filter((s) => !s.includes('@')), notAString)) },
  'auth: too many accountUids': { target: 'auth', field: 'accountUids', payload: with_(validAuth, 'accountUids', fc.array(fc.constantFrom('a', 'b'), { minLength: 11, maxLength: 50 })) },
  'auth: accountUids entry invalid': {
    target: 'auth',
    field: 'accountUids[0]',
    payload: with_(validAuth, 'accountUids', fc.oneof(badIdChars, fc.constant(''), tooLongId, fc.integer()).map((bad) => [bad])),
  },
  'auth: name blank or too long': { target: 'auth', field: 'name', payload: with_(validAuth, 'name', fc.oneof(fc.constant('   '), fc.integer({ min: 101, max: 2000 }).map((n) => 'x'.repeat(n)), notAString)) },
  'auth: unknown field': { target: 'auth', field: nameOfExtraField(AUTH), payload: unknownField(validAuth, AUTH) },
  'create: a key or token in appUid': { target: 'create', field: 'appUid', payload: with_(validCreate, 'appUid', credentialIn(idChars)) },
  'create: a key or token inside name': { target: 'create', field: 'name', payload: with_(validCreate, 'name', credentialIn(fc.string({ maxLength: 15 }))) },
  'auth: a key or token inside externalId': { target: 'auth', field: 'externalId', payload: with_({}, 'externalId', credentialIn(idChars)) },
  'auth: a key or token inside userEmail': { target: 'auth', field: 'userEmail', payload: with_({}, 'userEmail', credentialIn(fc.constant('')).map((value) => `${value}@example.com`)) },
  'auth: a key or token inside name': { target: 'auth', field: 'name', payload: with_(validAuth, 'name', credentialIn(fc.string({ maxLength: 15 }))) },
  'auth: a key or token among accountUids': { target: 'auth', field: 'accountUids[0]', payload: with_(validAuth, 'accountUids', credentialIn(idChars).map((value) => [value, 'acct-2'])) },
  'revoke: body not a JSON object': { target: 'revoke', field: '(body)', payload: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 })) },
  'revoke: keys missing or not an array': { target: 'revoke', field: 'keys', payload: fc.oneof(without(validRevoke, 'keys'), with_(validRevoke, 'keys', fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.object({ maxDepth: 1 })))) },
  'revoke: keys empty or over 100 entries': { target: 'revoke', field: 'keys', payload: with_(validRevoke, 'keys', fc.oneof(fc.constant([]), fc.array(fc.string({ maxLength: 60 }), { minLength: 101, maxLength: 300 }))) },
  'revoke: an entry that is not a string': {
    target: 'revoke',
    field: (payload) => `keys[${(payload as { keys: unknown[] }).keys.findIndex((entry) => typeof entry !== 'string')}]`,
    payload: fc
      .tuple(fc.array(fc.string({ maxLength: 60 }), { maxLength: 50 }), notAString, fc.nat())
      .map(([keys, bad, at]) => ({ keys: [...keys.slice(0, at % (keys.length + 1)), bad, ...keys.slice(at % (keys.length + 1))] })),
  },
  'revoke: unknown field': { target: 'revoke', field: nameOfExtraField(['keys']), payload: unknownField(validRevoke, ['keys']) },
  'list-apps: limit out of range or not a number': {
    target: 'listApps',
    field: 'limit',
    payload: fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 101 }), fc.double({ noInteger: true }), fc.string(), fc.constant(null)).map((limit) => ({ limit })),
  },
  'list-apps: nextToken forged (another listing\'s, or not one at all)': {
    target: 'listApps',
    field: 'nextToken',
    payload: fc
      .oneof(fc.string({ minLength: 1, maxLength: 200 }), fc.string({ maxLength: 40 }).filter((sk) => !sk.startsWith('app#')).map((sk) => Buffer.from(JSON.stringify({ sk })).toString('base64url')))
      .map((nextToken) => ({ nextToken })),
  },
  'get-app: appUid missing or invalid': { target: 'getApp', field: 'appUid', payload: fc.oneof(badIdChars, tooLongId, fc.constant(''), notAString, fc.constant(undefined)).map((appUid) => ({ appUid })) },
  'revoke-sessions: no selector': { target: 'revokeSessions', field: 'userId', payload: fc.constant(null).map(() => ({ appUid: 'adm-app' })) },
  'revoke-sessions: two or more selectors': {
    target: 'revokeSessions',
    field: 'userId',
    payload: fc.tuple(ID('usr'), ID('key'), ID('ses'), fc.subarray(['userId', 'externalId', 'createdByKeyId', 'sessionId'], { minLength: 2 })).map(([userId, keyId, sessionId, picked]) => {
      const all: Record<string, string> = { userId, externalId: 'user-1', createdByKeyId: keyId, sessionId };
      return { appUid: 'adm-app', ...Object.fromEntries(picked.map((name) => [name, all[name]])) };
    }),
  },
  'revoke-sessions: userId of the wrong shape': { target: 'revokeSessions', field: 'userId', payload: notAnId('usr').map((userId) => ({ appUid: 'adm-app', userId })) },
  'revoke-sessions: createdByKeyId of the wrong shape, or the key itself': { target: 'revokeSessions', field: 'createdByKeyId', payload: notAnId('key').map((createdByKeyId) => ({ appUid: 'adm-app', createdByKeyId })) },
  'revoke-sessions: sessionId of the wrong shape': { target: 'revokeSessions', field: 'sessionId', payload: notAnId('ses').map((sessionId) => ({ appUid: 'adm-app', sessionId })) },
  'revoke-sessions: externalId invalid': { target: 'revokeSessions', field: 'externalId', payload: fc.oneof(badIdChars, fc.constant(''), notAString).map((externalId) => ({ appUid: 'adm-app', externalId })) },
  'revoke-sessions: appUid invalid': { target: 'revokeSessions', field: 'appUid', payload: with_(validRevokeSessions, 'appUid', fc.oneof(badIdChars, tooLongId, notAString)) },
  'revoke-sessions: unknown field': { target: 'revokeSessions', field: nameOfExtraField(REVOKE_SESSIONS), payload: unknownField(validRevokeSessions, REVOKE_SESSIONS) },
  'delete-user: no selector, or several': {
    target: 'deleteUser',
    field: 'userId',
    payload: fc.oneof(fc.constant({ appUid: 'adm-app' }), ID('usr').map((userId) => ({ appUid: 'adm-app', userId, externalId: 'user-1' })), fc.constant({ appUid: 'adm-app', externalId: 'user-1', userEmail: 'a@example.com' })),
  },
  'delete-user: userEmail invalid': { target: 'deleteUser', field: 'userEmail', payload: fc.oneof(fc.string({ maxLength: 60 }).filter((s) => !s.includes('@')), notAString).map((userEmail) => ({ appUid: 'adm-app', userEmail })) },
  'delete-user: userId of the wrong shape': { target: 'deleteUser', field: 'userId', payload: notAnId('usr').map((userId) => ({ appUid: 'adm-app', userId })) },
  'delete-user: unknown field': { target: 'deleteUser', field: nameOfExtraField(DELETE_USER), payload: unknownField(validDeleteUser, DELETE_USER) },
  'seal-records: limit out of range or not a whole number': {
    target: 'sealRecords',
    field: 'limit',
    payload: fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 10_001 }), fc.double({ noInteger: true }), fc.string(), fc.boolean(), fc.constant(null)).map((limit) => ({ limit })),
  },
  'seal-records: nextToken it never returned': {
    target: 'sealRecords',
    field: 'nextToken',
    payload: fc
      .oneof(
        fc.string({ maxLength: 100 }),
        fc.jsonValue().filter((value) => !isSealPosition(value)).map((value) => Buffer.from(JSON.stringify(value)).toString('base64url')),
        notAString,
      )
      .map((nextToken) => ({ nextToken })),
  },
  'seal-records: unknown field': { target: 'sealRecords', field: nameOfExtraField(SEAL_RECORDS), payload: unknownField({}, SEAL_RECORDS) },
};

async function call(target: Kind['target'], payload: unknown): Promise<{ error?: unknown; status?: number; body?: { message?: string; field?: string } }> {
  if (target === 'auth' || target === 'revoke') {
    const raw = payload !== null && typeof payload === 'object' && 'raw' in payload ? (payload as { raw: string }).raw : JSON.stringify(payload);
    const response =
      target === 'auth' ? await sdkUsersAuth(proxyEvent({ body: raw, context: { appUid: 'adm-app', keyId: existing.keyId } })) : await revokeKeys(proxyEvent({ body: raw }));
    return { status: response.statusCode, body: JSON.parse(response.body) as { message?: string; field?: string } };
  }
  const handler = {
    create: createKeyHandler,
    list: listKeysHandler,
    delete: deleteKeyHandler,
    roll: rollKeyHandler,
    update: updateKeyHandler,
    events: listKeyEventsHandler,
    listApps: listAppsHandler,
    getApp: getAppHandler,
    revokeSessions: revokeSessionsHandler,
    deleteUser: deleteUserHandler,
    sealRecords: sealRecordsHandler,
  }[target] as (input: unknown) => Promise<unknown>;
  return handler(payload).then(
    () => ({}),
    (error: unknown) => ({ error }),
  );
}

const runsPerKind = 40;
let inputs = 0;

test(`at least 20 kinds of malformed admin input`, () => {
  expect(Object.keys(KINDS).length).toBeGreaterThanOrEqual(20);
});

describe.each(Object.entries(KINDS))('%s', (_label, kind) => {
  test('fails with ValidationError naming the field, and no table changes', async () => {
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(kind.payload, async (payload) => {
        inputs++;
        const field = typeof kind.field === 'function' ? kind.field(payload) : kind.field;
        const result = await call(kind.target, payload);
        if (kind.target === 'auth' || kind.target === 'revoke') {
          expect(result.status).toBe(400);
          expect(result.body?.field).toBe(field);
          expect(result.body?.message).toEqual(expect.any(String));
        } else {
          expect(result.error).toBeInstanceOf(ValidationError);
          expect(result.error).toMatchObject({ name: 'ValidationError', field, retryable: false });
          const message = (result.error as Error).message;
          expect(message).toContain(field === '(body)' ? 'must be a JSON object' : field.replace(/\[\d+\]$/, ''));
        }
      }),
      { numRuns: runsPerKind },
    );
    expect(await snapshot()).toBe(before);
  });
});

test('create: an own __proto__ field (JSON-parsed) is refused, not merged, and nothing is written', async () => {
  const before = await snapshot();
  const payload = JSON.parse('{"appUid":"adm-app","name":"x","__proto__":{"appUid":"*","isAdmin":true}}') as unknown;
  await expect(createKeyHandler(payload)).rejects.toMatchObject({ name: 'ValidationError', field: expect.stringMatching(/^(__proto__|\(unknown field\))$/) });
  expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  expect(await snapshot()).toBe(before);
});

afterAll(() => process.stdout.write(`\n[fuzz-admin] ${Object.keys(KINDS).length} kinds, ${inputs} malformed payloads\n`));
