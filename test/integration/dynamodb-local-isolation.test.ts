import { readFileSync, readdirSync, statSync, mkdtempSync, rmSync, mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../lib/local/dynamodb-local';
import { ensureTables, tableNames } from '../../lib/local/tables';
import { ENV } from '../../lib/shared/environment';
import { answersDynamoDb, expectLoopbackOnly } from '../support/network';

/**
 * DynamoDB Local accepts any signature: whoever reaches its port reads and
 * changes every table. It must be reachable from this machine only. Checked
 * from outside, as a neighbour on the network would try: a TCP connection to
 * each of this machine's other addresses is refused, and the kernel lists
 * only a loopback address as listening on the port (which fails on a
 * wildcard bind even on a machine with no other address).
 */
jest.setTimeout(120_000);

test('the test run’s DynamoDB Local (jest global setup) is reachable on 127.0.0.1 only', async () => {
  await expectLoopbackOnly(process.env.KEYGATE_TEST_DYNAMODB_ENDPOINT!, answersDynamoDb);
});

describe('a DynamoDB Local on disk, started as npm start starts it', () => {
  let sandbox: string;
  let dataDir: string;
  let dynamodb: DynamoDbLocal | undefined;

  beforeAll(async () => {
    sandbox = mkdtempSync(path.join(tmpdir(), 'keygate-ddb-'));
    // A data folder left world-readable by an earlier version, with a world-readable file in it.
    dataDir = path.join(sandbox, 'dynamodb');
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    writeFileSync(path.join(dataDir, 'old.db'), 'x', { mode: 0o644 });
    chmodSync(path.join(dataDir, 'old.db'), 0o644);
    // npm start keeps the pepper in its own environment: the Java process must not inherit it.
    expect(process.env[ENV.localPepper]).toBeTruthy();
    dynamodb = await startDynamoDbLocal({ dataDir });
    const client = new DynamoDBClient({ endpoint: dynamodb.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    await ensureTables(client, tableNames('iso'));
    client.destroy();
  });

  afterAll(async () => {
    await dynamodb?.stop();
    rmSync(sandbox, { recursive: true, force: true });
  });

  test('listens on 127.0.0.1 only', async () => {
    await expectLoopbackOnly(dynamodb!.endpoint, answersDynamoDb);
  });

  test('runs with -disableTelemetry, never -cors, and without the pepper in its environment', () => {
    const commandLine = readFileSync(`/proc/${dynamodb!.pid}/cmdline`, 'utf8').split('\0');
    expect(commandLine).toContain('-disableTelemetry');
    expect(commandLine.some((arg) => /cors/i.test(arg))).toBe(false);
    const environment = readFileSync(`/proc/${dynamodb!.pid}/environ`, 'utf8');
    expect(environment).not.toContain(ENV.localPepper);
    expect(environment).not.toContain(process.env[ENV.localPepper]!);
  });

  test('its folder and files are the owner’s only: an existing folder is tightened, the database file is created 0600', () => {
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const files = readdirSync(dataDir);
    expect(files).toEqual(expect.arrayContaining(['old.db', expect.stringMatching(/\.db$/)]));
    expect(files.length).toBeGreaterThan(1);
    for (const file of files) expect([file, statSync(path.join(dataDir, file)).mode & 0o077]).toEqual([file, 0]);
  });
});
