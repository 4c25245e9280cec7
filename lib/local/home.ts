import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../construct/function-bundles';
import type { AdminFunctionId } from '../shared/functions';

/**
 * The local stack's data folder (`.keygate/`, gitignored; `KEYGATE_HOME`
 * overrides it): DynamoDB Local's files, the pepper, the Lambda API's
 * secret, and `local.json`, through which the CLI finds a running stack.
 * It is the owner's only (0700, files 0600): it holds users' emails and
 * names, and what mints and reads local keys.
 */
export const KEYGATE_HOME_ENV = 'KEYGATE_HOME';

export function keygateHome(env: Readonly<Record<string, string | undefined>> = process.env, packageRoot: string = PACKAGE_ROOT): string {
  return path.resolve(env[KEYGATE_HOME_ENV] || path.join(packageRoot, '.keygate'));
}

/**
 * Whether `packageRoot` is a keygate checkout (sources present), where
 * `npm start` can run, rather than an installed package (built files only).
 */
export function isCheckout(packageRoot: string = PACKAGE_ROOT): boolean {
  return existsSync(path.join(packageRoot, 'lib', 'local', 'stack.ts'));
}

export const homePaths = (home: string) => ({
  home,
  dynamodb: path.join(home, 'dynamodb'),
  pepper: path.join(home, 'pepper'),
  localJson: path.join(home, 'local.json'),
  demo: path.join(home, 'demo.json'),
  gatewayKeys: path.join(home, 'gateway-keys.json'),
  lambdaApiSecret: path.join(home, 'lambda-api-secret'),
  /** The compiled DynamoDB Local launcher (see dynamodb-local.ts). */
  java: path.join(home, 'java'),
});

/** Owner-only permissions for the data folder and what is in it. */
const PRIVATE_DIRECTORY_MODE = 0o700;
const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` owner-only (0700), or tightens an existing one and the files
 * directly in it (0600): an earlier version created them world-readable.
 */
export function ensurePrivateDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  tighten(dir, PRIVATE_DIRECTORY_MODE);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile()) tighten(path.join(dir, entry.name), PRIVATE_FILE_MODE);
  }
}

function tighten(file: string, mode: number): void {
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, mode);
}

/** What `npm start` writes to `local.json` while it runs. */
export interface LocalStackInfo {
  readonly apiUrl: string;
  readonly lambdaEndpoint: string;
  readonly dynamodbEndpoint: string;
  readonly region: string;
  /** Local Lambda function names of the admin functions (a stack started by an older keygate may lack some). */
  readonly functions: Readonly<Partial<Record<AdminFunctionId, string>>>;
  /** The local emulation of API Gateway's API-key calls, which the admin functions reach. */
  readonly apiGatewayEndpoint: string;
  /** Plan names the local gateway enforces (empty: plans off). */
  readonly plans: readonly string[];
  readonly tables: { readonly keys: string; readonly sessions: string; readonly users: string };
  /** The `npm start` process. */
  readonly pid: number;
  /** The DynamoDB Local (Java) process. */
  readonly dynamodbPid: number | undefined;
  readonly startedAt: string;
}

/** The running stack's info, or undefined when there is no local.json. */
export function readLocalStackInfo(home: string): LocalStackInfo | undefined {
  try {
    return JSON.parse(readFileSync(homePaths(home).localJson, 'utf8')) as LocalStackInfo;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Replaces `file` in one step with an owner-only (0600) file holding `text`. */
export function writeFileAtomically(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  rmSync(temporary, { force: true });
  writeFileSync(temporary, text, { flag: 'wx', mode: PRIVATE_FILE_MODE });
  renameSync(temporary, file);
}

export function writeJsonAtomically(file: string, value: unknown): void {
  writeFileAtomically(file, `${JSON.stringify(value, null, 2)}\n`);
}

export function removeFile(file: string): void {
  rmSync(file, { force: true });
}

export function processIsAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The local pepper: 32 random bytes, generated on first start and kept in
 * `<home>/pepper` readable by the owner only. Losing it invalidates every
 * local key, as losing the Secrets Manager secret would when deployed.
 */
export function localPepper(home: string): string {
  const file = homePaths(home).pepper;
  ensurePrivateDirectory(home);
  try {
    writeFileSync(file, randomBytes(32).toString('base64url'), { flag: 'wx', mode: PRIVATE_FILE_MODE });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  tighten(file, PRIVATE_FILE_MODE);
  const pepper = readFileSync(file, 'utf8').trim();
  if (pepper.length < 32) throw new Error(`${file} holds no usable pepper (shorter than 32 characters); delete it and the keys made with it`);
  return pepper;
}

/**
 * A new random secret for this start's Lambda Invoke API, kept owner-only in
 * `<home>/lambda-api-secret` for the CLI: a program that cannot read the
 * data folder cannot call the admin functions.
 */
export function newLambdaApiSecret(home: string): string {
  const secret = randomBytes(32).toString('hex');
  writeFileAtomically(homePaths(home).lambdaApiSecret, secret);
  return secret;
}

/** The running stack's Lambda API secret, or undefined when there is none. */
export function readLambdaApiSecret(home: string): string | undefined {
  try {
    return readFileSync(homePaths(home).lambdaApiSecret, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
