import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../construct/function-bundles';
import type { AdminFunctionId } from '../shared/functions';

/**
 * The local stack's data folder (`.keygate/`, gitignored; `KEYGATE_HOME`
 * overrides it): DynamoDB Local's files, the pepper, and
 * `local.json`, through which the CLI finds a running stack.
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
});

/** What `npm start` writes to `local.json` while it runs. */
export interface LocalStackInfo {
  readonly apiUrl: string;
  readonly lambdaEndpoint: string;
  readonly dynamodbEndpoint: string;
  readonly region: string;
  /** Local Lambda function names of the admin functions (a stack started by an older keygate may lack some). */
  readonly functions: Readonly<Partial<Record<AdminFunctionId, string>>>;
  readonly tables: { readonly keys: string; readonly sessions: string; readonly users: string };
  /** Origins the session routes answer CORS for (`CORS_ALLOWED_ORIGINS`). */
  readonly corsAllowedOrigins: readonly string[];
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

export function writeJsonAtomically(file: string, value: unknown): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(temporary, file);
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
  mkdirSync(home, { recursive: true });
  try {
    writeFileSync(file, randomBytes(32).toString('base64url'), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  const pepper = readFileSync(file, 'utf8').trim();
  if (pepper.length < 32) throw new Error(`${file} holds no usable pepper (shorter than 32 characters); delete it and the keys made with it`);
  return pepper;
}
