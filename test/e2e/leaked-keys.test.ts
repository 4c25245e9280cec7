import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { credentialFormat } from '../../functions/domain/credential-format';
import { run } from '../../lib/admin/cli';
import { scanAll } from '../support/dynamodb';
import { call } from './support/http';
import { isAlive, keygateCli, startStackProcess, stopStackProcess, type StackProcess } from './support/local-stack-process';

/**
 * Leaked keys through `npm start`, over real HTTP: the public revoke route,
 * `keygate scan --report` against it, and keys refused in the wrong fields.
 */
jest.setTimeout(120_000);

let home: string;
let stack: StackProcess;
const keyFormat = credentialFormat('kg');

const revokeUrl = () => `${stack.info.apiUrl}/api/v1/keys/revoke`;
const url = (appUid: string, route: string) => `${stack.info.apiUrl}/api/v1/appuid/${appUid}/${route}`;


/** A key created through the CLI, and a session token it opened. */
async function keyWithSession(appUid: string) {
  const created = await keygateCli(home, 'keys', 'create', '--app', appUid, '--name', 'e2e', '--new-app', '--json');
  if (created.code !== 0) throw new Error(created.stderr);
  const { apiKey, keyId } = JSON.parse(created.stdout) as { apiKey: string; keyId: string };
  const auth = await call('POST', url(appUid, 'sdkusers/auth'), { 'x-api-key': apiKey }, { externalId: `holder-${keyId}` });
  if (auth.status !== 200) throw new Error(`sdkusers/auth answered ${auth.status}`);
  return { apiKey, keyId, appUid, authToken: auth.json.authToken as string };
}

const whoami = async (apiKey: string, appUid: string) => (await call('GET', url(appUid, 'whoami'), { 'x-api-key': apiKey })).status;
const me = async (token: string, appUid: string) => (await call('GET', url(appUid, 'sdkusers/me'), { authorization: `Bearer ${token}` })).status;

async function tableDump(): Promise<string> {
  const client = new DynamoDBClient({ endpoint: stack.info.dynamodbEndpoint, region: stack.info.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    const { keys, sessions, users } = stack.info.tables;
    return JSON.stringify(await Promise.all([keys, sessions, users].map((table) => scanAll(client, table))));
  } finally {
    client.destroy();
  }
}

beforeAll(async () => {
  home = mkdtempSync(path.join(tmpdir(), 'keygate-e2e-leaks-'));
  stack = await startStackProcess(home);
});

afterAll(async () => {
  const java = stack?.info.dynamodbPid;
  if (stack) await stopStackProcess(stack);
  if (java && isAlive(java)) process.kill(java, 'SIGKILL');
  rmSync(home, { recursive: true, force: true });
});

describe('POST /api/v1/keys/revoke through the local gateway', () => {
  test('one key: 202 { received: 1 } with no credential; the key is refused next, its session lives on, the other key works', async () => {
    const leaked = await keyWithSession('leak-a');
    const other = await keyWithSession('leak-a');
    const response = await call('POST', revokeUrl(), {}, { keys: [leaked.apiKey] });
    expect(response).toMatchObject({ status: 202, json: { received: 1 } });
    expect(await whoami(leaked.apiKey, 'leak-a')).toBe(401);
    expect(await me(leaked.authToken, 'leak-a')).toBe(200);
    expect(await whoami(other.apiKey, 'leak-a')).toBe(200);
    const listed = JSON.parse((await keygateCli(home, 'keys', 'list', '--app', 'leak-a', '--json')).stdout) as { keys: { keyId: string }[] };
    expect(listed.keys.map((key) => key.keyId)).toEqual([other.keyId]);
  });

  test('several keys mixed with unknown and malformed entries: 202 counting every entry, the same answer as for nothing known', async () => {
    const valid = await Promise.all([keyWithSession('leak-b'), keyWithSession('leak-c')]);
    const kept = await keyWithSession('leak-b');
    const entries = [valid[0]!.apiKey, keyFormat.generate(), 'not-a-key', kept.authToken, valid[1]!.apiKey];
    const response = await call('POST', revokeUrl(), {}, { keys: entries });
    expect(response).toMatchObject({ status: 202, json: { received: 5 } });
    for (const key of valid) {
      expect(await whoami(key.apiKey, key.appUid)).toBe(401);
      expect(await me(key.authToken, key.appUid)).toBe(200);
    }
    expect(await whoami(kept.apiKey, 'leak-b')).toBe(200);
    expect(await me(kept.authToken, 'leak-b')).toBe(200);

    const unknown = await call('POST', revokeUrl(), {}, { keys: [keyFormat.generate(), 'x', 'y', 'z', keyFormat.generate()] });
    expect({ status: unknown.status, text: unknown.text }).toEqual({ status: response.status, text: response.text });
  });

  test.each<[string, () => unknown, string]>([
    ['not JSON', () => '{"keys": [', '(body)'],
    ['no keys field', () => ({ key: 'x' }), 'keys'],
    ['101 entries', () => ({ keys: Array.from({ length: 101 }, () => keyFormat.generate()) }), 'keys'],
    ['a number among the keys', () => ({ keys: ['x', 1] }), 'keys[1]'],
  ])('a malformed body is 400 naming the problem: %s', async (_label, body, field) => {
    const response = await call('POST', revokeUrl(), {}, body());
    expect(response.status).toBe(400);
    expect(response.json).toEqual({ field, message: expect.any(String) });
  });

  test('GET is not a route, and a key header changes nothing', async () => {
    expect((await call('GET', revokeUrl())).json).toEqual({ message: 'Missing Authentication Token' });
    const live = await keyWithSession('leak-d');
    expect((await call('POST', revokeUrl(), { 'x-api-key': live.apiKey }, { keys: ['x'] })).status).toBe(202);
    expect(await whoami(live.apiKey, 'leak-d')).toBe(200);
  });
});

test('keygate scan --report: finds the keys in a tree, revokes them through the local API, prints no key', async () => {
  const first = await keyWithSession('leak-scan');
  const second = await keyWithSession('leak-scan');
  const bystander = await keyWithSession('leak-scan');
  const tree = mkdtempSync(path.join(tmpdir(), 'keygate-e2e-tree-'));
  try {
    mkdirSync(path.join(tree, 'src'));
    writeFileSync(path.join(tree, '.env'), `API_KEY=${first.apiKey}\nSESSION=${first.authToken}\n`);
    writeFileSync(path.join(tree, 'src', 'client.ts'), `const key = '${second.apiKey}';\nconst unknown = '${keyFormat.generate()}';\n`);
    let stdout = '';
    let stderr = '';
    const code = await run(['scan', '--report', stack.info.apiUrl, tree], {
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
      env: { KEYGATE_HOME: home },
      stdin: { isTTY: true, read: async () => '' },
    });
    expect(code).toBe(1);
    expect(stdout.trim().split('\n')).toEqual([
      `${path.join(tree, '.env')}:1:9: ${first.apiKey.slice(0, 11)} (api key)`,
      `${path.join(tree, '.env')}:2:9: ${first.authToken.slice(0, 12)} (session token)`,
      `${path.join(tree, 'src', 'client.ts')}:1:14: ${second.apiKey.slice(0, 11)} (api key)`,
      expect.stringMatching(new RegExp(`^${path.join(tree, 'src', 'client.ts')}:2:18: kg_[0-9A-Za-z]{8} \\(api key\\)$`)),
    ]);
    expect(stderr).toContain(`reported 3 keys to ${revokeUrl()}; it received 3.`);
    for (const secret of [first.apiKey, second.apiKey, first.authToken]) expect(stdout + stderr).not.toContain(secret.slice(-30));

    expect(await whoami(first.apiKey, 'leak-scan')).toBe(401);
    expect(await whoami(second.apiKey, 'leak-scan')).toBe(401);
    expect(await whoami(bystander.apiKey, 'leak-scan')).toBe(200);
    expect(await me(first.authToken, 'leak-scan')).toBe(200);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
});

describe('keys in the wrong fields are refused with 400 naming the field, and stored nowhere', () => {
  test.each<[string, (key: string, token: string) => unknown, string]>([
    ['a key as externalId', (key) => ({ externalId: key }), 'externalId'],
    ['a key inside userEmail', (key) => ({ userEmail: `${key}@example.com` }), 'userEmail'],
    ['a token as name', (_key, token) => ({ externalId: 'wf-user', name: token }), 'name'],
    ['a key among accountUids', (key) => ({ externalId: 'wf-user', accountUids: ['acct', key] }), 'accountUids[1]'],
  ])('sdkusers/auth with %s', async (_label, body, field) => {
    const caller = await keyWithSession('leak-wf');
    const before = await tableDump();
    const response = await call('POST', url('leak-wf', 'sdkusers/auth'), { 'x-api-key': caller.apiKey }, body(caller.apiKey, caller.authToken));
    expect(response.status).toBe(400);
    expect(response.json.field).toBe(field);
    expect(response.json.message).toMatch(/must not contain an API key or session token/);
    expect(response.text).not.toContain(caller.apiKey.slice(3, 46));
    const after = await tableDump();
    expect(after).toBe(before);
    expect(after).not.toContain(caller.apiKey.slice(3, 46));
  });

  test('keygate keys create with a key as the name: the ValidationError names the field, nothing is created', async () => {
    const caller = await keyWithSession('leak-wf2');
    const result = await keygateCli(home, 'keys', 'create', '--app', 'leak-wf2', '--name', caller.apiKey, '--new-app');
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'keygate: --name must not contain an API key or session token\n' });
    const listed = JSON.parse((await keygateCli(home, 'keys', 'list', '--app', 'leak-wf2', '--json')).stdout) as { keys: unknown[] };
    expect(listed.keys).toHaveLength(1);
  });
});
