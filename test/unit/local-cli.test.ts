import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient, type InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { userInfo } from 'node:os';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { credentialFormat } from '../../functions/domain/credential-format';
import { run, type CliIo } from '../../lib/admin/cli';
import { ADMIN_FUNCTIONS, adminFunctionOutput, FUNCTIONS } from '../../lib/shared/functions';
import { freePort } from '../../lib/local/dynamodb-local';
import { newLambdaApiSecret } from '../../lib/local/home';
import { serveAdminFunctions } from '../support/local-admin';

const REPO_ROOT = path.resolve(__dirname, '../..');

/**
 * The admin CLI. Local mode runs against the local Lambda Invoke API with small
 * fake admin functions (the e2e tests use the real bundles); deployed mode
 * against mocked AWS Lambda and CloudFormation, the only parts not runnable here.
 */
async function cli(argv: string[], env: Record<string, string | undefined>, extra: Partial<CliIo> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), env, ...extra });
  return { code, stdout, stderr };
}

const CREATED = {
  keyId: 'key_AAAAAAAAAAAAAAAAAAAA',
  apiKey: 'kg_secretsecretsecretsecretsecretsecretsecret0000000',
  appUid: 'app1',
  name: 'first',
  displayPrefix: 'kg_secretse',
  createdAt: '2026-01-01T00:00:00.000Z',
};

const ROLLED = {
  ...CREATED,
  keyId: 'key_BBBBBBBBBBBBBBBBBBBB',
  apiKey: 'kg_rolledrolledrolledrolledrolledrolledroll0000000',
  rolledFromKeyId: 'key_1',
  previousKeyExpiresAt: '2026-01-02T00:00:00.000Z',
};

/** A Lambda response payload (the SDK types it as a blob adapter; the CLI reads it as bytes). */
const payload = (value: unknown) => Buffer.from(JSON.stringify(value)) as unknown as InvokeCommandOutput['Payload'];

function functionError(errorType: string, errorMessage: string) {
  const error = new Error(errorMessage);
  error.name = errorType;
  return error;
}

describe('local mode', () => {
  let home: string;
  let server: Server;
  const inputs: Record<string, unknown[]> = Object.fromEntries(ADMIN_FUNCTIONS.map((id) => [FUNCTIONS[id].name, []]));
  const me = `local:${userInfo().username}`;
  /** What the fake revoke-sessions and delete-user still have to end, call after call. */
  let pendingRounds = 0;
  const APP = { appUid: 'app1', createdAt: '2026-01-01T00:00:00.000Z', keyCount: 2, plan: 'free', gatewayKeyId: 'abcdefghij' };
  /** An app on no plan. */
  const APP2 = { appUid: 'app2', createdAt: '2026-02-01T00:00:00.000Z', keyCount: 0 };

  beforeAll(async () => {
    home = mkdtempSync(path.join(tmpdir(), 'keygate-cli-'));
    server = await serveAdminFunctions(home, {
      'create-key': async (input) => {
        inputs['create-key']!.push(input);
        if ((input as { name?: string }).name === '') throw functionError('ValidationError', 'name must be 1 to 100 characters');
        if ((input as { expiresAt?: string }).expiresAt === '2000-01-01T00:00:00.000Z') throw functionError('ValidationError', 'expiresAt must be in the future');
        return CREATED;
      },
      'get-app': async (input) => {
        inputs['get-app']!.push(input);
        const { appUid } = input as { appUid: string };
        if (appUid === 'app1') return APP;
        if (appUid === 'app2') return APP2;
        throw functionError('AppNotFound', `app ${appUid} not found: it has no keys and no plan`);
      },
      'list-apps': async (input) => {
        inputs['list-apps']!.push(input);
        const { nextToken } = input as { nextToken?: string };
        if (!nextToken) return { apps: [APP], nextToken: 'apps2' };
        return { apps: [APP2] };
      },
      'revoke-sessions': async (input) => {
        inputs['revoke-sessions']!.push(input);
        if (pendingRounds > 0) {
          pendingRounds -= 1;
          return { revoked: 100, incomplete: true };
        }
        return { revoked: 3 };
      },
      'delete-user': async (input) => {
        inputs['delete-user']!.push(input);
        if ((input as { userEmail?: string }).userEmail === 'bad') throw functionError('ValidationError', 'userEmail must be a valid email address');
        if (pendingRounds > 0) {
          pendingRounds -= 1;
          return { userId: 'usr_1', deleted: false, sessionsRevoked: 100, incomplete: true };
        }
        return { userId: 'usr_1', deleted: true, sessionsRevoked: 2 };
      },
      'list-keys': async (input) => {
        inputs['list-keys']!.push(input);
        const { appUid, nextToken } = input as { appUid: string; nextToken?: string };
        // An app from before the registry: get-app does not know it, but it has keys.
        if (appUid === 'old-app') return { keys: [{ keyId: 'key_9', name: 'old', displayPrefix: 'kg_99999999', createdAt: '2025-01-01T00:00:00.000Z' }] };
        if (appUid !== 'app1') return { keys: [] };
        if (!nextToken) return { keys: [{ keyId: 'key_1', name: 'one', displayPrefix: 'kg_11111111', createdAt: '2026-01-01T00:00:00.000Z' }], nextToken: 'page2' };
        return { keys: [{ keyId: 'key_2', name: 'two', displayPrefix: 'kg_22222222', createdAt: '2026-01-02T00:00:00.000Z', expiresAt: '2027-01-01T00:00:00.000Z' }] };
      },
      'delete-key': async (input) => {
        inputs['delete-key']!.push(input);
        const { appUid, keyId } = input as { appUid: string; keyId: string };
        if (keyId !== 'key_1') throw functionError('KeyNotFound', `key ${keyId} not found in app ${appUid}`);
        return { keyId, deleted: true };
      },
      'set-app-plan': async (input) => {
        inputs['set-app-plan']!.push(input);
        const { plan } = input as { plan: string | null };
        if (plan === 'gold') throw functionError('ValidationError', 'plan must be one of free, standard, premium, or null to take the app off its plan');
        if (plan === null) return { appUid: 'app1', createdAt: APP.createdAt, keyCount: 2 };
        return { ...APP, plan };
      },
      'roll-key': async (input) => {
        inputs['roll-key']!.push(input);
        if ((input as { gracePeriodSeconds?: number }).gracePeriodSeconds! > 604800) {
          throw functionError('ValidationError', 'gracePeriodSeconds must be between 0 and 604800 (7 days)');
        }
        return { ...ROLLED };
      },
      'update-key': async (input) => {
        inputs['update-key']!.push(input);
        return { keyId: 'key_1', name: 'renamed', displayPrefix: 'kg_11111111', createdAt: '2026-01-01T00:00:00.000Z', status: 'disabled', enabled: false, lastUsedAt: '2026-02-01T00:00:00.000Z' };
      },
      'list-key-events': async (input) => {
        inputs['list-key-events']!.push(input);
        const { nextToken } = input as { nextToken?: string };
        if (!nextToken) return { events: [{ eventId: 'evt_2', at: '2026-01-02T00:00:00.000Z', action: 'disabled', keyId: 'key_1', requestedBy: 'local:ada', details: { enabled: { from: true, to: false } } }], nextToken: 'more' };
        return { events: [{ eventId: 'evt_1', at: '2026-01-01T00:00:00.000Z', action: 'created', keyId: 'key_1' }] };
      },
    });
  });

  afterAll(async () => {
    await new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    });
    rmSync(home, { recursive: true, force: true });
  });

  test('create --json prints exactly the function output', async () => {
    const result = await cli(['keys', 'create', '--app', 'app1', '--name', 'first', '--expires-at', '2027-01-01T00:00:00Z', '--json'], { KEYGATE_HOME: home });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual(CREATED);
    expect(inputs['create-key']!.at(-1)).toEqual({ appUid: 'app1', name: 'first', expiresAt: '2027-01-01T00:00:00Z', requestedBy: me });
  });

  test('create prints the key once, with a warning that it will not be shown again', async () => {
    const result = await cli(['keys', 'create', '--app', 'app1', '--name', 'first'], { KEYGATE_HOME: home });
    expect(result.code).toBe(0);
    expect(result.stdout.split(CREATED.apiKey)).toHaveLength(2);
    expect(result.stdout).toContain(CREATED.keyId);
    expect(result.stdout).toMatch(/not be shown again/);
    expect(inputs['create-key']!.at(-1)).toEqual({ appUid: 'app1', name: 'first', requestedBy: me });
  });

  test('list shows every page as a table; --json is one call', async () => {
    const human = await cli(['keys', 'list', '--app', 'app1'], { KEYGATE_HOME: home });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/KEY ID\s+PREFIX\s+NAME\s+STATUS\s+CREATED\s+EXPIRES\s+LAST USED/);
    expect(human.stdout).toMatch(/key_1\s+kg_11111111\s+one/);
    expect(human.stdout).toMatch(/key_2\s+kg_22222222\s+two\s+active\s+\S+\s+2027-01-01/);
    const json = await cli(['keys', 'list', '--app', 'app1', '--json'], { KEYGATE_HOME: home });
    expect(JSON.parse(json.stdout)).toMatchObject({ nextToken: 'page2', keys: [{ keyId: 'key_1' }] });
  });

  test('list --limit shows one page and how to get the next; --next-token resumes there', async () => {
    const first = await cli(['keys', 'list', '--app', 'app1', '--limit', '1'], { KEYGATE_HOME: home });
    expect(first.stdout).toMatch(/key_1/);
    expect(first.stdout).not.toMatch(/key_2/);
    expect(first.stdout).toContain('More keys: add --next-token page2');
    expect(inputs['list-keys']!.at(-1)).toEqual({ appUid: 'app1', limit: 1 });
    const json = await cli(['keys', 'list', '--app', 'app1', '--next-token', 'page2', '--json'], { KEYGATE_HOME: home });
    expect(JSON.parse(json.stdout)).toMatchObject({ keys: [{ keyId: 'key_2' }] });
    expect(inputs['list-keys']!.at(-1)).toEqual({ appUid: 'app1', nextToken: 'page2' });
  });

  test('delete', async () => {
    const result = await cli(['keys', 'delete', '--app', 'app1', '--key', 'key_1'], { KEYGATE_HOME: home });
    expect(result).toEqual({ code: 0, stdout: 'Deleted key key_1 from app app1.\n', stderr: '' });
    expect(inputs['delete-key']!.at(-1)).toEqual({ appUid: 'app1', keyId: 'key_1', requestedBy: me });
    const json = await cli(['keys', 'delete', '--app', 'app1', '--key', 'key_1', '--json'], { KEYGATE_HOME: home });
    expect(JSON.parse(json.stdout)).toEqual({ keyId: 'key_1', deleted: true });
  });

  test.each([
    ['0', 0],
    ['90s', 90],
    ['15m', 900],
    ['24h', 86400],
    ['7d', 604800],
  ])('roll --grace %s sends gracePeriodSeconds %d and who asked', async (grace, seconds) => {
    const result = await cli(['keys', 'roll', '--app', 'app1', '--key', 'key_1', '--grace', grace, '--json'], { KEYGATE_HOME: home });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual(ROLLED);
    expect(inputs['roll-key']!.at(-1)).toEqual({ appUid: 'app1', keyId: 'key_1', gracePeriodSeconds: seconds, requestedBy: me });
  });

  test('roll prints the new key once and when the old one stops; name and expiry are passed on', async () => {
    const result = await cli(['keys', 'roll', '--app', 'app1', '--key', 'key_1', '--name', 'next', '--expires-at', '2028-01-01T00:00:00Z'], { KEYGATE_HOME: home });
    expect(result.code).toBe(0);
    expect(result.stdout.split(ROLLED.apiKey)).toHaveLength(2);
    expect(result.stdout).toContain(`The old key key_1 stops working at ${ROLLED.previousKeyExpiresAt}.`);
    expect(inputs['roll-key']!.at(-1)).toEqual({ appUid: 'app1', keyId: 'key_1', name: 'next', expiresAt: '2028-01-01T00:00:00Z', requestedBy: me });
  });

  test.each(['1w', '24', '-1h', '1.5h', 'h'])('roll --grace %s is refused before anything is invoked', async (grace) => {
    const before = inputs['roll-key']!.length;
    const result = await cli(['keys', 'roll', '--app', 'app1', '--key', 'key_1', '--grace', grace], { KEYGATE_HOME: home });
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'keygate: --grace must be 0 or a whole number followed by s, m, h or d, e.g. 90s, 15m, 24h, 7d\n' });
    expect(inputs['roll-key']!.length).toBe(before);
  });

  test('update: --expires-at never clears the expiry, --disable sends enabled false; the key is shown as list-keys shows it', async () => {
    const result = await cli(['keys', 'update', '--app', 'app1', '--key', 'key_1', '--name', 'renamed', '--expires-at', 'never', '--disable'], { KEYGATE_HOME: home });
    expect(result).toEqual({
      code: 0,
      stdout: "Key key_1 (kg_11111111) 'renamed': disabled, expires never, last used 2026-02-01T00:00:00.000Z.\n",
      stderr: '',
    });
    expect(inputs['update-key']!.at(-1)).toEqual({ appUid: 'app1', keyId: 'key_1', name: 'renamed', expiresAt: null, enabled: false, requestedBy: me });
    await cli(['keys', 'update', '--app', 'app1', '--key', 'key_1', '--enable', '--expires-at', '2030-01-01T00:00:00Z'], { KEYGATE_HOME: home });
    expect(inputs['update-key']!.at(-1)).toEqual({ appUid: 'app1', keyId: 'key_1', expiresAt: '2030-01-01T00:00:00Z', enabled: true, requestedBy: me });
  });

  test('update with both --disable and --enable is refused, nothing invoked', async () => {
    const before = inputs['update-key']!.length;
    const result = await cli(['keys', 'update', '--app', 'app1', '--key', 'key_1', '--disable', '--enable'], { KEYGATE_HOME: home });
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'keygate: --disable and --enable cannot be used together\n' });
    expect(inputs['update-key']!.length).toBe(before);
  });

  test('console --app with a key pasted as the app id is refused before anything starts: the key is never echoed in a link', async () => {
    const key = credentialFormat('kg').generate();
    const result = await cli(['console', '--port', '0', '--app', `x${key}`], { KEYGATE_HOME: home });
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'keygate: --app must not contain an API key or session token\n' });
  });

  test('events: every page as a table, --key filters, --json is one call', async () => {
    const human = await cli(['keys', 'events', '--app', 'app1', '--key', 'key_1'], { KEYGATE_HOME: home });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/AT\s+ACTION\s+KEY ID\s+REQUESTED BY\s+DETAILS/);
    expect(human.stdout).toMatch(/2026-01-02T00:00:00.000Z\s+disabled\s+key_1\s+local:ada\s+\{"enabled":\{"from":true,"to":false\}\}/);
    expect(human.stdout).toMatch(/2026-01-01T00:00:00.000Z\s+created\s+key_1\s+-\s+-/);
    expect(inputs['list-key-events']!.slice(-2)).toEqual([{ appUid: 'app1', keyId: 'key_1' }, { appUid: 'app1', keyId: 'key_1', nextToken: 'more' }]);
    const json = await cli(['keys', 'events', '--app', 'app1', '--json'], { KEYGATE_HOME: home });
    expect(JSON.parse(json.stdout)).toMatchObject({ nextToken: 'more', events: [{ eventId: 'evt_2' }] });
    expect(inputs['list-key-events']!.at(-1)).toEqual({ appUid: 'app1' });
  });

  test.each([
    [['keys', 'roll', '--app', 'app1', '--key', 'key_1', '--grace', '8d'], 'keygate: gracePeriodSeconds must be between 0 and 604800 (7 days)\n'],
    [['keys', 'delete', '--app', 'app1', '--key', 'key_9'], 'keygate: key key_9 not found in app app1\n'],
    // A ValidationError names the flag the user typed, not the payload field.
    [['keys', 'create', '--app', 'app1', '--name', ''], 'keygate: --name must be 1 to 100 characters\n'],
    [['keys', 'create', '--app', 'app1', '--name', 'n', '--expires-at', '2000-01-01'], 'keygate: --expires-at must be in the future\n'],
    [['users', 'delete', '--app', 'app1', '--email', 'bad'], 'keygate: --email must be a valid email address\n'],
  ])('a function error is one line on stderr and exit 1: %j', async (argv, line) => {
    const result = await cli(argv, { KEYGATE_HOME: home });
    expect(result).toEqual({ code: 1, stdout: '', stderr: line });
  });

  test('apps show: the plan, key count, creation time and gateway key id; --json is the function output', async () => {
    const human = await cli(['apps', 'show', '--app', 'app1'], { KEYGATE_HOME: home });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^app\s+app1$/m);
    expect(human.stdout).toMatch(/^plan\s+free$/m);
    expect(human.stdout).toMatch(/^keys\s+2$/m);
    expect(human.stdout).toMatch(/^created\s+2026-01-01T00:00:00.000Z$/m);
    expect(human.stdout).toMatch(/^gateway key\s+abcdefghij/m);
    const json = await cli(['apps', 'show', '--app', 'app1', '--json'], { KEYGATE_HOME: home });
    expect(JSON.parse(json.stdout)).toEqual(APP);
    expect(inputs['get-app']!.at(-1)).toEqual({ appUid: 'app1' });
    expect(await cli(['apps', 'show', '--app', 'nope'], { KEYGATE_HOME: home })).toEqual({ code: 1, stdout: '', stderr: 'keygate: app nope not found: it has no keys and no plan\n' });
  });

  test('apps set-plan: --plan names the plan, --no-plan sends null, neither is refused before any call', async () => {
    const on = await cli(['apps', 'set-plan', '--app', 'app1', '--plan', 'premium'], { KEYGATE_HOME: home });
    expect(on).toEqual({ code: 0, stdout: 'App app1 is on plan premium (gateway key abcdefghij).\n', stderr: '' });
    expect(inputs['set-app-plan']!.at(-1)).toEqual({ appUid: 'app1', plan: 'premium', requestedBy: me });
    const off = await cli(['apps', 'set-plan', '--app', 'app1', '--no-plan', '--json'], { KEYGATE_HOME: home });
    expect(JSON.parse(off.stdout)).toEqual({ appUid: 'app1', createdAt: APP.createdAt, keyCount: 2 });
    expect(inputs['set-app-plan']!.at(-1)).toEqual({ appUid: 'app1', plan: null, requestedBy: me });
    const before = inputs['set-app-plan']!.length;
    expect(await cli(['apps', 'set-plan', '--app', 'app1'], { KEYGATE_HOME: home })).toEqual({ code: 1, stdout: '', stderr: 'keygate: apps set-plan needs --plan <plan> or --no-plan\n' });
    expect(inputs['set-app-plan']!.length).toBe(before);
    expect(await cli(['apps', 'set-plan', '--app', 'app1', '--plan', 'gold'], { KEYGATE_HOME: home })).toMatchObject({ code: 1, stderr: expect.stringMatching(/^keygate: --plan must be one of free, standard, premium/) });
  });

  test('a missing required option is one line and a non-zero exit, nothing invoked', async () => {
    const before = inputs['create-key']!.length;
    const result = await cli(['keys', 'create', '--app', 'app1'], { KEYGATE_HOME: home });
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toBe("keygate: required option '--name <name>' not specified\n");
    expect(inputs['create-key']!.length).toBe(before);
  });

  test('every error has the one prefix: usage errors from the option parser too', async () => {
    for (const argv of [['keys', 'frobnicate'], ['keys', 'list', '--app', 'app1', '--colour'], ['apps', 'show']]) {
      const result = await cli(argv, { KEYGATE_HOME: home });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/^keygate: /);
      expect(result.stderr).not.toMatch(/^error:/m);
    }
  });

  test('--version prints the package version and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) expect(await cli([flag], { KEYGATE_HOME: home })).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  describe('--expires-at', () => {
    const now = () => new Date('2026-03-01T10:20:30.000Z');
    const sent = () => (inputs['create-key']!.at(-1) as { expiresAt?: string }).expiresAt;

    test.each([
      ['2030-01-01', '2030-01-01T00:00:00.000Z'],
      ['90d', '2026-05-30T10:20:30.000Z'],
      ['12h', '2026-03-01T22:20:30.000Z'],
      ['30m', '2026-03-01T10:50:30.000Z'],
      ['2030-01-01T12:00:00+02:00', '2030-01-01T12:00:00+02:00'],
    ])('%s is sent as %s', async (value, expected) => {
      const result = await cli(['keys', 'create', '--app', 'app1', '--name', 'n', '--expires-at', value], { KEYGATE_HOME: home }, { now });
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(sent()).toBe(expected);
    });

    test.each(['tomorrow', '2030-02-30', '90', '1y', '2030-1-1'])('%s: a clear error naming the flag, nothing invoked', async (value) => {
      const before = inputs['create-key']!.length;
      const result = await cli(['keys', 'create', '--app', 'app1', '--name', 'n', '--expires-at', value], { KEYGATE_HOME: home }, { now });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        'keygate: --expires-at must be a date (2030-01-01, meaning midnight UTC), a date-time with an offset (2030-01-01T12:00:00Z) or a duration from now (90d, 12h, 30m)\n',
      );
      expect(inputs['create-key']!.length).toBe(before);
    });
  });

  describe('keys create and new apps', () => {
    test('an app with no keys yet is refused without --new-app (a typo in --app must not start an app), nothing created', async () => {
      const before = inputs['create-key']!.length;
      const result = await cli(['keys', 'create', '--app', 'ap1', '--name', 'n'], { KEYGATE_HOME: home });
      expect(result).toEqual({ code: 1, stdout: '', stderr: 'keygate: app ap1 has no keys yet: check --app for a typo, or pass --new-app to create its first key\n' });
      expect(inputs['create-key']!.length).toBe(before);
    });

    test('--new-app creates its first key, without asking the registry', async () => {
      const asked = inputs['get-app']!.length;
      const result = await cli(['keys', 'create', '--app', 'brand-new', '--name', 'n', '--new-app', '--json'], { KEYGATE_HOME: home });
      expect(result.code).toBe(0);
      expect(inputs['create-key']!.at(-1)).toEqual({ appUid: 'brand-new', name: 'n', requestedBy: me });
      expect(inputs['get-app']!.length).toBe(asked);
    });

    test('an app from before the registry (unknown to get-app, but with keys) needs no --new-app', async () => {
      const result = await cli(['keys', 'create', '--app', 'old-app', '--name', 'n'], { KEYGATE_HOME: home });
      expect(result.code).toBe(0);
      expect(inputs['create-key']!.at(-1)).toEqual({ appUid: 'old-app', name: 'n', requestedBy: me });
    });
  });

  test('apps list shows every page as a table, with each app\'s plan; --json is one call', async () => {
    const human = await cli(['apps', 'list'], { KEYGATE_HOME: home });
    expect(human).toMatchObject({ code: 0, stderr: '' });
    expect(human.stdout).toMatch(/^APP\s+PLAN\s+KEYS\s+CREATED\napp1\s+free\s+2\s+2026-01-01T00:00:00.000Z\napp2\s+-\s+0\s+2026-02-01/);
    const json = await cli(['apps', 'list', '--limit', '1', '--json'], { KEYGATE_HOME: home });
    expect(JSON.parse(json.stdout)).toEqual({ apps: [APP], nextToken: 'apps2' });
    expect(inputs['list-apps']!.at(-1)).toEqual({ limit: 1 });
  });

  test('apps show: one app on no plan; an unknown one is the function\'s AppNotFound', async () => {
    const human = await cli(['apps', 'show', '--app', 'app2'], { KEYGATE_HOME: home });
    expect(human).toEqual({ code: 0, stdout: 'app      app2\nplan     (none)\nkeys     0\ncreated  2026-02-01T00:00:00.000Z\n', stderr: '' });
    const json = await cli(['apps', 'show', '--app', 'app2', '--json'], { KEYGATE_HOME: home });
    expect(JSON.parse(json.stdout)).toEqual(APP2);
    expect(await cli(['apps', 'show', '--app', 'nope'], { KEYGATE_HOME: home })).toEqual({ code: 1, stdout: '', stderr: 'keygate: app nope not found: it has no keys and no plan\n' });
  });

  describe('sessions revoke', () => {
    test.each([
      [['--user', 'usr_1'], { userId: 'usr_1' }, 'Revoked 3 sessions of user usr_1 in app app1.'],
      [['--external-id', 'ext-1'], { externalId: 'ext-1' }, 'Revoked 3 sessions of the user with externalId ext-1 in app app1.'],
      [['--created-by-key', 'key_1'], { createdByKeyId: 'key_1' }, 'Revoked 3 sessions opened with key key_1 in app app1.'],
      [['--session', 'ses_1'], { sessionId: 'ses_1' }, 'Revoked 3 sessions (session ses_1) in app app1.'],
    ])('%j sends %j', async (flags, selector, line) => {
      const result = await cli(['sessions', 'revoke', '--app', 'app1', ...flags], { KEYGATE_HOME: home });
      expect(result).toEqual({ code: 0, stdout: `${line}\n`, stderr: '' });
      expect(inputs['revoke-sessions']!.at(-1)).toEqual({ appUid: 'app1', ...selector, requestedBy: me });
    });

    test.each([[[]], [['--user', 'usr_1', '--session', 'ses_1']]])('%j: exactly one selector, nothing invoked', async (flags) => {
      const before = inputs['revoke-sessions']!.length;
      const result = await cli(['sessions', 'revoke', '--app', 'app1', ...flags], { KEYGATE_HOME: home });
      expect(result).toEqual({ code: 1, stdout: '', stderr: 'keygate: pass exactly one of --user, --external-id, --created-by-key or --session\n' });
      expect(inputs['revoke-sessions']!.length).toBe(before);
    });

    test('a batch that takes several calls: the CLI calls again until it is complete and reports the total; --json is one call', async () => {
      pendingRounds = 2;
      const before = inputs['revoke-sessions']!.length;
      const result = await cli(['sessions', 'revoke', '--app', 'app1', '--created-by-key', 'key_1'], { KEYGATE_HOME: home });
      expect(result.stdout).toBe('Revoked 203 sessions opened with key key_1 in app app1.\n');
      expect(inputs['revoke-sessions']!.length - before).toBe(3);
      pendingRounds = 1;
      const json = await cli(['sessions', 'revoke', '--app', 'app1', '--created-by-key', 'key_1', '--json'], { KEYGATE_HOME: home });
      expect(JSON.parse(json.stdout)).toEqual({ revoked: 100, incomplete: true });
      pendingRounds = 0;
    });
  });

  describe('users delete', () => {
    test.each([
      [['--user', 'usr_1'], { userId: 'usr_1' }],
      [['--external-id', 'ext-1'], { externalId: 'ext-1' }],
      [['--email', 'a@example.com'], { userEmail: 'a@example.com' }],
    ])('%j sends %j', async (flags, selector) => {
      const result = await cli(['users', 'delete', '--app', 'app1', ...flags], { KEYGATE_HOME: home });
      expect(result).toEqual({ code: 0, stdout: 'Deleted user usr_1 from app app1; 2 sessions revoked.\n', stderr: '' });
      expect(inputs['delete-user']!.at(-1)).toEqual({ appUid: 'app1', ...selector, requestedBy: me });
    });

    test('exactly one selector', async () => {
      const result = await cli(['users', 'delete', '--app', 'app1'], { KEYGATE_HOME: home });
      expect(result).toEqual({ code: 1, stdout: '', stderr: 'keygate: pass exactly one of --user, --external-id or --email\n' });
    });

    test('a deletion that takes several calls is finished by the CLI', async () => {
      pendingRounds = 1;
      const result = await cli(['users', 'delete', '--app', 'app1', '--user', 'usr_1'], { KEYGATE_HOME: home });
      expect(result.stdout).toBe('Deleted user usr_1 from app app1; 102 sessions revoked.\n');
      pendingRounds = 0;
    });
  });
});

describe('no local stack', () => {
  test('no local.json: says where it looked (KEYGATE_HOME) and how to point at a stack', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'keygate-cli-'));
    try {
      const result = await cli(['keys', 'list', '--app', 'app1'], { KEYGATE_HOME: home });
      expect(result).toEqual({
        code: 1,
        stdout: '',
        stderr: `keygate: no local keygate stack is running from ${home} (KEYGATE_HOME): start one with \`npm start\` in the keygate checkout, set KEYGATE_HOME to the data folder of a running one, or pass --stack <name> for a deployed stack\n`,
      });
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test('without KEYGATE_HOME it looks in the checkout\'s .keygate/ and says so', async () => {
    const checkout = mkdtempSync(path.join(tmpdir(), 'keygate-checkout-'));
    try {
      mkdirSync(path.join(checkout, 'lib', 'local'), { recursive: true });
      writeFileSync(path.join(checkout, 'lib', 'local', 'stack.ts'), '');
      writeFileSync(path.join(checkout, 'package.json'), JSON.stringify({ version: '9.9.9' }));
      const result = await cli(['apps', 'list'], {}, { packageRoot: checkout });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`no local keygate stack is running from ${path.join(checkout, '.keygate')} (KEYGATE_HOME)`);
    } finally {
      rmSync(checkout, { recursive: true, force: true });
    }
  });

  test('a stale local.json (nothing listening): says so, with where it looked', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'keygate-cli-'));
    try {
      newLambdaApiSecret(home);
      const port = await freePort();
      writeFileSync(
        path.join(home, 'local.json'),
        JSON.stringify({ lambdaEndpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', functions: { createKey: 'create-key', listKeys: 'list-keys', deleteKey: 'delete-key', getApp: 'get-app' } }),
      );
      const result = await cli(['keys', 'create', '--app', 'app1', '--name', 'n'], { KEYGATE_HOME: home });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `keygate: no local keygate stack answers at http://127.0.0.1:${port} (recorded in ${home}, KEYGATE_HOME); it was stopped or killed: start one with \`npm start\` in the keygate checkout, set KEYGATE_HOME to the data folder of a running one, or pass --stack <name> for a deployed stack\n`,
      );
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test('a local stack started by an older keygate, without a newer function: says to restart it', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'keygate-cli-'));
    try {
      writeFileSync(path.join(home, 'local.json'), JSON.stringify({ lambdaEndpoint: 'http://127.0.0.1:1', region: 'us-east-1', functions: { createKey: 'create-key' } }));
      newLambdaApiSecret(home);
      const result = await cli(['apps', 'list'], { KEYGATE_HOME: home });
      expect(result.stderr).toBe(`keygate: the local stack running from ${home} has no list-apps function: it was started by an older keygate; restart \`npm start\`\n`);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('outside a checkout', () => {
  let installed: string;
  beforeAll(() => {
    // An installed package: package.json and built files, no sources, so no `npm start`.
    installed = mkdtempSync(path.join(tmpdir(), 'keygate-installed-'));
    writeFileSync(path.join(installed, 'package.json'), JSON.stringify({ name: 'keygate', version: '1.2.3' }));
  });
  afterAll(() => rmSync(installed, { recursive: true, force: true }));

  test('local mode without KEYGATE_HOME: a clear error that says why and what to do', async () => {
    const result = await cli(['keys', 'list', '--app', 'app1'], {}, { packageRoot: installed });
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: `keygate: no local keygate stack: this keygate is an installed package (${installed}), not a checkout, and \`npm start\` runs only in a checkout; set KEYGATE_HOME to the data folder (.keygate) of a running one, or pass --stack <name> for a deployed stack\n`,
    });
  });

  test('--version reads the installed package', async () => {
    expect(await cli(['--version'], {}, { packageRoot: installed })).toEqual({ code: 0, stdout: '1.2.3\n', stderr: '' });
  });

  test('the real entry point, run from another folder: one line on stderr and exit 1, never nothing', () => {
    const elsewhere = mkdtempSync(path.join(tmpdir(), 'keygate-elsewhere-'));
    try {
      const result = spawnSync(path.join(REPO_ROOT, 'node_modules/.bin/tsx'), [path.join(REPO_ROOT, 'bin/keygate.ts'), 'keys', 'list', '--app', 'app1'], {
        cwd: elsewhere,
        env: { ...process.env, KEYGATE_HOME: path.join(elsewhere, 'no-stack-here'), KEYGATE_STACK: '' },
        encoding: 'utf8',
      });
      expect(result.status).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(
        `keygate: no local keygate stack is running from ${path.join(elsewhere, 'no-stack-here')} (KEYGATE_HOME): start one with \`npm start\` in the keygate checkout, set KEYGATE_HOME to the data folder of a running one, or pass --stack <name> for a deployed stack\n`,
      );
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});

describe('the local Lambda API secret', () => {
  test("a stack started with another secret refuses every keys command, nothing invoked; without the secret file the CLI says to restart", async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'keygate-cli-'));
    let invoked = 0;
    const functions = Object.fromEntries(ADMIN_FUNCTIONS.map((id) => [FUNCTIONS[id].name, async () => ({ invoked: ++invoked })]));
    const server = await serveAdminFunctions(home, functions, 'a'.repeat(64));
    try {
      const missing = await cli(['keys', 'list', '--app', 'app1'], { KEYGATE_HOME: home });
      expect(missing).toMatchObject({ code: 1, stdout: '' });
      expect(missing.stderr).toMatch(/^keygate: the local stack has no Lambda API secret \(.*lambda-api-secret\); restart it with `npm start`\n$/);

      newLambdaApiSecret(home);
      for (const argv of [
        ['keys', 'create', '--app', 'app1', '--name', 'n'],
        ['keys', 'list', '--app', 'app1'],
        ['keys', 'delete', '--app', 'app1', '--key', 'key_1'],
        ['keys', 'roll', '--app', 'app1', '--key', 'key_1'],
        ['keys', 'update', '--app', 'app1', '--key', 'key_1', '--disable'],
        ['keys', 'events', '--app', 'app1'],
      ]) {
        const wrong = await cli(argv, { KEYGATE_HOME: home });
        expect([argv.slice(0, 2), wrong]).toEqual([argv.slice(0, 2), expect.objectContaining({ code: 1, stdout: '' })]);
        expect(wrong.stderr).toMatch(/^keygate: The security token included in the request is invalid/);
      }
      expect(invoked).toBe(0);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('deployed mode (--stack)', () => {
  // Mocked only inside this block: the local-mode tests above use the real client.
  let lambda: AwsClientStub<LambdaClient>;
  let cloudFormation: AwsClientStub<CloudFormationClient>;
  let sts: AwsClientStub<STSClient>;
  const callerArn = 'arn:aws:sts::123456789012:assumed-role/KeyAdmin/ada';
  // As the stack names them: CreateKeyFunctionName → prod-CreateKey-abc, ...
  const outputs = ADMIN_FUNCTIONS.map((id) => ({ OutputKey: adminFunctionOutput(id), OutputValue: `prod-${adminFunctionOutput(id).replace(/FunctionName$/, '')}-abc` }));
  const env = { KEYGATE_HOME: '/nonexistent/keygate-home' };

  beforeAll(() => {
    lambda = mockClient(LambdaClient);
    cloudFormation = mockClient(CloudFormationClient);
    sts = mockClient(STSClient);
  });

  beforeEach(() => {
    lambda.reset();
    cloudFormation.reset();
    sts.reset();
    sts.on(GetCallerIdentityCommand).resolves({ Arn: callerArn, Account: '123456789012', UserId: 'AROAEXAMPLE:ada' });
    cloudFormation.on(DescribeStacksCommand, { StackName: 'prod' }).resolves({ Stacks: [{ StackName: 'prod', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: outputs }] });
  });

  afterAll(() => {
    lambda.restore();
    cloudFormation.restore();
    sts.restore();
  });

  test('invokes the function named by the stack output with the admin payload', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: payload(CREATED) });
    const result = await cli(['keys', 'create', '--app', 'app1', '--name', 'first', '--new-app', '--stack', 'prod', '--region', 'eu-west-1', '--json'], env);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual(CREATED);
    const calls = lambda.commandCalls(InvokeCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input.FunctionName).toBe('prod-CreateKey-abc');
    expect(JSON.parse(Buffer.from(calls[0]!.args[0].input.Payload as Uint8Array).toString())).toEqual({ appUid: 'app1', name: 'first', requestedBy: callerArn });
    expect(await lambda.call(0).thisValue.config.region()).toBe('eu-west-1');
    expect(await sts.call(0).thisValue.config.region()).toBe('eu-west-1');
    expect(cloudFormation.commandCalls(DescribeStacksCommand)[0]!.args[0].input).toEqual({ StackName: 'prod' });
  });

  test('KEYGATE_STACK selects the stack too', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: payload({ keyId: 'key_1', deleted: true }) });
    const result = await cli(['keys', 'delete', '--app', 'app1', '--key', 'key_1'], { ...env, KEYGATE_STACK: 'prod' });
    expect(result).toMatchObject({ code: 0, stdout: 'Deleted key key_1 from app app1.\n' });
    expect(lambda.commandCalls(InvokeCommand)[0]!.args[0].input.FunctionName).toBe('prod-DeleteKey-abc');
  });

  test('a function error is reported with its message', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: payload({ errorType: 'KeyNotFound', errorMessage: 'key key_9 not found in app app1', trace: [] }),
    });
    const result = await cli(['keys', 'delete', '--app', 'app1', '--key', 'key_9', '--stack', 'prod'], env);
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'keygate: key key_9 not found in app app1\n' });
  });

  test('read-only commands do not ask STS who is calling', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: payload({ keys: [] }) });
    const result = await cli(['keys', 'list', '--app', 'app1', '--stack', 'prod'], env);
    expect(result).toMatchObject({ code: 0, stdout: 'No keys for app app1.\n' });
    expect(sts.commandCalls(GetCallerIdentityCommand)).toHaveLength(0);
  });

  test('when STS cannot say who is calling, nothing is invoked', async () => {
    sts.on(GetCallerIdentityCommand).rejects(Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredToken' }));
    const result = await cli(['keys', 'delete', '--app', 'app1', '--key', 'key_1', '--stack', 'prod'], env);
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'keygate: could not tell who is calling (STS GetCallerIdentity): The security token included in the request is expired\n' });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  test('a stack deployed before roll-key existed: roll says to deploy it, nothing invoked (list works there, above)', async () => {
    const olderOutputs = outputs.filter((output) => output.OutputKey !== 'RollKeyFunctionName');
    cloudFormation.on(DescribeStacksCommand, { StackName: 'prod' }).resolves({ Stacks: [{ StackName: 'prod', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: olderOutputs }] });
    const result = await cli(['keys', 'roll', '--app', 'app1', '--key', 'key_1', '--stack', 'prod'], env);
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: 'keygate: stack prod has no output RollKeyFunctionName; is it a keygate stack, updated to this version?\n',
    });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  test('a stack without the outputs is a clear error, nothing invoked', async () => {
    cloudFormation.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'other', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [] }] });
    const result = await cli(['keys', 'list', '--app', 'app1', '--stack', 'other'], env);
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'keygate: stack other has no output ListKeysFunctionName; is it a keygate stack, updated to this version?\n' });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  test('a stack with sessions off has no revoke-sessions: the error says so', async () => {
    const keysOnly = outputs.filter((output) => !['RevokeSessionsFunctionName', 'DeleteUserFunctionName'].includes(output.OutputKey));
    cloudFormation.on(DescribeStacksCommand, { StackName: 'keys-only' }).resolves({ Stacks: [{ StackName: 'keys-only', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: keysOnly }] });
    const result = await cli(['sessions', 'revoke', '--app', 'app1', '--user', 'usr_1', '--stack', 'keys-only'], env);
    expect(result.stderr).toBe('keygate: stack keys-only has no output RevokeSessionsFunctionName; is it a keygate stack with sessions on, updated to this version?\n');
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  test('a stack deployed before plans still manages keys and apps; apps set-plan names the missing output', async () => {
    const olderOutputs = outputs.filter((output) => output.OutputKey !== 'SetAppPlanFunctionName');
    cloudFormation.on(DescribeStacksCommand, { StackName: 'prod' }).resolves({ Stacks: [{ StackName: 'prod', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: olderOutputs }] });
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: payload({ appUid: 'app1', createdAt: '2026-01-01T00:00:00.000Z', keyCount: 1 }) });
    expect(await cli(['apps', 'show', '--app', 'app1', '--stack', 'prod'], env)).toMatchObject({ code: 0 });
    const result = await cli(['apps', 'set-plan', '--app', 'app1', '--plan', 'free', '--stack', 'prod'], env);
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'keygate: stack prod has no output SetAppPlanFunctionName; is it a keygate stack, updated to this version?\n' });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(1);
  });

  test('an unknown stack is a clear error', async () => {
    cloudFormation.on(DescribeStacksCommand).rejects(Object.assign(new Error('Stack with id nope does not exist'), { name: 'ValidationError' }));
    const result = await cli(['keys', 'list', '--app', 'app1', '--stack', 'nope'], env);
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'keygate: could not read the outputs of stack nope: Stack with id nope does not exist\n' });
  });
});
