import { createHash } from 'node:crypto';
import * as path from 'node:path';
import fc from 'fast-check';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { handler as createKeyHandler } from '../../functions/create-key/index';
import { DEFAULT_AUTH_SETTINGS, legacyKeysEnvironment } from '../../lib/shared/auth-settings';
import { createTestTables, testDynamoDbClient } from '../support/dynamodb';
import { apiKeyEvent, gatewayOutcome } from '../support/events';
import { loadWithEnv } from '../support/load-with-env';
import { BASE62, changeChar, deleteChar, insertChar } from './support';

/**
 * Fuzzes the API-key authorizer with a legacy key pattern configured, against
 * DynamoDB Local, around keys imported as plaintext and as SHA-256 and a
 * keygate key. Oracle: 200 only for exactly one of those keys on its own app,
 * 403 for it on another app, 401 for everything else; never a 500.
 */
type Authorizer = (event: APIGatewayRequestAuthorizerEvent) => Promise<any>;
type AdminHandler = (input: unknown) => Promise<any>;
const LEGACY_KEYS = { pattern: '[A-Za-z0-9]{40}|sk_live_[A-Za-z0-9]{32}', minLength: 40, maxLength: 40 };
const env = legacyKeysEnvironment({ ...DEFAULT_AUTH_SETTINGS, legacyKeys: LEGACY_KEYS });
const functionPath = (name: string) => path.join(__dirname, '../../functions', name, 'index.ts');
const apiKeyAuthorizer = loadWithEnv<{ handler: Authorizer }>(functionPath('api-key-authorizer'), env).handler;
const importKeys = loadWithEnv<{ handler: AdminHandler }>(functionPath('import-keys'), env).handler;

const client = testDynamoDbClient();
const live = new Map<string, string>();
const statuses: Record<string, number> = {};

beforeAll(async () => {
  await createTestTables(client);
  const plaintext = 'Legacy0123456789abcdefghijklmnopqrstuvwx';
  const hashed = 'sk_live_0123456789ABCDEFGHIJKLMNOPQRSTUV';
  const { keys } = await importKeys({
    appUid: 'fuzz-legacy',
    keys: [
      { key: plaintext, name: 'plaintext' },
      { keyHash: createHash('sha256').update(hashed).digest('hex'), name: 'hash' },
    ],
  });
  live.set(plaintext, keys[0].keyId);
  live.set(hashed, keys[1].keyId);
  const native = await createKeyHandler({ appUid: 'fuzz-legacy', name: 'native' });
  live.set(native.apiKey, native.keyId);
});

afterAll(() => {
  client.destroy();
  process.stdout.write(`\n[fuzz-legacy-keys] outcomes: ${JSON.stringify(statuses)}\n`);
});

test('only an exact imported or native key passes, on its own app; never a 500', async () => {
  // Built here: the seeds exist only once beforeAll has made them.
  const seeds = () => fc.constantFrom(...live.keys());
  const anyChar = fc.oneof(fc.constantFrom(...BASE62, '_', '-'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
  const values = fc.oneof(
    { arbitrary: fc.tuple(seeds(), fc.nat({ max: 60 }), anyChar).map(([v, i, c]) => changeChar(v, i, c)), weight: 4 },
    { arbitrary: fc.tuple(seeds(), fc.nat({ max: 60 }), anyChar).map(([v, i, c]) => insertChar(v, i, c)), weight: 2 },
    { arbitrary: fc.tuple(seeds(), fc.nat({ max: 60 })).map(([v, i]) => deleteChar(v, i)), weight: 2 },
    { arbitrary: fc.string({ unit: fc.constantFrom(...BASE62), minLength: 38, maxLength: 42 }), weight: 2 },
    { arbitrary: fc.string({ unit: fc.constantFrom(...BASE62), minLength: 32, maxLength: 32 }).map((s) => `sk_live_${s}`), weight: 1 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 60 }), weight: 2 },
    { arbitrary: seeds(), weight: 1 },
  );
  await fc.assert(
    fc.asyncProperty(values, fc.constantFrom('fuzz-legacy', 'fuzz-other'), async (value, app) => {
      const outcome = await gatewayOutcome(apiKeyAuthorizer, apiKeyEvent(value, app));
      statuses[outcome.status] = (statuses[outcome.status] ?? 0) + 1;
      const keyId = live.get(value);
      if (keyId === undefined) return outcome.status === 401;
      if (app !== 'fuzz-legacy') return outcome.status === 403;
      return outcome.status === 200 && outcome.context.keyId === keyId;
    }),
    { numRuns: 3000 },
  );
  expect(statuses[200]).toBeGreaterThan(0);
  expect(statuses[403]).toBeGreaterThan(0);
});
