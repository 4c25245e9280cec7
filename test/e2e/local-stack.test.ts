import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, existsSync, mkdirSync, chmodSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir, userInfo } from 'node:os';
import * as path from 'node:path';
import { call } from './support/http';
import { isAlive, keygateCli, runStackProcess, startStackProcess, stopStackProcess, type StackProcess } from './support/local-stack-process';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createHasher } from '../../functions/domain/hashing';
import { appRecordItemKey, keyHashItemKey, sessionItemKey } from '../../lib/shared/item-keys';
import { credentialFormat } from '../../functions/domain/credential-format';
import { ADMIN_FUNCTIONS, FUNCTIONS } from '../../lib/shared/functions';
import { scanAll } from '../support/dynamodb';
import { answersDynamoDb, answersHttp, expectLoopbackOnly } from '../support/network';

/**
 * `npm start` end to end: a child process running DynamoDB Local on disk, the
 * bundled functions, the local API Gateway and Lambda Invoke API, driven over
 * real HTTP and through the CLI code path. The tests run in order and share
 * one stack (restarted once).
 */
jest.setTimeout(120_000);

let home: string;
let stack: StackProcess | undefined;
const javaPids: number[] = [];

const url = (appUid: string, route: string) => `${stack!.info.apiUrl}/api/v1/appuid/${appUid}/${route}`;

/** The JSON log lines the functions printed (Powertools writes WARN and ERROR to stderr). */
function functionLogs(): Record<string, unknown>[] {
  return `${stack!.stdout()}\n${stack!.stderr()}`
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function eventually<T>(find: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  for (const started = Date.now(); ; await new Promise((resolve) => setTimeout(resolve, 50))) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() - started > timeoutMs) throw new Error('not found in time');
  }
}

beforeAll(async () => {
  // A data folder as an earlier version left it: world-readable, with a world-readable database file.
  home = path.join(mkdtempSync(path.join(tmpdir(), 'keygate-e2e-')), 'home');
  mkdirSync(path.join(home, 'dynamodb'), { recursive: true });
  writeFileSync(path.join(home, 'dynamodb', 'old.db'), '');
  for (const [entry, mode] of [['', 0o755], ['dynamodb', 0o755], ['dynamodb/old.db', 0o644]] as const) chmodSync(path.join(home, entry), mode);
  stack = await startStackProcess(home);
  javaPids.push(stack.info.dynamodbPid!);
});

afterAll(async () => {
  if (stack) await stopStackProcess(stack);
  // Whatever happened above, leave no Java behind.
  for (const pid of javaPids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(path.dirname(home), { recursive: true, force: true });
});

let demoKey: string;
let appKey: string;
let appKeyId: string;
let authToken: string;

test('first start: prints the API URL and a working demo key with curl lines, writes local.json, keeps the pepper private', async () => {
  const out = stack!.stdout();
  expect(out).toContain(`keygate local API: ${stack!.info.apiUrl}`);
  expect(stack!.info.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(stack!.info.functions).toEqual(Object.fromEntries(ADMIN_FUNCTIONS.map((id) => [id, FUNCTIONS[id].name])));
  expect(out).toContain('API keys in x-api-key; Allow scoped by path; routes under /api/v1/appuid/{appUid}');
  // The stack's default tiers, as KeygateStack deploys them.
  expect(stack!.info.plans).toEqual(['free', 'standard', 'premium']);
  expect(out).toContain('plans: free, standard, premium');
  expect(isAlive(stack!.info.dynamodbPid)).toBe(true);

  demoKey = /x-api-key: (kg_[A-Za-z0-9]+)/.exec(out)![1]!;
  expect(out).toContain(`curl -s ${url('demo', 'whoami')} -H 'x-api-key: ${demoKey}'`);
  expect(out).toContain(`curl -s -X POST ${url('demo', 'sdkusers/auth')}`);
  expect(out).toContain(`curl -s ${url('demo', 'sdkusers/me')} -H 'Authorization: Bearer`);
  const whoami = await call('GET', url('demo', 'whoami'), { 'x-api-key': demoKey });
  expect(whoami.status).toBe(200);
  expect(whoami.json).toMatchObject({ appUid: 'demo', role: 'app-owner' });

  expect(statSync(path.join(home, 'pepper')).mode & 0o777).toBe(0o600);
  // The demo key is printed, not stored.
  expect(JSON.stringify(require(path.join(home, 'demo.json')))).not.toContain(demoKey);
});

test('reachable from this machine only: every server on 127.0.0.1 alone, DynamoDB Local without the pepper, the data folder owner-only', async () => {
  const { info } = stack!;
  await expectLoopbackOnly(info.dynamodbEndpoint, answersDynamoDb);
  await expectLoopbackOnly(info.apiUrl, answersHttp);
  await expectLoopbackOnly(info.lambdaEndpoint, answersHttp);

  const java = readFileSync(`/proc/${info.dynamodbPid}/cmdline`, 'utf8').split('\0');
  expect(java).toContain('-disableTelemetry');
  expect(java.some((arg) => /cors/i.test(arg))).toBe(false);
  const pepper = readFileSync(path.join(home, 'pepper'), 'utf8').trim();
  expect(readFileSync(`/proc/${info.dynamodbPid}/environ`, 'utf8')).not.toContain(pepper);

  // The folders were 0755 and old.db 0644 before the start; everything is the owner's only now, new files included.
  expect(statSync(home).mode & 0o777).toBe(0o700);
  for (const file of ['pepper', 'local.json', 'lambda-api-secret', 'demo.json']) expect([file, statSync(path.join(home, file)).mode & 0o777]).toEqual([file, 0o600]);
  const dynamodbDir = path.join(home, 'dynamodb');
  expect(statSync(dynamodbDir).mode & 0o777).toBe(0o700);
  const databaseFiles = readdirSync(dynamodbDir);
  expect(databaseFiles).toEqual(expect.arrayContaining(['old.db', 'shared-local-instance.db']));
  for (const file of databaseFiles) expect([file, statSync(path.join(dynamodbDir, file)).mode & 0o077]).toEqual([file, 0]);
});

test("the Lambda Invoke API refuses a web page's POST to create-key and a caller without the secret; the CLI has it", async () => {
  const post = (headers: Record<string, string>) =>
    new Promise<number | undefined>((resolve, reject) => {
      const req = request(`${stack!.info.lambdaEndpoint}/2015-03-31/functions/create-key/invocations`, { method: 'POST', headers });
      req.on('response', (res) => res.resume().on('end', () => resolve(res.statusCode)));
      req.on('error', reject);
      req.end('{"appUid":"attacker","name":"from a page"}');
    });
  expect(await post({ 'content-type': 'text/plain', origin: 'https://attacker.example' })).toBe(403);
  expect(await post({ host: 'attacker.example' })).toBe(403);
  expect(await post({})).toBe(403);
  const listed = await keygateCli(home, 'keys', 'list', '--app', 'attacker', '--json');
  expect(listed).toMatchObject({ code: 0, stderr: '' });
  expect(JSON.parse(listed.stdout).keys).toEqual([]);
});

test('a header or query parameter named constructor or __proto__ reaches the bundles as a plain value', async () => {
  const response = await call('GET', `${url('demo', 'whoami')}?__proto__=1&constructor=2`, { 'x-api-key': demoKey, constructor: 'x' });
  expect(response.status).toBe(200);
});

test('a second npm start on the same data refuses with one line and leaves the first running', async () => {
  const second = await runStackProcess(home);
  expect(second.code).toBe(1);
  expect(second.stderr.trim().split('\n').filter((line) => line.startsWith('keygate:'))).toEqual([
    expect.stringMatching(/^keygate: a keygate local stack is already running/),
  ]);
  expect((await call('GET', url('demo', 'whoami'), { 'x-api-key': demoKey })).status).toBe(200);
});

test('CLI create (the admin bundle through the Lambda Invoke API), then whoami is 200', async () => {
  // A first key needs --new-app: without it, an app nobody has made yet is taken for a typo.
  const refused = await keygateCli(home, 'keys', 'create', '--app', 'e2e-a', '--name', 'e2e key');
  expect(refused).toEqual({ code: 1, stdout: '', stderr: 'keygate: app e2e-a has no keys yet: check --app for a typo, or pass --new-app to create its first key\n' });

  const created = await keygateCli(home, 'keys', 'create', '--app', 'e2e-a', '--name', 'e2e key', '--new-app', '--expires-at', '2099-01-01', '--json');
  expect(created).toMatchObject({ code: 0, stderr: '' });
  const output = JSON.parse(created.stdout);
  expect(output).toMatchObject({ appUid: 'e2e-a', name: 'e2e key', keyId: expect.stringMatching(/^key_/), apiKey: expect.stringMatching(/^kg_/), expiresAt: '2099-01-01T00:00:00.000Z' });
  appKey = output.apiKey;
  appKeyId = output.keyId;

  const whoami = await call('GET', url('e2e-a', 'whoami'), { 'x-api-key': appKey });
  expect(whoami).toMatchObject({ status: 200, json: { appUid: 'e2e-a', keyId: appKeyId, role: 'app-owner' } });
});

test('the same key on another app is 403', async () => {
  const response = await call('GET', url('e2e-b', 'whoami'), { 'x-api-key': appKey });
  expect(response.status).toBe(403);
  expect(response.json).toEqual({ message: 'User is not authorized to access this resource' });
  expect(response.text).not.toContain(appKey);
});

test.each([
  ['no header', {}],
  ['an empty header', { 'x-api-key': '' }],
  ['garbage', { 'x-api-key': 'not-a-key' }],
  ['a bad checksum', 'checksum'],
  ['a session token in x-api-key', { 'x-api-key': credentialFormat('kgs').generate() }],
])('%s is 401', async (_, headers) => {
  const sent =
    headers === 'checksum' ? { 'x-api-key': `${appKey.slice(0, -1)}${appKey.endsWith('A') ? 'B' : 'A'}` } : (headers as Record<string, string>);
  const response = await call('GET', url('e2e-a', 'whoami'), sent);
  expect(response.status).toBe(401);
  expect(response.json).toEqual({ message: 'Unauthorized' });
});

test('an unknown route is 403 Missing Authentication Token', async () => {
  const response = await call('GET', url('e2e-a', 'nope'), { 'x-api-key': appKey });
  expect(response).toMatchObject({ status: 403, json: { message: 'Missing Authentication Token' } });
});

test('session flow: sdkusers/auth with the key, then sdkusers/me with the token', async () => {
  const bad = await call('POST', url('e2e-a', 'sdkusers/auth'), { 'x-api-key': appKey }, { externalId: 'has spaces' });
  expect(bad.status).toBe(400);
  expect(bad.json.message).toMatch(/externalId/);

  const auth = await call('POST', url('e2e-a', 'sdkusers/auth'), { 'x-api-key': appKey }, { externalId: 'user-1', name: 'Ada', accountUids: ['acc-1'] });
  expect(auth.status).toBe(200);
  expect(auth.json).toEqual({ authToken: expect.stringMatching(/^kgs_/), expiresAt: expect.any(String) });
  authToken = auth.json.authToken;

  const me = await call('GET', url('e2e-a', 'sdkusers/me'), { authorization: `Bearer ${authToken}` });
  expect(me.status).toBe(200);
  expect(me.json).toMatchObject({ appUid: 'e2e-a', externalId: 'user-1', name: 'Ada', accountUids: ['acc-1'], userId: expect.any(String) });

  // Each route takes only its own credential.
  expect((await call('GET', url('e2e-a', 'sdkusers/me'), { 'x-api-key': appKey })).status).toBe(401);
  expect((await call('GET', url('e2e-b', 'sdkusers/me'), { authorization: `Bearer ${authToken}` })).status).toBe(403);
});

test('CLI list shows the key but never a key or hash', async () => {
  const listed = await keygateCli(home, 'keys', 'list', '--app', 'e2e-a', '--json');
  expect(listed.code).toBe(0);
  const output = JSON.parse(listed.stdout);
  expect(output.keys).toEqual([expect.objectContaining({ keyId: appKeyId, name: 'e2e key' })]);
  expect(listed.stdout).not.toContain(appKey);
  expect(listed.stdout).not.toMatch(/hash/i);
});

test('CLI delete: the next request with the key is 401, the session it created still works', async () => {
  const deleted = await keygateCli(home, 'keys', 'delete', '--app', 'e2e-a', '--key', appKeyId);
  expect(deleted).toEqual({ code: 0, stdout: `Deleted key ${appKeyId} from app e2e-a.\n`, stderr: '' });

  expect((await call('GET', url('e2e-a', 'whoami'), { 'x-api-key': appKey })).status).toBe(401);
  expect((await call('POST', url('e2e-a', 'sdkusers/auth'), { 'x-api-key': appKey }, { externalId: 'user-1' })).status).toBe(401);
  expect((await call('GET', url('e2e-a', 'sdkusers/me'), { authorization: `Bearer ${authToken}` })).status).toBe(200);

  const again = await keygateCli(home, 'keys', 'delete', '--app', 'e2e-a', '--key', appKeyId);
  expect(again).toEqual({ code: 1, stdout: '', stderr: `keygate: key ${appKeyId} not found in app e2e-a\n` });
});

test("the stack's logs follow a request by its id: a refusal carries the Lambda request id, the cold-start flag and the id the client got", async () => {
  const refused = await call('GET', url('e2e-a', 'whoami'), { 'x-api-key': appKey });
  expect(refused.status).toBe(401);
  expect(refused.requestId).toMatch(/^[0-9a-f-]{36}$/);
  const line = await eventually(() => functionLogs().find((entry) => entry.apiRequestId === refused.requestId));
  expect(line).toMatchObject({
    level: 'INFO',
    message: 'api key refused',
    reason: 'not_found',
    function_name: 'api-key-authorizer',
    function_request_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    cold_start: false,
  });
  expect(line.function_request_id).not.toBe(refused.requestId);
  // The gateway's own line names the same request.
  const gatewayLine = new RegExp(`GET /api/v1/appuid/e2e-a/whoami 401 \\d+ms ${refused.requestId}`);
  await eventually(() => (gatewayLine.test(stack!.stderr()) ? true : undefined));
  // Every function line carries a request id; each function's first invocation is flagged as its cold start.
  const lines = functionLogs().filter((entry) => entry.level !== undefined && entry.function_name !== undefined);
  expect(lines.length).toBeGreaterThan(3);
  for (const entry of lines) expect(entry.function_request_id).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
  expect(lines.find((entry) => entry.function_name === 'create-key')).toMatchObject({ cold_start: true, message: 'create-key succeeded' });
  expect(stack!.stdout()).not.toContain(appKey);
});

describe('key lifecycle through npm start and the CLI', () => {
  const app = 'e2e-life';
  const me = `local:${userInfo().username}`;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const whoamiStatus = async (apiKey: string) => (await call('GET', url(app, 'whoami'), { 'x-api-key': apiKey })).status;
  const cliJson = async (...argv: string[]) => {
    const result = await keygateCli(home, ...argv, '--json');
    if (result.code !== 0) throw new Error(`keygate ${argv.join(' ')} failed: ${result.stderr}`);
    return JSON.parse(result.stdout);
  };
  const sessionOf = async (apiKey: string, externalId: string) => {
    const auth = await call('POST', url(app, 'sdkusers/auth'), { 'x-api-key': apiKey }, { externalId });
    expect(auth.status).toBe(200);
    return auth.json.authToken as string;
  };
  const sessionStatus = async (token: string) => (await call('GET', url(app, 'sdkusers/me'), { authorization: `Bearer ${token}` })).status;
  const listed = async (keyId: string) => (await cliJson('keys', 'list', '--app', app)).keys.find((key: { keyId: string }) => key.keyId === keyId);
  const created: string[] = [];

  test('roll --grace 0: the old key gets 401 at once, the new one 200; sessions of both keys keep working', async () => {
    const old = await cliJson('keys', 'create', '--app', app, '--name', 'rolled now', '--new-app');
    created.push(old.keyId);
    const oldSession = await sessionOf(old.apiKey, 'user-old');

    const human = await keygateCli(home, 'keys', 'roll', '--app', app, '--key', old.keyId, '--grace', '0');
    expect(human.code).toBe(0);
    const newKey = /^ {2}(kg_[A-Za-z0-9]+)$/m.exec(human.stdout)![1]!;
    expect(human.stdout).toContain(`The old key ${old.keyId} stops working at `);
    expect(await whoamiStatus(old.apiKey)).toBe(401);
    expect(await whoamiStatus(newKey)).toBe(200);
    const newSession = await sessionOf(newKey, 'user-new');
    expect(await sessionStatus(oldSession)).toBe(200);
    expect(await sessionStatus(newSession)).toBe(200);
    const newKeyId = (await call('GET', url(app, 'whoami'), { 'x-api-key': newKey })).json.keyId;
    expect(await listed(newKeyId)).toMatchObject({ name: 'rolled now', status: 'active', rolledFromKeyId: old.keyId });
    expect(await listed(old.keyId)).toMatchObject({ status: 'expired' });
  });

  test('roll with a grace period that runs out: the old key works, then gets 401; the new one keeps working', async () => {
    const old = await cliJson('keys', 'create', '--app', app, '--name', 'graceful');
    const rolled = await cliJson('keys', 'roll', '--app', app, '--key', old.keyId, '--grace', '3s');
    expect(rolled).toMatchObject({ rolledFromKeyId: old.keyId, name: 'graceful', appUid: app });
    expect(await whoamiStatus(old.apiKey)).toBe(200);
    expect(await whoamiStatus(rolled.apiKey)).toBe(200);
    await sleep(Date.parse(rolled.previousKeyExpiresAt) - Date.now() + 100);
    expect(await whoamiStatus(old.apiKey)).toBe(401);
    expect(await whoamiStatus(rolled.apiKey)).toBe(200);
  });

  test('update --disable: 401 on the next request; --enable: 200 again', async () => {
    const key = await cliJson('keys', 'create', '--app', app, '--name', 'toggled');
    created.push(key.keyId);
    const disabled = await keygateCli(home, 'keys', 'update', '--app', app, '--key', key.keyId, '--disable');
    expect(disabled).toEqual({ code: 0, stdout: `Key ${key.keyId} (${key.displayPrefix}) 'toggled': disabled, expires never, last used never.\n`, stderr: '' });
    expect(await whoamiStatus(key.apiKey)).toBe(401);
    expect(await cliJson('keys', 'update', '--app', app, '--key', key.keyId, '--enable')).toMatchObject({ status: 'active', enabled: true });
    expect(await whoamiStatus(key.apiKey)).toBe(200);
  });

  test('update --expires-at: the key stops when it passes; --expires-at never brings it back', async () => {
    const key = await cliJson('keys', 'create', '--app', app, '--name', 'expiring');
    const soon = new Date(Date.now() + 2000).toISOString();
    expect(await cliJson('keys', 'update', '--app', app, '--key', key.keyId, '--expires-at', soon)).toMatchObject({ expiresAt: soon, status: 'active' });
    expect(await whoamiStatus(key.apiKey)).toBe(200);
    await sleep(Date.parse(soon) - Date.now() + 100);
    expect(await whoamiStatus(key.apiKey)).toBe(401);
    const cleared = await cliJson('keys', 'update', '--app', app, '--key', key.keyId, '--expires-at', 'never');
    expect(cleared.expiresAt).toBeUndefined();
    expect(await whoamiStatus(key.apiKey)).toBe(200);
  });

  test('list shows lastUsedAt after the first use, not rewritten within the interval', async () => {
    const key = await cliJson('keys', 'create', '--app', app, '--name', 'used');
    expect((await listed(key.keyId)).lastUsedAt).toBeUndefined();
    expect(await whoamiStatus(key.apiKey)).toBe(200);
    let first: string | undefined;
    for (let i = 0; i < 100 && !first; i++, await sleep(50)) first = (await listed(key.keyId)).lastUsedAt;
    expect(first).toEqual(expect.any(String));
    for (let i = 0; i < 3; i++) expect(await whoamiStatus(key.apiKey)).toBe(200);
    await sleep(300);
    expect((await listed(key.keyId)).lastUsedAt).toBe(first);
    const table = await keygateCli(home, 'keys', 'list', '--app', app);
    expect(table.stdout).toMatch(new RegExp(`${key.keyId}\\s+${key.displayPrefix}\\s+used\\s+active\\s+\\S+\\s+-\\s+${first}`));
  });

  test('events: one event per change, newest first, with who asked; --key narrows to one key', async () => {
    const [rolledNow, toggled] = created;
    const all = await cliJson('keys', 'events', '--app', app);
    expect(all.nextToken).toBeUndefined();
    const ofToggled = await cliJson('keys', 'events', '--app', app, '--key', toggled!);
    expect(ofToggled.events.map((event: { action: string }) => event.action)).toEqual(['enabled', 'disabled', 'created']);
    for (const event of ofToggled.events) expect(event).toMatchObject({ keyId: toggled, requestedBy: me });
    const ofRolled = await cliJson('keys', 'events', '--app', app, '--key', rolledNow!);
    expect(ofRolled.events.map((event: { action: string }) => event.action)).toEqual(['rolled', 'created']);
    expect(ofRolled.events[0].details).toMatchObject({ gracePeriodSeconds: 0 });
    // 5 keys created, 2 rolled, 2 toggles, 2 expiry changes: 11 changes, 11 events.
    expect(all.events.map((event: { action: string }) => event.action).sort()).toEqual(
      [...Array(5).fill('created'), 'rolled', 'rolled', 'disabled', 'enabled', 'updated', 'updated'].sort(),
    );
    const human = await keygateCli(home, 'keys', 'events', '--app', app, '--key', toggled!);
    expect(human.stdout).toMatch(/AT\s+ACTION\s+KEY ID\s+REQUESTED BY\s+DETAILS/);
    expect(human.stdout).toContain(me);
  });

  test('failed calls exit 1 with one line and write neither change nor event', async () => {
    const before = { keys: await cliJson('keys', 'list', '--app', app), events: await cliJson('keys', 'events', '--app', app) };
    const unknown = 'key_00000000000000000000';
    for (const [argv, line] of [
      [['keys', 'update', '--app', app, '--key', unknown, '--disable'], `keygate: key ${unknown} not found in app ${app}`],
      [['keys', 'roll', '--app', app, '--key', created[1]!, '--grace', '8d'], 'keygate: gracePeriodSeconds must be between 0 and 604800 (7 days)'],
      [['keys', 'update', '--app', app, '--key', created[1]!, '--expires-at', '2001-01-01T00:00:00Z'], 'keygate: --expires-at must be in the future'],
      [['keys', 'update', '--app', app, '--key', created[1]!], 'keygate: update-key input needs at least one of name, expiresAt (null clears it) or enabled'],
    ] as const) {
      expect(await keygateCli(home, ...argv)).toEqual({ code: 1, stdout: '', stderr: `${line}\n` });
    }
    expect(await cliJson('keys', 'list', '--app', app)).toEqual(before.keys);
    expect(await cliJson('keys', 'events', '--app', app)).toEqual(before.events);
  });
});

describe('sessions and users through the CLI and the bundles', () => {
  const app = 'e2e-r';
  const keys: Record<'r1' | 'r2', { keyId: string; apiKey: string }> = {} as never;
  const tokens: Record<string, string> = {};
  const signIn = async (key: 'r1' | 'r2', body: Record<string, unknown>) => {
    const auth = await call('POST', url(app, 'sdkusers/auth'), { 'x-api-key': keys[key].apiKey }, body);
    expect(auth.status).toBe(200);
    return String(auth.json.authToken);
  };
  const me = (token: string) => call('GET', url(app, 'sdkusers/me'), { authorization: `Bearer ${token}` });
  const statuses = async () => Object.fromEntries(await Promise.all(Object.entries(tokens).map(async ([name, token]) => [name, (await me(token)).status])));
  const localTables = async () => {
    const client = new DynamoDBClient({ endpoint: stack!.info.dynamodbEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    try {
      const { keys: k, sessions, users } = stack!.info.tables;
      return JSON.stringify(await Promise.all([k, sessions, users].map((name) => scanAll(client, name))), (_key, value: unknown) => (value instanceof Set ? [...value] : value));
    } finally {
      client.destroy();
    }
  };

  beforeAll(async () => {
    for (const [name, flags] of [['r1', ['--new-app']], ['r2', []]] as const) {
      const created = await keygateCli(home, 'keys', 'create', '--app', app, '--name', name, ...flags, '--json');
      expect(created.code).toBe(0);
      keys[name] = JSON.parse(created.stdout);
    }
    tokens.aliceByR1 = await signIn('r1', { externalId: 'alice' });
    tokens.aliceByR2 = await signIn('r2', { externalId: 'alice' });
    tokens.bobByR1 = await signIn('r1', { externalId: 'bob' });
    tokens.carolByR2 = await signIn('r2', { userEmail: 'carol@example.com' });
  });

  test('each revoke selector ends exactly the matching sessions; a deleted key\'s sessions live until revoked', async () => {
    const live = { aliceByR1: 200, aliceByR2: 200, bobByR1: 200, carolByR2: 200 };
    expect(await statuses()).toEqual(live);

    expect((await keygateCli(home, 'keys', 'delete', '--app', app, '--key', keys.r1.keyId)).code).toBe(0);
    expect(await statuses()).toEqual(live);

    // A session id as an admin would find it in the logs or the authorizer context; here, from the table.
    const carolUserId = (await me(tokens.carolByR2!)).json.userId as string;
    const sessionId = (JSON.parse(await localTables())[1] as Record<string, string>[]).find((item) => item.pk.startsWith(`sid#${app}#`) && item.userId === carolUserId)!.sessionId;

    expect(await keygateCli(home, 'sessions', 'revoke', '--app', app, '--session', sessionId!)).toEqual({ code: 0, stdout: `Revoked 1 session (session ${sessionId}) in app ${app}.\n`, stderr: '' });
    expect(await statuses()).toEqual({ ...live, carolByR2: 401 });

    expect((await keygateCli(home, 'sessions', 'revoke', '--app', app, '--external-id', 'bob')).stdout).toBe(`Revoked 1 session of the user with externalId bob in app ${app}.\n`);
    expect(await statuses()).toEqual({ ...live, carolByR2: 401, bobByR1: 401 });

    expect((await keygateCli(home, 'sessions', 'revoke', '--app', app, '--created-by-key', keys.r1.keyId)).stdout).toBe(`Revoked 1 session opened with key ${keys.r1.keyId} in app ${app}.\n`);
    expect(await statuses()).toEqual({ aliceByR1: 401, aliceByR2: 200, bobByR1: 401, carolByR2: 401 });

    const aliceUserId = (await me(tokens.aliceByR2!)).json.userId as string;
    const byUser = await keygateCli(home, 'sessions', 'revoke', '--app', app, '--user', aliceUserId, '--json');
    expect(JSON.parse(byUser.stdout)).toEqual({ revoked: 1 });
    expect(await statuses()).toEqual({ aliceByR1: 401, aliceByR2: 401, bobByR1: 401, carolByR2: 401 });

    // The session made earlier in this file, with a key of another app, is untouched.
    expect((await call('GET', url('e2e-a', 'sdkusers/me'), { authorization: `Bearer ${authToken}` })).status).toBe(200);
  });

  test('users delete: the record and every session are gone; no item holds the email, externalId or name', async () => {
    const t1 = await signIn('r2', { userEmail: 'Dave.Erase@Example.com', name: 'Dave Erasable', accountUids: ['acct-dave'] });
    const t2 = await signIn('r2', { userEmail: 'dave.erase@example.com' });
    const userId = (await me(t1)).json.userId as string;
    expect(await localTables()).toContain('Dave Erasable');

    const deleted = await keygateCli(home, 'users', 'delete', '--app', app, '--email', 'Dave.Erase@example.com');
    expect(deleted).toEqual({ code: 0, stdout: `Deleted user ${userId} from app ${app}; 2 sessions revoked.\n`, stderr: '' });
    expect((await me(t1)).status).toBe(401);
    expect((await me(t2)).status).toBe(401);
    const after = (await localTables()).toLowerCase();
    for (const personal of ['dave.erase@example.com', 'dave erasable', 'acct-dave', userId.toLowerCase()]) expect(after).not.toContain(personal);
  });

  test('apps list and apps show count the keys', async () => {
    const listed = JSON.parse((await keygateCli(home, 'apps', 'list', '--json')).stdout) as { apps: { appUid: string; keyCount: number }[] };
    expect(listed.apps.filter((a) => (a.appUid.startsWith('e2e-') && a.appUid !== 'e2e-life') || a.appUid === 'demo').map(({ appUid, keyCount }) => ({ appUid, keyCount }))).toEqual([
      { appUid: 'demo', keyCount: 1 },
      { appUid: 'e2e-a', keyCount: 0 },
      { appUid: 'e2e-r', keyCount: 1 },
    ]);
    // npm start's default plan: the app's first key put it on free.
    expect((await keygateCli(home, 'apps', 'show', '--app', app)).stdout).toMatch(/^app\s+e2e-r\nplan\s+free\nkeys\s+1\ncreated\s+\S+\ngateway key\s+\S+ \(API Gateway API key id\)\n$/);
  });

  test.each([
    [['sessions', 'revoke', '--app', 'e2e-r', '--user', 'nope'], "keygate: --user must be 'usr_' followed by 20 letters or digits\n"],
    [['users', 'delete', '--app', 'e2e-r', '--external-id', 'nobody'], 'keygate: no user with that externalId in app e2e-r\n'],
    [['apps', 'show', '--app', 'never-seen'], 'keygate: app never-seen not found: it has no keys and no plan\n'],
  ])('a bundle\'s typed error reaches the CLI as one line naming the flag: %j', async (argv, line) => {
    expect(await keygateCli(home, ...argv)).toEqual({ code: 1, stdout: '', stderr: line });
  });
});

describe('sealed records through npm start', () => {
  const dynamodb = () => DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: stack!.info.dynamodbEndpoint, region: stack!.info.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }));
  const hash = createHasher(async () => readFileSync(path.join(home, 'pepper'), 'utf8').trim());
  const whoamiStatus = async (apiKey: string, app: string) => (await call('GET', url(app, 'whoami'), { 'x-api-key': apiKey })).status;
  /** The app's gateway key (it is on the default plan since its first key): an earlier keygate wrote it on each hash item too. */
  const gatewayKeyOf = async (db: DynamoDBDocumentClient, appUid: string) => {
    const { Item } = await db.send(new GetCommand({ TableName: stack!.info.tables.keys, Key: appRecordItemKey(appUid), ConsistentRead: true }));
    return { gatewayKey: String(Item!.gatewayKey) };
  };

  test('an item changed in DynamoDB Local without the pepper gets 401 over HTTP: a key moved to another app, a session handed to another user', async () => {
    const created = JSON.parse((await keygateCli(home, 'keys', 'create', '--app', 'e2e-seal', '--name', 'sealed', '--new-app', '--json')).stdout);
    expect(await whoamiStatus(created.apiKey, 'e2e-seal')).toBe(200);
    const auth = await call('POST', url('e2e-seal', 'sdkusers/auth'), { 'x-api-key': created.apiKey }, { externalId: 'sealed-user' });
    const token = auth.json.authToken as string;
    expect((await call('GET', url('e2e-seal', 'sdkusers/me'), { authorization: `Bearer ${token}` })).status).toBe(200);

    const db = dynamodb();
    try {
      await db.send(new UpdateCommand({ TableName: stack!.info.tables.keys, Key: keyHashItemKey(await hash(created.apiKey)), UpdateExpression: 'SET appUid = :b', ExpressionAttributeValues: { ':b': 'e2e-victim' } }));
      await db.send(new UpdateCommand({ TableName: stack!.info.tables.sessions, Key: sessionItemKey(await hash(token)), UpdateExpression: 'SET userKey = :u', ExpressionAttributeValues: { ':u': 'someone-else' } }));
    } finally {
      db.destroy();
    }
    expect(await whoamiStatus(created.apiKey, 'e2e-victim')).toBe(401);
    expect(await whoamiStatus(created.apiKey, 'e2e-seal')).toBe(401);
    expect((await call('GET', url('e2e-seal', 'sdkusers/me'), { authorization: `Bearer ${token}` })).status).toBe(401);
    expect(stack!.stdout() + stack!.stderr()).not.toContain(created.apiKey);
  });

  test('keygate seal-records seals a key written before sealing (401 before, 200 after), reports the tampered ones, and a second run seals nothing', async () => {
    const apiKey = credentialFormat('kg').generate();
    const legacy = { keyId: 'key_E2ELEGACYE2ELEGACYE', appUid: 'e2e-seal', name: 'legacy', displayPrefix: apiKey.slice(0, 11), createdAt: '2025-01-01T00:00:00.000Z' };
    const db = dynamodb();
    try {
      await db.send(new PutCommand({ TableName: stack!.info.tables.keys, Item: { ...keyHashItemKey(await hash(apiKey)), ...legacy, ...(await gatewayKeyOf(db, 'e2e-seal')) } }));
    } finally {
      db.destroy();
    }
    expect(await whoamiStatus(apiKey, 'e2e-seal')).toBe(401);

    const sealed = await keygateCli(home, 'seal-records');
    expect(sealed.code).toBe(0);
    expect(sealed.stdout).toMatch(/^Sealed 1 key item, 0 sessions and 0 app plans; \d+ key items?, \d+ sessions? and \d+ app plans? were sealed already\.\n/);
    expect(sealed.stdout).toContain('1 key item, 1 session and 0 app plans carry a seal that does not verify');
    expect(await whoamiStatus(apiKey, 'e2e-seal')).toBe(200);
    const again = await keygateCli(home, 'seal-records', '--json');
    expect(JSON.parse(again.stdout)).toMatchObject({ keys: { sealed: 0, wrongSeal: 1 }, sessions: { sealed: 0, wrongSeal: 1 } });
    expect(await keygateCli(home, 'seal-records', '--limit', '0')).toMatchObject({ code: 1, stderr: expect.stringMatching(/^keygate: --limit must be between 1 and 10000/) });
  });

  test('a restart seals what an earlier keygate left in the data folder', async () => {
    const apiKey = credentialFormat('kg').generate();
    const db = dynamodb();
    try {
      const legacy = { keyId: 'key_E2ERESTARTE2ERESTA', appUid: 'e2e-seal', name: 'before sealing', displayPrefix: apiKey.slice(0, 11), createdAt: '2025-01-01T00:00:00.000Z' };
      await db.send(new PutCommand({ TableName: stack!.info.tables.keys, Item: { ...keyHashItemKey(await hash(apiKey)), ...legacy, ...(await gatewayKeyOf(db, 'e2e-seal')) } }));
    } finally {
      db.destroy();
    }
    restartChecks.push(async (restarted) => {
      expect(restarted.stderr()).toContain('[keygate] sealed 1 key, session and app plan item written by an earlier keygate');
      expect(await whoamiStatus(apiKey, 'e2e-seal')).toBe(200);
    });
  });
});

/** Checks that need the restart below. */
const restartChecks: ((restarted: StackProcess) => Promise<void>)[] = [];

test('Ctrl-C (SIGTERM) stops everything it started, Java included; a restart keeps the data and prints no key', async () => {
  const first = stack!;
  const lambdaApiSecret = readFileSync(path.join(home, 'lambda-api-secret'), 'utf8');
  expect(await stopStackProcess(first)).toBe(0);
  expect(isAlive(first.info.dynamodbPid)).toBe(false);
  expect(existsSync(path.join(home, 'local.json'))).toBe(false);
  expect(existsSync(path.join(home, 'lambda-api-secret'))).toBe(false);
  expect(first.stdout()).not.toContain(authToken);
  expect(first.stderr()).not.toContain(demoKey);
  expect(first.stderr()).not.toContain(authToken);

  const cliWhileStopped = await keygateCli(home, 'keys', 'list', '--app', 'demo');
  expect(cliWhileStopped.code).toBe(1);
  expect(cliWhileStopped.stderr).toBe(
    `keygate: no local keygate stack is running from ${home} (KEYGATE_HOME): start one with \`npm start\` in the keygate checkout, set KEYGATE_HOME to the data folder of a running one, or pass --stack <name> for a deployed stack\n`,
  );

  const firstSecret = lambdaApiSecret;
  stack = await startStackProcess(home);
  javaPids.push(stack.info.dynamodbPid!);
  expect(readFileSync(path.join(home, 'lambda-api-secret'), 'utf8')).not.toBe(firstSecret);
  expect(stack.stdout()).not.toMatch(/kg_[A-Za-z0-9]{40,}/);
  expect(stack.stdout()).toMatch(/was printed on the first start/);

  expect((await call('GET', url('demo', 'whoami'), { 'x-api-key': demoKey })).status).toBe(200);
  expect((await call('GET', url('e2e-a', 'sdkusers/me'), { authorization: `Bearer ${authToken}` })).status).toBe(200);
  expect((await call('GET', url('e2e-a', 'whoami'), { 'x-api-key': appKey })).status).toBe(401);
  for (const check of restartChecks) await check(stack);

  const second = stack;
  expect(await stopStackProcess(second)).toBe(0);
  expect(isAlive(second.info.dynamodbPid)).toBe(false);
  stack = undefined;
});
