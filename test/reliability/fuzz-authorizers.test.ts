import fc from 'fast-check';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { handler as apiKeyAuthorizer } from '../../functions/api-key-authorizer/index';
import { handler as sessionAuthorizer } from '../../functions/session-authorizer/index';
import { handler as createKeyHandler } from '../../functions/create-key/index';
import { handler as deleteKeyHandler } from '../../functions/delete-key/index';
import { createHasher } from '../../functions/domain/hashing';
import { KeyStore } from '../../functions/stores/key-store';
import { createKey } from '../../functions/domain/keys';
import { SessionStore } from '../../functions/stores/session-store';
import { issueSession } from '../../functions/domain/sessions';
import { credentialFormat } from '../../functions/domain/credential-format';
import { UserStore } from '../../functions/stores/user-store';
import { createTestTables, testDynamoDbClient } from '../support/dynamodb';
import { gatewayOutcome, methodArn } from '../support/events';
import type { TableNames } from '../../lib/local/tables';
import { BASE62, changeChar, checksum62, deleteChar, insertChar, secretOf } from './support';
import { testSealer } from '../support/seals';

/**
 * Fuzzes both REQUEST authorizers in process, against DynamoDB Local, with
 * generated header values and header layouts. The oracle is DESIGN §4 restated
 * independently of the implementation: the request is let through (200) only
 * when every value the request carries for the credential header is the same,
 * and that value is exactly a live key (a live session token after `Bearer `)
 * of the app in the path; a live credential of another app gets 403; anything
 * else gets 401. Never a 500: a refusal must be the exact `Unauthorized` error.
 */

const APPS = ['fuzz-a', 'fuzz-b'] as const;
type App = (typeof APPS)[number];

let client: DynamoDBClient;
let tables: TableNames;
const keyFormat = credentialFormat('kg');
const sessionFormat = credentialFormat('kgs');
const hash = createHasher(async () => process.env.KEYGATE_LOCAL_PEPPER!);

/** Live credentials and the app each belongs to; dead ones (deleted, expired) must never pass. */
const liveKeys = new Map<string, { app: App; keyId: string }>();
const liveSessions = new Map<string, { app: App; userId: string }>();
const deadValues: string[] = [];
let seedValues: string[] = [];

const counts: Record<string, number> = {};
const statuses: Record<string, number> = {};

beforeAll(async () => {
  client = testDynamoDbClient();
  tables = await createTestTables(client);
  const db = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const keyStore = new KeyStore(db, tables.Keys, testSealer);
  const sessionDeps = {
    sessionFormat,
    hash,
    users: new UserStore(db, tables.Users),
    sessions: new SessionStore(db, tables.Sessions, tables.Users, testSealer),
    lifetimeSeconds: 24 * 60 * 60,
  };

  for (const app of ['fuzz-a', 'fuzz-a', 'fuzz-b'] as const) {
    const created = await createKeyHandler({ appUid: app, name: `live ${app}` });
    liveKeys.set(created.apiKey, { app, keyId: created.keyId });
    const session = await issueSession(sessionDeps, { appUid: app, keyId: created.keyId }, { externalId: `user-${app}` }, new Date());
    liveSessions.set(session.authToken, { app, userId: session.userId });
  }
  // A deleted key whose session must stay live (DESIGN §3), and dead credentials.
  const doomed = await createKeyHandler({ appUid: 'fuzz-b', name: 'deleted' });
  const orphan = await issueSession(sessionDeps, { appUid: 'fuzz-b', keyId: doomed.keyId }, { userEmail: 'orphan@example.com' }, new Date());
  liveSessions.set(orphan.authToken, { app: 'fuzz-b', userId: orphan.userId });
  await deleteKeyHandler({ appUid: 'fuzz-b', keyId: doomed.keyId });
  deadValues.push(doomed.apiKey);
  const longAgo = new Date(Date.now() - 3 * 24 * 60 * 60 * 1000);
  const expiredKey = await createKey(
    { keyFormat, hash, store: keyStore, now: () => longAgo },
    { appUid: 'fuzz-a', name: 'expired', expiresAt: new Date(longAgo.getTime() + 60_000).toISOString() },
  );
  deadValues.push(expiredKey.apiKey);
  const expiredSession = await issueSession(sessionDeps, { appUid: 'fuzz-a', keyId: 'key_expired' }, { externalId: 'old-user' }, longAgo);
  deadValues.push(expiredSession.authToken);
  seedValues = [...liveKeys.keys(), ...liveSessions.keys(), ...deadValues];
});

afterAll(() => {
  client.destroy();
  // The figures for the README's Reliability section.
  process.stdout.write(`\n[fuzz-authorizers] header values per generator: ${JSON.stringify(counts)}\n[fuzz-authorizers] outcomes: ${JSON.stringify(statuses)}\n`);
});

// ---------------------------------------------------------------- generators

const anyIndex = fc.nat({ max: 10_000 });
const seed = () => fc.constantFrom(...seedValues);
const base62Chars = (length: number) => fc.string({ unit: fc.constantFrom(...BASE62), minLength: length, maxLength: length });
const whitespace = fc.constantFrom(' ', '\t', '\n', '\r\n', '\u00a0', '\u200b', '\ufeff', '\u2028', '\0');

/** Candidate credential values (the part after `Bearer ` for the session authorizer). */
function valueGenerators(): Record<string, { arb: fc.Arbitrary<string>; runs: number }> {
  return {
    asciiString: { arb: fc.string({ maxLength: 120 }), runs: 6000 },
    unicodeGraphemes: { arb: fc.string({ unit: 'grapheme', maxLength: 80 }), runs: 5000 },
    binaryCodePoints: { arb: fc.string({ unit: 'binary', maxLength: 80 }), runs: 5000 },
    rawBytesLatin1: { arb: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('latin1')), runs: 4000 },
    upTo16KB: {
      arb: fc
        .tuple(fc.integer({ min: 0, max: 16 * 1024 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 16 }), seed())
        .map(([length, chunk, start]) => (start + chunk.repeat(Math.ceil(length / chunk.length))).slice(0, length)),
      runs: 1500,
    },
    nearMissChanged: {
      arb: fc.tuple(seed(), anyIndex, fc.oneof(fc.constantFrom(...BASE62), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }))).map(([v, i, c]) => changeChar(v, i, c)),
      runs: 6000,
    },
    nearMissInserted: {
      arb: fc.tuple(seed(), anyIndex, fc.oneof(fc.constantFrom(...BASE62), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }))).map(([v, i, c]) => insertChar(v, i, c)),
      runs: 5000,
    },
    nearMissRemoved: { arb: fc.tuple(seed(), anyIndex).map(([v, i]) => deleteChar(v, i)), runs: 4000 },
    wrongChecksum: {
      arb: fc.oneof(
        fc.tuple(fc.constantFrom('kg', 'kgs'), base62Chars(43), base62Chars(6)).map(([p, s, c]) => `${p}_${s}${c}`),
        fc.tuple(seed(), base62Chars(6)).map(([v, c]) => v.slice(0, -6) + c),
      ),
      runs: 5000,
    },
    otherPrefixWellFormed: {
      arb: fc.oneof(
        // The live secret under the other prefix, with a correct checksum for that prefix: well formed, never issued.
        fc.tuple(seed(), fc.constantFrom('kg', 'kgs', 'kgx', 'k', 'gk')).map(([v, p]) => `${p}_${secretOf(v)}${checksum62(`${p}_${secretOf(v)}`)}`),
        fc.stringMatching(/^[a-z][a-z0-9]{0,15}$/).map((p) => credentialFormat(p).generate()),
      ),
      runs: 2500,
    },
    wellFormedNeverIssued: { arb: fc.constantFrom(keyFormat, sessionFormat).map((format) => format.generate()), runs: 1500 },
    whitespaceVariants: {
      arb: fc
        .tuple(seed(), whitespace, anyIndex, fc.constantFrom('before', 'after', 'inside', 'both'))
        .map(([v, ws, i, where]) => (where === 'before' ? ws + v : where === 'after' ? v + ws : where === 'both' ? ws + v + ws : insertChar(v, i, ws))),
      runs: 4000,
    },
    caseVariants: {
      arb: fc.tuple(seed(), fc.constantFrom('upper', 'lower', 'swapOne', 'prefixUpper'), anyIndex).map(([v, how, i]) => {
        if (how === 'upper') return v.toUpperCase();
        if (how === 'lower') return v.toLowerCase();
        if (how === 'prefixUpper') return v.slice(0, v.indexOf('_')).toUpperCase() + v.slice(v.indexOf('_'));
        const letters = [...v].map((c, at) => (/[A-Za-z]/.test(c) ? at : -1)).filter((at) => at >= 0);
        const at = letters[i % letters.length];
        const c = v[at];
        return v.slice(0, at) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + v.slice(at + 1);
      }),
      runs: 3000,
    },
    exactSeedValues: { arb: seed(), runs: 1500 },
  };
}

/** Where and how often the credential header appears in the event. */
type Layout = {
  readonly headers: Record<string, string> | null;
  readonly multiValueHeaders: Record<string, string[]> | null;
};

function layouts(headerName: string, value: fc.Arbitrary<string>, other: fc.Arbitrary<string>): fc.Arbitrary<Layout> {
  const name = fc.mixedCase(fc.constant(headerName));
  return fc.oneof(
    // As API Gateway sends a single header: both maps carry it.
    { weight: 8, arbitrary: fc.tuple(name, value).map(([n, v]) => ({ headers: { [n]: v }, multiValueHeaders: { [n]: [v] } })) },
    { weight: 1, arbitrary: fc.tuple(name, value).map(([n, v]) => ({ headers: { [n]: v }, multiValueHeaders: null })) },
    { weight: 1, arbitrary: fc.tuple(name, value).map(([n, v]) => ({ headers: null, multiValueHeaders: { [n]: [v] } })) },
    // Sent twice with the same value, then with another value (possibly a live credential) in either order.
    { weight: 1, arbitrary: fc.tuple(name, value).map(([n, v]) => ({ headers: { [n]: v }, multiValueHeaders: { [n]: [v, v] } })) },
    {
      weight: 2,
      arbitrary: fc.tuple(name, value, other, fc.boolean()).map(([n, v, o, first]) => ({
        headers: { [n]: first ? o : v },
        multiValueHeaders: { [n]: first ? [v, o] : [o, v] },
      })),
    },
    // Both header-name casings at once, as separate entries.
    {
      weight: 2,
      arbitrary: fc.tuple(value, other, fc.boolean()).map(([v, o, same]) => ({
        headers: { [headerName]: v, [headerName.toUpperCase()]: same ? v : o },
        multiValueHeaders: { [headerName]: [v], [headerName.toUpperCase()]: [same ? v : o] },
      })),
    },
    // Missing, empty, or an empty multi-value list; a live credential under a near-miss header name.
    { weight: 1, arbitrary: fc.constant({ headers: {}, multiValueHeaders: {} }) },
    { weight: 1, arbitrary: fc.constant({ headers: null, multiValueHeaders: null }) },
    { weight: 1, arbitrary: name.map((n) => ({ headers: { [n]: '' }, multiValueHeaders: { [n]: [''] } })) },
    { weight: 1, arbitrary: name.map((n) => ({ headers: {}, multiValueHeaders: { [n]: [] } })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(`${headerName}s`, `${headerName}-`, `x-${headerName}`, headerName.replace('-', '_'), 'x-api-key', 'authorization', 'cookie'), other)
        .filter(([n]) => n.toLowerCase() !== headerName)
        .map(([n, o]) => ({ headers: { [n]: o }, multiValueHeaders: { [n]: [o] } })),
    },
  );
}

/** Every value the request carries for `headerName`, in either map, any casing. */
function carriedValues(layout: Layout, headerName: string): Set<string> {
  const values = new Set<string>();
  for (const [n, list] of Object.entries(layout.multiValueHeaders ?? {})) if (n.toLowerCase() === headerName) list.forEach((v) => values.add(v));
  for (const [n, v] of Object.entries(layout.headers ?? {})) if (n.toLowerCase() === headerName) values.add(v);
  return values;
}

function event(layout: Layout, app: App, route: string, method: string): APIGatewayRequestAuthorizerEvent {
  return { type: 'REQUEST', methodArn: methodArn(method, app, route), ...layout } as unknown as APIGatewayRequestAuthorizerEvent;
}

const pathApp = fc.constantFrom<App>(...APPS);

type Expected = { status: 200; context: Record<string, string> } | { status: 401 | 403 };

async function fuzz(
  label: string,
  authorize: typeof apiKeyAuthorizer,
  headerName: string,
  wrap: (value: fc.Arbitrary<string>) => fc.Arbitrary<string>,
  expected: (carried: Set<string>, app: App) => Expected,
  route: { route: string; method: string },
): Promise<number> {
  const generators = valueGenerators();
  const otherValue = wrap(fc.oneof(seed(), fc.string({ maxLength: 60 })));
  let total = 0;
  // Generators run side by side: most values are refused without I/O, the rest overlap their DynamoDB reads.
  await Promise.all(
    Object.entries(generators).map(async ([name, { arb, runs }]) => {
      const key = `${label}/${name}`;
      counts[key] = 0;
      await redacted(() =>
        fc.assert(
          fc.asyncProperty(layouts(headerName, wrap(arb), otherValue), pathApp, async (layout, app) => {
            counts[key]++;
            total++;
            const want = expected(carriedValues(layout, headerName), app);
            const got = await gatewayOutcome(authorize, event(layout, app, route.route, route.method));
            statuses[`${label} ${got.status}`] = (statuses[`${label} ${got.status}`] ?? 0) + 1;
            expect(got).toEqual(want);
          }),
          { numRuns: runs },
        ),
      );
    }),
  );
  return total;
}

/** A failing run's report names the counterexample; key material in it is masked (the seed and path stay, to replay it). */
async function redacted(run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    const mask = (text: string) => {
      let out = text.replace(/[a-z][a-z0-9]{0,15}_[0-9A-Za-z]{43}/g, '<token>');
      for (const value of seedValues) out = out.split(secretOf(value)).join('<secret>');
      return out;
    };
    throw new Error(mask((error as Error).message));
  }
}

let grandTotal = 0;

test('API-key authorizer: only an exact live key of the path’s app is let in; everything else is 401 or 403, never 500', async () => {
  const total = await fuzz(
    'x-api-key',
    apiKeyAuthorizer,
    'x-api-key',
    (value) => value,
    (carried, app) => {
      if (carried.size !== 1) return { status: 401 };
      const live = liveKeys.get([...carried][0]);
      if (!live) return { status: 401 };
      if (live.app !== app) return { status: 403 };
      return { status: 200, context: { appUid: app, keyId: live.keyId, role: 'app-owner' } };
    },
    { route: 'whoami', method: 'GET' },
  );
  grandTotal += total;
  expect(total).toBeGreaterThanOrEqual(50_000);
});

test('session authorizer: only `Bearer <exact live session token>` of the path’s app is let in', async () => {
  // The header value: a scheme (right, wrong case, wrong word, doubled space, missing) and a candidate token.
  const scheme = fc.oneof(
    { weight: 6, arbitrary: fc.constant('Bearer ') },
    { weight: 2, arbitrary: fc.mixedCase(fc.constant('bearer ')) },
    { weight: 1, arbitrary: fc.constantFrom('', 'Bearer', 'Bearer  ', 'Bearer\t', ' Bearer ', 'Basic ', 'Token ', 'Bearer:', 'bearer=') },
  );
  const total = await fuzz(
    'authorization',
    sessionAuthorizer,
    'authorization',
    (value) => fc.tuple(scheme, value).map(([s, v]) => s + v),
    (carried, app) => {
      if (carried.size !== 1) return { status: 401 };
      const header = [...carried][0];
      if (header.slice(0, 7).toLowerCase() !== 'bearer ') return { status: 401 };
      const live = liveSessions.get(header.slice(7));
      if (!live) return { status: 401 };
      if (live.app !== app) return { status: 403 };
      return { status: 200, context: expect.objectContaining({ appUid: app, userId: live.userId }) as unknown as Record<string, string> };
    },
    { route: 'sdkusers/me', method: 'GET' },
  );
  grandTotal += total;
  expect(total).toBeGreaterThanOrEqual(50_000);
  expect(grandTotal).toBeGreaterThanOrEqual(100_000);
  // Each outcome the oracle allows was actually reached, so the property was exercised on both sides.
  for (const label of ['x-api-key', 'authorization']) {
    for (const status of [200, 401, 403]) expect(statuses[`${label} ${status}`]).toBeGreaterThan(0);
    expect(statuses[`${label} 500`]).toBeUndefined();
  }
});
