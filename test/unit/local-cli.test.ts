import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient, type InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { userInfo } from 'node:os';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { credentialFormat } from '../../functions/domain/credential-format';
import { run } from '../../lib/admin/cli';
import { freePort } from '../../lib/local/dynamodb-local';
import { createLocalLambdaApi } from '../../lib/local/lambda-api';

/**
 * The admin CLI. Local mode runs against the local Lambda Invoke API with small
 * fake admin functions (the e2e tests use the real bundles); deployed mode
 * against mocked AWS Lambda and CloudFormation, the only parts not runnable here.
 */
async function cli(argv: string[], env: Record<string, string | undefined>) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), env });
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
  const inputs: Record<string, unknown[]> = { 'create-key': [], 'list-keys': [], 'delete-key': [], 'roll-key': [], 'update-key': [], 'list-key-events': [] };
  const me = `local:${userInfo().username}`;

  beforeAll(async () => {
    home = mkdtempSync(path.join(tmpdir(), 'keygate-cli-'));
    server = createLocalLambdaApi({
      functions: {
        'create-key': async (input) => {
          inputs['create-key']!.push(input);
          if ((input as { name?: string }).name === '') throw functionError('ValidationError', 'name must be 1 to 100 characters');
          return CREATED;
        },
        'list-keys': async (input) => {
          inputs['list-keys']!.push(input);
          const { nextToken } = input as { nextToken?: string };
          if (!nextToken) return { keys: [{ keyId: 'key_1', name: 'one', displayPrefix: 'kg_11111111', createdAt: '2026-01-01T00:00:00.000Z' }], nextToken: 'page2' };
          return { keys: [{ keyId: 'key_2', name: 'two', displayPrefix: 'kg_22222222', createdAt: '2026-01-02T00:00:00.000Z', expiresAt: '2027-01-01T00:00:00.000Z' }] };
        },
        'delete-key': async (input) => {
          inputs['delete-key']!.push(input);
          const { appUid, keyId } = input as { appUid: string; keyId: string };
          if (keyId !== 'key_1') throw functionError('KeyNotFound', `key ${keyId} not found in app ${appUid}`);
          return { keyId, deleted: true };
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
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    writeFileSync(
      path.join(home, 'local.json'),
      JSON.stringify({
        lambdaEndpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        region: 'us-east-1',
        functions: { createKey: 'create-key', listKeys: 'list-keys', deleteKey: 'delete-key', rollKey: 'roll-key', updateKey: 'update-key', listKeyEvents: 'list-key-events' },
      }),
    );
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
    [['keys', 'create', '--app', 'app1', '--name', ''], 'keygate: name must be 1 to 100 characters\n'],
  ])('a function error is one line on stderr and exit 1: %j', async (argv, line) => {
    const result = await cli(argv, { KEYGATE_HOME: home });
    expect(result).toEqual({ code: 1, stdout: '', stderr: line });
  });

  test('a missing required option is one line and a non-zero exit, nothing invoked', async () => {
    const before = inputs['create-key']!.length;
    const result = await cli(['keys', 'create', '--app', 'app1'], { KEYGATE_HOME: home });
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/--name/);
    expect(inputs['create-key']!.length).toBe(before);
  });
});

describe('no local stack', () => {
  test('no local.json: says to run npm start', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'keygate-cli-'));
    try {
      const result = await cli(['keys', 'list', '--app', 'app1'], { KEYGATE_HOME: home });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^keygate: no local keygate stack is running: start one with `npm start`.*\n$/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test('a stale local.json (nothing listening): says to run npm start', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'keygate-cli-'));
    try {
      const port = await freePort();
      writeFileSync(
        path.join(home, 'local.json'),
        JSON.stringify({ lambdaEndpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', functions: { createKey: 'create-key', listKeys: 'list-keys', deleteKey: 'delete-key' } }),
      );
      const result = await cli(['keys', 'create', '--app', 'app1', '--name', 'n'], { KEYGATE_HOME: home });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^keygate: no local keygate stack is running: start one with `npm start`.*\n$/);
    } finally {
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
  const outputs = [
    { OutputKey: 'CreateKeyFunctionName', OutputValue: 'prod-CreateKey-abc' },
    { OutputKey: 'ListKeysFunctionName', OutputValue: 'prod-ListKeys-abc' },
    { OutputKey: 'DeleteKeyFunctionName', OutputValue: 'prod-DeleteKey-abc' },
  ];
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
    const result = await cli(['keys', 'create', '--app', 'app1', '--name', 'first', '--stack', 'prod', '--region', 'eu-west-1', '--json'], env);
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
    const result = await cli(['keys', 'roll', '--app', 'app1', '--key', 'key_1', '--stack', 'prod'], env);
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: 'keygate: stack prod has no output RollKeyFunctionName: it was deployed before this command existed; deploy the current keygate\n',
    });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  test('a stack without the outputs is a clear error, nothing invoked', async () => {
    cloudFormation.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'other', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [] }] });
    const result = await cli(['keys', 'list', '--app', 'app1', '--stack', 'other'], env);
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'keygate: stack other has no output CreateKeyFunctionName; is it a keygate stack?\n' });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  test('an unknown stack is a clear error', async () => {
    cloudFormation.on(DescribeStacksCommand).rejects(Object.assign(new Error('Stack with id nope does not exist'), { name: 'ValidationError' }));
    const result = await cli(['keys', 'list', '--app', 'app1', '--stack', 'nope'], env);
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'keygate: could not read the outputs of stack nope: Stack with id nope does not exist\n' });
  });
});
