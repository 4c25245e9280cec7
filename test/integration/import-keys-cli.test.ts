import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { handler as listKeys } from '../../functions/list-keys/index';
import { run } from '../../lib/admin/cli';
import type { LambdaHandler } from '../../lib/local/lambda-runtime';
import { DEFAULT_AUTH_SETTINGS, legacyKeysEnvironment } from '../../lib/shared/auth-settings';
import { createTestTables, scanAll, testDynamoDbClient } from '../support/dynamodb';
import { serveAdminFunctions } from '../support/local-admin';
import { loadWithEnv } from '../support/load-with-env';

/**
 * `keygate keys import --app A --file keys.jsonl` against the real import-keys
 * and list-keys code on DynamoDB Local, behind the local Lambda Invoke API the
 * CLI talks to: batches of 25, line numbers in errors, --skip-existing.
 */
const legacyEnv = legacyKeysEnvironment({ ...DEFAULT_AUTH_SETTINGS, legacyKeys: { pattern: '[A-Za-z0-9]{40}', minLength: 40, maxLength: 40 } });
const importKeys = loadWithEnv<{ handler: LambdaHandler }>(path.join(__dirname, '../../functions/import-keys/index.ts'), legacyEnv).handler;

const usagePlanKey = () => {
  let out = '';
  while (out.length < 40) out += randomBytes(40).toString('base64').replace(/[^A-Za-z0-9]/g, '');
  return out.slice(0, 40);
};
const sha256Hex = (key: string) => createHash('sha256').update(key).digest('hex');

const client = testDynamoDbClient();
let keysTable: string;
let home: string;
let server: Server;
let invocations = 0;

async function cli(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), env: { KEYGATE_HOME: home } });
  return { code, stdout, stderr };
}

function jsonl(file: string, lines: string[]): string {
  const target = path.join(home, file);
  writeFileSync(target, `${lines.join('\n')}\n`);
  return target;
}

beforeAll(async () => {
  keysTable = (await createTestTables(client)).Keys;
  home = mkdtempSync(path.join(tmpdir(), 'keygate-import-cli-'));
  const counted: LambdaHandler = (event, context) => {
    invocations++;
    return importKeys(event, context);
  };
  server = await serveAdminFunctions(home, { 'import-keys': counted, 'list-keys': listKeys as LambdaHandler });
});

afterAll(async () => {
  await new Promise((resolve) => {
    server.close(resolve);
    server.closeAllConnections();
  });
  rmSync(home, { recursive: true, force: true });
  client.destroy();
});

const keys = Array.from({ length: 30 }, usagePlanKey);
const lines = keys.map((key, i) => JSON.stringify(i % 2 === 0 ? { key, name: `customer ${i}` } : { keyHash: sha256Hex(key), name: `customer ${i}` }));

test('a file of 30 keys (plaintext and hashes, blank lines between) is imported in two calls; the output never holds a key', async () => {
  const file = jsonl('keys.jsonl', [...lines.slice(0, 10), '', ...lines.slice(10)]);
  invocations = 0;
  const result = await cli('keys', 'import', '--app', 'cli-app', '--file', file);
  expect(result).toMatchObject({ code: 0, stderr: '' });
  expect(invocations).toBe(2);
  expect(result.stdout.split('\n')[0]).toBe('Imported 30 keys into app cli-app.');
  expect(result.stdout).toMatch(/KEY ID\s+PREFIX\s+NAME\s+FROM\s+EXPIRES/);
  expect(result.stdout).toMatch(/key_\w{20}\s+\(sha256 import\)\s+customer 1\s+keyHash/);
  for (const key of keys) expect(result.stdout).not.toContain(key);

  const listed = await cli('keys', 'list', '--app', 'cli-app', '--json');
  expect(JSON.parse(listed.stdout).keys).toHaveLength(30);
});

test('running it again stops at the first key already stored, by line, and says how to go on; nothing more is written', async () => {
  const before = await scanAll(client, keysTable);
  const result = await cli('keys', 'import', '--app', 'cli-app', '--file', path.join(home, 'keys.jsonl'));
  expect(result).toEqual({
    code: 1,
    stdout: '',
    stderr: `keygate: ${path.join(home, 'keys.jsonl')} line 1 is already stored as a key (imported before?); nothing was written; --skip-existing skips keys already stored\n`,
  });
  expect(await scanAll(client, keysTable)).toEqual(before);
});

test('--skip-existing imports only the new keys and names the skipped lines', async () => {
  const fresh = [usagePlanKey(), usagePlanKey()];
  const file = jsonl('more.jsonl', [lines[0]!, JSON.stringify({ key: fresh[0], name: 'new 1' }), lines[1]!, JSON.stringify({ keyHash: sha256Hex(fresh[1]!), name: 'new 2' })]);
  const result = await cli('keys', 'import', '--app', 'cli-app', '--file', file, '--skip-existing', '--json');
  expect(result.code).toBe(0);
  const output = JSON.parse(result.stdout);
  expect(output).toEqual({ appUid: 'cli-app', keys: [expect.objectContaining({ name: 'new 1', importedFrom: 'key' }), expect.objectContaining({ name: 'new 2', importedFrom: 'keyHash' })], skippedLines: [1, 3] });
});

test('a bad line in the second batch: its line number, the first batch imported, the rest not; the key is never echoed', async () => {
  const bad = `${usagePlanKey().slice(0, 39)}!`;
  const batch = Array.from({ length: 27 }, (_, i) => JSON.stringify({ key: usagePlanKey(), name: `b${i}` }));
  batch.splice(26, 0, JSON.stringify({ key: bad, name: 'typo' }));
  const file = jsonl('bad.jsonl', batch);
  const result = await cli('keys', 'import', '--app', 'cli-bad', '--file', file);
  expect(result.code).toBe(1);
  expect(result.stderr).toBe(
    `keygate: ${file} line 27: key matches neither the keygate key format nor the legacy key pattern, so it could never be accepted; 25 keys before line 26 were imported\n`,
  );
  expect(result.stderr).not.toContain(bad);
  const items = (await scanAll(client, keysTable)).filter((item) => item.appUid === 'cli-bad');
  expect(items.filter((item) => item.pk !== 'apps')).toHaveLength(50);
  expect(items.find((item) => item.pk === 'apps')).toMatchObject({ keyCount: 25 });
});

test('a line that is not a JSON object: refused before anything is sent, without echoing it', async () => {
  const key = usagePlanKey();
  const file = jsonl('broken.jsonl', [JSON.stringify({ key: usagePlanKey(), name: 'fine' }), `{"key": "${key}", name: oops}`]);
  invocations = 0;
  const result = await cli('keys', 'import', '--app', 'cli-app', '--file', file);
  expect(result).toEqual({ code: 1, stdout: '', stderr: `keygate: ${file} line 2 is not a JSON object like {"key": "...", "name": "..."}\n` });
  expect(invocations).toBe(0);
});

test('an empty or missing file is one clear line', async () => {
  expect(await cli('keys', 'import', '--app', 'cli-app', '--file', jsonl('empty.jsonl', ['', '  ']))).toMatchObject({ code: 1, stderr: expect.stringMatching(/empty\.jsonl holds no keys\n$/) });
  expect(await cli('keys', 'import', '--app', 'cli-app', '--file', path.join(home, 'nope.jsonl'))).toMatchObject({ code: 1, stderr: expect.stringMatching(/cannot read .*nope\.jsonl: ENOENT\n$/) });
});
