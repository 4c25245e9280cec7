import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, existsSync, mkdirSync, chmodSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isAlive, keygateCli, runStackProcess, startStackProcess, stopStackProcess, type StackProcess } from './support/local-stack-process';
import { credentialFormat } from '../../functions/domain/credential-format';
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

async function call(method: string, target: string, headers: Record<string, string> = {}, body?: unknown) {
  const response = await fetch(target, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
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
  expect(stack!.info.functions).toEqual({ createKey: 'create-key', listKeys: 'list-keys', deleteKey: 'delete-key' });
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
  const created = await keygateCli(home, 'keys', 'create', '--app', 'e2e-a', '--name', 'e2e key', '--json');
  expect(created).toMatchObject({ code: 0, stderr: '' });
  const output = JSON.parse(created.stdout);
  expect(output).toMatchObject({ appUid: 'e2e-a', name: 'e2e key', keyId: expect.stringMatching(/^key_/), apiKey: expect.stringMatching(/^kg_/) });
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
  expect(cliWhileStopped.stderr).toMatch(/^keygate: no local keygate stack is running: start one with `npm start`/);

  const firstSecret = lambdaApiSecret;
  stack = await startStackProcess(home);
  javaPids.push(stack.info.dynamodbPid!);
  expect(readFileSync(path.join(home, 'lambda-api-secret'), 'utf8')).not.toBe(firstSecret);
  expect(stack.stdout()).not.toMatch(/kg_[A-Za-z0-9]{40,}/);
  expect(stack.stdout()).toMatch(/was printed on the first start/);

  expect((await call('GET', url('demo', 'whoami'), { 'x-api-key': demoKey })).status).toBe(200);
  expect((await call('GET', url('e2e-a', 'sdkusers/me'), { authorization: `Bearer ${authToken}` })).status).toBe(200);
  expect((await call('GET', url('e2e-a', 'whoami'), { 'x-api-key': appKey })).status).toBe(401);

  const second = stack;
  expect(await stopStackProcess(second)).toBe(0);
  expect(isAlive(second.info.dynamodbPid)).toBe(false);
  stack = undefined;
});
