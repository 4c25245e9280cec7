import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ENV } from '../../lib/shared/environment';
import { credentialFormat } from '../../functions/domain/credential-format';
import { cachedPepper, createHasher, PEPPER_RETRY_DELAY_MS } from '../../functions/domain/hashing';
import { createKey } from '../../functions/domain/keys';
import { documentClient } from '../../functions/stores/document-client';
import { KeyStore } from '../../functions/stores/key-store';
import { builtBundleEnv, runBuiltBundle } from '../support/built-bundle';
import { createTestTables, testDynamoDbClient } from '../support/dynamodb';
import { apiKeyEvent, proxyEvent } from '../support/events';
import { createSealer } from '../../functions/domain/seal';

/**
 * The pepper read of the built bundles, as deployed: during init
 * (the bundle's top-level await), once per container, and after a failure
 * not again for PEPPER_RETRY_DELAY_MS. Secrets Manager has no local server, so
 * a small HTTP stand-in answers GetSecretValue on loopback (the one mocked
 * service); DynamoDB is DynamoDB Local.
 */
const PEPPER = 'q'.repeat(64);
const SECRET_ID = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:keygate-pepper-AbCdEf';
const ANSWER_DELAY_MS = 400;
const client = testDynamoDbClient();
let env: Record<string, string | undefined>;
let apiKey: string;

/** What the stand-in answers next, and every GetSecretValue it received. */
let answer: 'pepper' | 'not-found' = 'pepper';
const reads: number[] = [];
let server: Server;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (!String(req.headers['x-amz-target']).endsWith('.GetSecretValue')) {
        res.statusCode = 400;
        res.end('{}');
        return;
      }
      reads.push(Date.now());
      setTimeout(() => {
        res.setHeader('content-type', 'application/x-amz-json-1.1');
        if (answer === 'pepper') {
          res.end(JSON.stringify({ ARN: SECRET_ID, Name: 'pepper', SecretString: PEPPER }));
        } else {
          res.statusCode = 400;
          res.setHeader('x-amzn-ErrorType', 'ResourceNotFoundException');
          res.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: 'injected: no such secret' }));
        }
      }, ANSWER_DELAY_MS);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const tables = await createTestTables(client);
  env = {
    ...builtBundleEnv(tables),
    [ENV.localPepper]: undefined,
    [ENV.pepperSecretId]: SECRET_ID,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  };
  const store = new KeyStore(documentClient(client), tables.Keys, createSealer(async () => PEPPER));
  ({ apiKey } = await createKey({ keyFormat: credentialFormat('kg'), hash: createHasher(cachedPepper(async () => PEPPER)), store, now: () => new Date() }, { appUid: 'pepper-app', name: 'init' }));
});
afterAll(async () => {
  client.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  reads.length = 0;
  answer = 'pepper';
});

const keyEvent = () => apiKeyEvent(apiKey, 'pepper-app');

test('the bundle reads the pepper during init: its import waits for the answer, and no request reads it again', async () => {
  const { outcomes, importMs } = await runBuiltBundle('apiKeyAuthorizer', [{ event: keyEvent() }, { event: keyEvent() }, { event: keyEvent() }], env);
  expect(reads).toHaveLength(1);
  expect(importMs).toBeGreaterThanOrEqual(ANSWER_DELAY_MS - 10);
  expect(outcomes).toEqual(Array(3).fill(expect.objectContaining({ ok: true, value: expect.objectContaining({ principalId: expect.stringMatching(/^key_/) }) })));
});

describe('the other bundles that hash read it during init too, and a bundle given no pepper never reads it', () => {
  let keyId: string;
  beforeAll(async () => {
    const store = new KeyStore(documentClient(client), env[ENV.keysTable]!, createSealer(async () => PEPPER));
    ({ keyId } = await createKey({ keyFormat: credentialFormat('kg'), hash: createHasher(cachedPepper(async () => PEPPER)), store, now: () => new Date() }, { appUid: 'pepper-app', name: 'to roll' }));
  });
  const revokeEvent = () => proxyEvent({ path: '/api/v1/keys/revoke', body: JSON.stringify({ keys: [credentialFormat('kg').generate()] }) });

  test.each([
    ['createKey', () => ({ appUid: 'pepper-app', name: 'at init' }), () => ({ apiKey: expect.stringMatching(/^kg_/) })],
    // It seals the key's hash item anew.
    ['updateKey', () => ({ appUid: 'pepper-app', keyId, name: 'renamed' }), () => ({ keyId, name: 'renamed' })],
    ['rollKey', () => ({ appUid: 'pepper-app', keyId, gracePeriodSeconds: 0 }), () => ({ rolledFromKeyId: keyId })],
    ['revokeKeys', revokeEvent, () => ({ statusCode: 202 })],
  ] as const)('%s', async (fn, event, value) => {
    const { outcomes, importMs } = await runBuiltBundle(fn, [{ event: event() }], env);
    expect(reads).toHaveLength(1);
    expect(importMs).toBeGreaterThanOrEqual(ANSWER_DELAY_MS - 10);
    expect(outcomes).toEqual([{ ok: true, value: expect.objectContaining(value()) }]);
  });

  test('listKeys, deployed without the pepper', async () => {
    const { outcomes } = await runBuiltBundle('listKeys', [{ event: { appUid: 'pepper-app' } }], { ...env, [ENV.pepperSecretId]: undefined });
    expect(outcomes).toEqual([{ ok: true, value: expect.objectContaining({ keys: expect.arrayContaining([expect.objectContaining({ keyId })]) }) }]);
    // No read at all, so its init waits for none (an upper bound on time would only measure the machine's load).
    expect(reads).toHaveLength(0);
  });
});

test('a read that fails during init is logged once, refuses with 500 without another read for the retry delay, then reads again and serves', async () => {
  answer = 'not-found';
  const steps = [
    { event: keyEvent() },
    { event: keyEvent() },
    // Secrets Manager answers again, but the failure is remembered until the delay has passed.
    { sleepMs: 200 },
    { event: keyEvent() },
    { sleepMs: PEPPER_RETRY_DELAY_MS },
    { event: keyEvent() },
    { event: keyEvent() },
  ];
  const run = runBuiltBundle('apiKeyAuthorizer', steps, env);
  // The stand-in changes its answer once the first (failed) read is in.
  while (reads.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise((resolve) => setTimeout(resolve, ANSWER_DELAY_MS + 50));
  answer = 'pepper';
  const { outcomes, logs } = await run;

  expect(outcomes.slice(0, 3)).toEqual(Array(3).fill(expect.objectContaining({ ok: false, errorType: 'PepperUnavailable' })));
  expect(outcomes.slice(3)).toEqual(Array(2).fill(expect.objectContaining({ ok: true })));
  // One read at init, one after the delay: none for the three refused requests.
  expect(reads).toHaveLength(2);
  expect(reads[1]! - reads[0]!).toBeGreaterThanOrEqual(PEPPER_RETRY_DELAY_MS);
  expect(logs.filter((line) => /pepper not read during init/.test(String(line.message)))).toHaveLength(1);
  const refusals = logs.filter((line) => line.message === 'api key verification failed; refusing');
  expect(refusals).toHaveLength(3);
  expect(JSON.stringify(refusals)).toContain('read again 5000 ms after a failure');
  expect(JSON.stringify(logs)).not.toContain(PEPPER);
}, 30_000);
