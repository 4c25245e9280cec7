import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { credentialFormat } from '../../functions/domain/credential-format';
import { ENV } from '../../lib/shared/environment';
import { call } from './support/http';
import { isAlive, keygateCli, runStackProcess, startStackProcess, stopStackProcess, type StackProcess } from './support/local-stack-process';

/**
 * `npm start` configured as an existing API needs it, through the same
 * variables the construct sets on the functions: the local gateway routes,
 * requires identity sources and evaluates the policies accordingly, and the
 * bundles read the same settings. One stack per scope.
 */
jest.setTimeout(120_000);

const javaPids: number[] = [];
const homes: string[] = [];
afterAll(() => {
  for (const pid of javaPids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  for (const home of homes) rmSync(home, { recursive: true, force: true });
});

async function start(env: Record<string, string>): Promise<{ stack: StackProcess; home: string; demoKey: string }> {
  const home = mkdtempSync(path.join(tmpdir(), 'keygate-e2e-fit-'));
  homes.push(home);
  const stack = await startStackProcess(home, env);
  javaPids.push(stack.info.dynamodbPid!);
  const demoKey = /(kg_[A-Za-z0-9]{49})/.exec(stack.stdout())![1]!;
  return { stack, home, demoKey };
}

const alphanumerics = (length: number) => {
  let out = '';
  while (out.length < length) out += randomBytes(length).toString('base64').replace(/[^A-Za-z0-9]/g, '');
  return out.slice(0, length);
};

describe('context scope, keygate under /keygate, keys in x-customer-key, usage-plan keys imported', () => {
  let stack: StackProcess;
  let home: string;
  let demoKey: string;
  const url = (route: string) => `${stack.info.apiUrl}/keygate/${route}`;
  const plaintextKey = alphanumerics(40);
  const hashedKey = alphanumerics(40);
  let importedIds: string[];

  beforeAll(async () => {
    ({ stack, home, demoKey } = await start({
      [ENV.appScope]: 'context',
      [ENV.basePath]: '/keygate',
      [ENV.apiKeyHeader]: 'X-Customer-Key',
      [ENV.legacyKeyPattern]: '[A-Za-z0-9]{40}',
      [ENV.legacyKeyMinLength]: '40',
      [ENV.legacyKeyMaxLength]: '40',
    }));
  });
  afterAll(async () => {
    expect(await stopStackProcess(stack)).toBe(0);
    for (const key of [demoKey, plaintextKey, hashedKey]) expect(stack.stderr()).not.toContain(key);
  });

  test('the banner states the settings and shows curl lines with the header and routes in use', () => {
    expect(stack.stdout()).toContain('API keys in x-customer-key; Allow scoped by context; routes under /keygate; legacy keys /[A-Za-z0-9]{40}/ (40-40 chars)');
    expect(stack.stdout()).toContain(`curl -s ${url('whoami')} -H 'x-customer-key: ${demoKey}'`);
  });

  test('the custom header works; x-api-key is then refused; the default layout is gone', async () => {
    expect(await call('GET', url('whoami'), { 'x-customer-key': demoKey })).toMatchObject({ status: 200, json: { appUid: 'demo', role: 'app-owner' } });
    expect(await call('GET', url('whoami'), { 'x-api-key': demoKey })).toMatchObject({ status: 401, json: { message: 'Unauthorized' } });
    expect(await call('GET', `${stack.info.apiUrl}/api/v1/appuid/demo/whoami`, { 'x-customer-key': demoKey })).toMatchObject({ status: 403, json: { message: 'Missing Authentication Token' } });
  });

  test('keys import: a plaintext usage-plan key and a SHA-256 hash both authorize in their own format', async () => {
    const file = path.join(home, 'keys.jsonl');
    writeFileSync(file, [JSON.stringify({ key: plaintextKey, name: 'plaintext' }), JSON.stringify({ keyHash: createHash('sha256').update(hashedKey).digest('hex'), name: 'hash' })].join('\n'));
    const imported = await keygateCli(home, 'keys', 'import', '--app', 'legacy-app', '--file', file, '--json');
    expect(imported).toMatchObject({ code: 0, stderr: '' });
    importedIds = (JSON.parse(imported.stdout) as { keys: { keyId: string }[] }).keys.map((key) => key.keyId);
    expect(importedIds).toHaveLength(2);
    for (const [index, key] of [plaintextKey, hashedKey].entries()) {
      expect(await call('GET', url('whoami'), { 'x-customer-key': key })).toMatchObject({ status: 200, json: { appUid: 'legacy-app', keyId: importedIds[index] } });
    }
  });

  test('values of neither format are 401', async () => {
    for (const value of [alphanumerics(39), `${alphanumerics(39)}-`, credentialFormat('kgs').generate(), 'kg_not_a_key']) {
      expect((await call('GET', url('whoami'), { 'x-customer-key': value })).status).toBe(401);
    }
  });

  test('an imported key signs a user in; deleting it refuses the key at once and leaves the session working', async () => {
    const auth = await call('POST', url('sdkusers/auth'), { 'x-customer-key': hashedKey }, { externalId: 'migrated-user' });
    expect(auth.status).toBe(200);
    const me = () => call('GET', url('sdkusers/me'), { authorization: `Bearer ${auth.json.authToken}` });
    expect(await me()).toMatchObject({ status: 200, json: { appUid: 'legacy-app', externalId: 'migrated-user' } });

    expect(await keygateCli(home, 'keys', 'delete', '--app', 'legacy-app', '--key', importedIds[1]!)).toMatchObject({ code: 0 });
    expect((await call('GET', url('whoami'), { 'x-customer-key': hashedKey })).status).toBe(401);
    expect((await me()).status).toBe(200);
    expect((await call('GET', url('whoami'), { 'x-customer-key': plaintextKey })).status).toBe(200);
  });

  test('the public revoke route stays at /api/v1/keys/revoke: it revokes a keygate key, not an imported legacy key, which its owner disables', async () => {
    const revoked = await call('POST', `${stack.info.apiUrl}/api/v1/keys/revoke`, {}, { keys: [plaintextKey, demoKey] });
    expect(revoked).toMatchObject({ status: 202, json: { received: 2 } });
    expect((await call('GET', url('whoami'), { 'x-customer-key': demoKey })).status).toBe(401);
    expect((await call('GET', url('whoami'), { 'x-customer-key': plaintextKey })).status).toBe(200);

    const keyId = importedIds[0]!;
    expect(await keygateCli(home, 'keys', 'update', '--app', 'legacy-app', '--key', keyId, '--disable')).toMatchObject({ code: 0 });
    expect((await call('GET', url('whoami'), { 'x-customer-key': plaintextKey })).status).toBe(401);
    const events = await keygateCli(home, 'keys', 'events', '--app', 'legacy-app', '--key', keyId, '--json');
    expect(JSON.parse(events.stdout)).toMatchObject({
      events: [
        { action: 'disabled', keyId, requestedBy: expect.stringMatching(/^local:/) },
        { action: 'imported', keyId, requestedBy: expect.stringMatching(/^local:/), details: { name: 'plaintext', importedFrom: 'key' } },
      ],
    });
  });
});

describe('path scope at /v2/tenants/{appUid}, keys also as Authorization: Bearer', () => {
  let stack: StackProcess;
  let demoKey: string;
  const url = (appUid: string, route: string) => `${stack.info.apiUrl}/v2/tenants/${appUid}/${route}`;

  beforeAll(async () => {
    ({ stack, demoKey } = await start({ [ENV.basePath]: '/v2/tenants/{appUid}', [ENV.acceptBearerKeys]: 'true' }));
  });
  afterAll(async () => {
    expect(await stopStackProcess(stack)).toBe(0);
  });

  test('a key works in either header on its own app, and gets 403 on another app', async () => {
    expect(await call('GET', url('demo', 'whoami'), { authorization: `Bearer ${demoKey}` })).toMatchObject({ status: 200, json: { appUid: 'demo' } });
    expect(await call('GET', url('demo', 'whoami'), { 'x-api-key': demoKey })).toMatchObject({ status: 200, json: { appUid: 'demo' } });
    expect(await call('GET', url('other', 'whoami'), { authorization: `Bearer ${demoKey}` })).toMatchObject({ status: 403, json: { message: 'User is not authorized to access this resource' } });
  });

  test('no credential: the authorizer (no identity source now) refuses with 401', async () => {
    expect(await call('GET', url('demo', 'whoami'))).toMatchObject({ status: 401, json: { message: 'Unauthorized' } });
  });

  test('the prefix keeps keys and session tokens apart in Authorization: Bearer', async () => {
    const auth = await call('POST', url('demo', 'sdkusers/auth'), { authorization: `Bearer ${demoKey}` }, { externalId: 'u-1' });
    expect(auth.status).toBe(200);
    const token = auth.json.authToken as string;
    expect((await call('GET', url('demo', 'sdkusers/me'), { authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await call('GET', url('demo', 'whoami'), { authorization: `Bearer ${token}` })).status).toBe(401);
    expect((await call('GET', url('demo', 'sdkusers/me'), { authorization: `Bearer ${demoKey}` })).status).toBe(401);
  });
});

test('a setting npm start cannot honour stops it with one line, before anything starts', async () => {
  const home = mkdtempSync(path.join(tmpdir(), 'keygate-e2e-fit-'));
  homes.push(home);
  const result = await runStackProcess(home, { [ENV.basePath]: '/keygate' });
  expect(result.code).toBe(1);
  expect(result.stderr.trim()).toBe("keygate: KEYGATE_BASE_PATH must contain the {appUid} segment when appScope is path, got '/keygate'");
});
