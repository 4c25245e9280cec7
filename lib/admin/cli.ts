import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { PACKAGE_ROOT } from '../construct/function-bundles';
import { isCheckout, keygateHome, KEYGATE_HOME_ENV, readLocalStackInfo } from '../local/home';
import { adminFunctionOutput, FUNCTIONS, isSessionFunction, type AdminFunctionId } from '../shared/functions';
import { EXPIRES_AT_FORMATS, parseExpiresAt } from './durations';
import { reportableCredentials, reportKeys, revokeUrl, scanPaths, scanPrefixes, ScanUsageError, ReportError } from './scan';

/**
 * The admin CLI. Both modes invoke the admin Lambda functions through the
 * Lambda Invoke API: the local stack's emulation of it (found through
 * `<KEYGATE_HOME>/local.json`), or the deployed functions named by the
 * stack's outputs (`--stack`).
 */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Standard input, for `keygate scan` (default: the process's). */
  readonly stdin?: { readonly isTTY: boolean; read(): Promise<string> };
  /** The HTTP client of `keygate scan --report` (default: global fetch). */
  readonly fetch?: typeof fetch;
  /** The keygate package the CLI runs from. @default the package holding this file */
  readonly packageRoot?: string;
  /** The clock `--expires-at 90d` counts from. @default the system clock */
  readonly now?: () => Date;
}

const processStdin = {
  get isTTY() {
    return process.stdin.isTTY === true;
  },
  async read() {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

interface Target {
  readonly client: LambdaClient;
  /** The function to invoke for an admin operation, or a CliError saying why there is none. */
  functionName(fn: AdminFunctionId): string;
  /** Said when the target cannot be reached. */
  readonly unreachable: string;
  readonly local: boolean;
  /** Who the caller is, for `requestedBy`: self-declared, the admin functions cannot check it. */
  readonly requester: () => Promise<string>;
}

interface TargetOptions {
  readonly stack?: string;
  readonly region?: string;
  readonly profile?: string;
  readonly json?: boolean;
}

/** A failure to report as one line on stderr, exit code 1. */
export class CliError extends Error {}

/** Exit codes of `keygate scan`, as grep has them: 1 means found and nothing else. */
export const SCAN_EXIT = { none: 0, found: 1, error: 2 } as const;

/** The admin function failed (`X-Amz-Function-Error`); `errorType` is e.g. ValidationError or KeyNotFound. */
export class AdminFunctionError extends CliError {
  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The flag that carries each admin payload field. A ValidationError's
 * message starts with the field it is about; the CLI user typed the flag.
 */
const FLAG_OF_FIELD: Readonly<Record<string, string>> = {
  appUid: '--app',
  name: '--name',
  expiresAt: '--expires-at',
  keyId: '--key',
  limit: '--limit',
  nextToken: '--next-token',
  userId: '--user',
  externalId: '--external-id',
  userEmail: '--email',
  createdByKeyId: '--created-by-key',
  sessionId: '--session',
};

function inFlagTerms(message: string): string {
  return message.replace(/^[A-Za-z]+\b/, (field) => FLAG_OF_FIELD[field] ?? field);
}

const POINT_AT_A_STACK = `start one with \`npm start\` in the keygate checkout, set ${KEYGATE_HOME_ENV} to the data folder of a running one, or pass --stack <name> for a deployed stack`;

async function resolveTarget(options: TargetOptions, io: CliIo): Promise<Target> {
  if (options.stack) return deployedTarget(options.stack, options);

  const packageRoot = io.packageRoot ?? PACKAGE_ROOT;
  if (!io.env[KEYGATE_HOME_ENV] && !isCheckout(packageRoot)) {
    throw new CliError(
      `no local keygate stack: this keygate is an installed package (${packageRoot}), not a checkout, and \`npm start\` runs only in a checkout; set ${KEYGATE_HOME_ENV} to the data folder (.keygate) of a running one, or pass --stack <name> for a deployed stack`,
    );
  }
  const home = keygateHome(io.env, packageRoot);
  const info = readLocalStackInfo(home);
  if (!info) throw new CliError(`no local keygate stack is running from ${home} (${KEYGATE_HOME_ENV}): ${POINT_AT_A_STACK}`);
  return {
    client: new LambdaClient({
      endpoint: info.lambdaEndpoint,
      region: info.region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    }),
    functionName(fn) {
      const name = info.functions[fn];
      if (!name) throw new CliError(`the local stack running from ${home} has no ${FUNCTIONS[fn].name} function: it was started by an older keygate; restart \`npm start\``);
      return name;
    },
    unreachable: `no local keygate stack answers at ${info.lambdaEndpoint} (recorded in ${home}, ${KEYGATE_HOME_ENV}); it was stopped or killed: ${POINT_AT_A_STACK}`,
    local: true,
    requester: async () => `local:${userInfo().username}`,
  };
}

async function deployedTarget(stack: string, options: TargetOptions): Promise<Target> {
  const config = { ...(options.region ? { region: options.region } : {}), ...(options.profile ? { profile: options.profile } : {}) };
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const cloudFormation = new CloudFormationClient(config);
  let outputs: Record<string, string>;
  try {
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stack }));
    outputs = Object.fromEntries((Stacks?.[0]?.Outputs ?? []).map((output) => [output.OutputKey ?? '', output.OutputValue ?? '']));
  } catch (error) {
    throw new CliError(`could not read the outputs of stack ${stack}: ${firstLine(error)}`);
  } finally {
    cloudFormation.destroy();
  }
  return {
    // One attempt: a retried create-key after a timeout would make a second live key whose plaintext nobody sees.
    client: new LambdaClient({ ...config, maxAttempts: 1 }),
    functionName(fn) {
      const output = adminFunctionOutput(fn);
      const name = outputs[output];
      if (!name) throw new CliError(`stack ${stack} has no output ${output}; is it a keygate stack${isSessionFunction(fn) ? ' with sessions on' : ''}, updated to this version?`);
      return name;
    },
    unreachable: `could not reach AWS Lambda for stack ${stack}`,
    local: false,
    requester: () => callerArn(config),
  };
}

/** The ARN of the AWS principal whose credentials the CLI uses (STS GetCallerIdentity). */
async function callerArn(config: { region?: string; profile?: string }): Promise<string> {
  const { STSClient, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
  const sts = new STSClient(config);
  try {
    const { Arn } = await sts.send(new GetCallerIdentityCommand({}));
    if (!Arn) throw new Error('GetCallerIdentity returned no ARN');
    return Arn;
  } catch (error) {
    throw new CliError(`could not tell who is calling (STS GetCallerIdentity): ${firstLine(error)}`);
  } finally {
    sts.destroy();
  }
}

async function invoke(target: Target, fn: AdminFunctionId, input: unknown): Promise<unknown> {
  const functionName = target.functionName(fn);
  let response;
  try {
    response = await target.client.send(new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(input)) }));
  } catch (error) {
    const code = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
    if (target.local && (code === 'ECONNREFUSED' || code === 'ECONNRESET' || /ECONNREFUSED/.test(String(error)))) throw new CliError(target.unreachable);
    if ((error as Error).name === 'ResourceNotFoundException') throw new CliError(`function ${functionName} not found: ${firstLine(error)}`);
    if (!target.local && /ENOTFOUND|ECONNREFUSED|ETIMEDOUT/.test(String(code ?? error))) throw new CliError(`${target.unreachable}: ${firstLine(error)}`);
    throw new CliError(firstLine(error));
  }
  const text = response.Payload ? Buffer.from(response.Payload).toString('utf8') : 'null';
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    throw new CliError(`${functionName} returned a payload that is not JSON`);
  }
  if (response.FunctionError) {
    const { errorType, errorMessage } = (payload ?? {}) as { errorType?: string; errorMessage?: string };
    const message = errorMessage ?? `${functionName} failed (${response.FunctionError})`;
    throw new AdminFunctionError(errorType ?? response.FunctionError, errorType === 'ValidationError' ? inFlagTerms(message) : message);
  }
  return payload;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message || error.name : String(error);
  return message.split('\n')[0]!;
}

function packageVersion(packageRoot: string): string {
  return (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

interface CreatedKey {
  keyId: string;
  apiKey: string;
  appUid: string;
  name: string;
  displayPrefix: string;
  createdAt: string;
  expiresAt?: string;
}

interface RolledKey extends CreatedKey {
  rolledFromKeyId: string;
  previousKeyExpiresAt: string;
}

interface ListedKey {
  keyId: string;
  name: string;
  displayPrefix: string;
  createdAt: string;
  expiresAt?: string;
  status?: string;
  lastUsedAt?: string;
  rolledFromKeyId?: string;
}

interface KeyEvent {
  eventId: string;
  at: string;
  action: string;
  keyId?: string;
  requestedBy?: string;
  details?: Record<string, unknown>;
}

interface App {
  appUid: string;
  createdAt: string;
  keyCount: number;
}

interface Page {
  nextToken?: string;
}

interface SealCounts {
  sealed: number;
  alreadySealed: number;
  wrongSeal: number;
  skipped: number;
}

interface SealedRecords extends Page {
  keys: SealCounts;
  sessions: SealCounts;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `0`, `90s`, `15m`, `24h`, `7d` → seconds. The admin function checks the range. */
export function parseGrace(text: string): number {
  if (text === '0') return 0;
  const match = /^(\d{1,7})([smhd])$/.exec(text);
  if (!match) throw new CliError('--grace must be 0 or a whole number followed by s, m, h or d, e.g. 90s, 15m, 24h, 7d');
  return Number(match[1]) * DURATION_UNITS[match[2]!]!;
}

const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;

/** A flag that selects what an operation acts on: the commander option name, the flag, the payload field. */
type Selector = readonly [option: string, flag: string, field: string];

/** The one selector given, with its value, or a CliError naming them all. */
function exactlyOneSelector(options: object, selectors: readonly Selector[]): { option: string; field: string; value: string } {
  const values = options as Readonly<Record<string, unknown>>;
  const given = selectors.filter(([option]) => values[option] !== undefined);
  if (given.length !== 1) {
    const flags = selectors.map(([, flag]) => flag);
    throw new CliError(`pass exactly one of ${flags.slice(0, -1).join(', ')} or ${flags.at(-1)}`);
  }
  const [option, , field] = given[0]!;
  return { option, field, value: String(values[option]) };
}

export async function run(argv: readonly string[], io: CliIo = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), env: process.env }): Promise<number> {
  const out = (line = '') => io.stdout(`${line}\n`);
  const now = io.now ?? (() => new Date());
  const targetOptions = (command: Command) =>
    command
      .option('--stack <name>', 'a deployed keygate stack (CloudFormation stack name) instead of the local one; default: $KEYGATE_STACK')
      .option('--region <region>', 'AWS region of the deployed stack (default: from the AWS config)')
      .option('--profile <profile>', 'AWS profile for the deployed stack')
      .option('--json', "print exactly the admin function's JSON output");

  let target: Target | undefined;
  let exitCode = 0;
  const connect = async (options: TargetOptions) => {
    if (options.stack === '') throw new CliError('--stack needs a stack name');
    target ??= await resolveTarget({ ...options, stack: options.stack ?? (io.env.KEYGATE_STACK || undefined) }, io);
    return target;
  };
  /** One admin call: `--json` prints its output as is, otherwise `human` does. */
  const withTarget = async <T>(options: TargetOptions, fn: AdminFunctionId, input: unknown, human: (output: T) => Promise<void> | void) => {
    const output = (await invoke(await connect(options), fn, input)) as T;
    if (options.json) out(JSON.stringify(output, null, 2));
    else await human(output);
  };
  /** Every page after `first` unless `--limit` asked for one page; `--json` is always one call's output. */
  const remainingPages = async <T extends Page>(fn: AdminFunctionId, input: Record<string, unknown>, first: T, onePage: boolean): Promise<T[]> => {
    const pages = [first];
    for (let page = first; page.nextToken && !onePage; ) {
      page = (await invoke(target!, fn, { ...input, nextToken: page.nextToken })) as T;
      pages.push(page);
    }
    return pages;
  };
  const paging = (options: { limit?: string; nextToken?: string }) => ({
    // The admin function validates both: a bad --limit gets its ValidationError, in terms of the flag.
    ...(options.limit !== undefined ? { limit: Number(options.limit) } : {}),
    ...(options.nextToken !== undefined ? { nextToken: options.nextToken } : {}),
  });

  const packageRoot = io.packageRoot ?? PACKAGE_ROOT;
  const program = new Command('keygate')
    .description('keygate admin CLI: manage API keys, apps, sessions and users on the local stack (`npm start`) or a deployed stack (--stack), and find leaked keys (scan)')
    .version(packageVersion(packageRoot), '-V, --version', 'print the keygate version')
    .exitOverride()
    // One error prefix for everything the CLI reports, commander's usage errors included.
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: (text, write) => write(`keygate: ${text.replace(/^error: /, '')}`) })
    .showHelpAfterError(false);

  const keys = program.command('keys').description('create, list and delete API keys');

  /** Inputs of the commands that change keys carry who asked (`requestedBy`), for the activity log. */
  const requested = async (options: TargetOptions) => ({ requestedBy: await (await connect(options)).requester() });
  const newKeyLines = (key: CreatedKey, what: string) => {
    out(`${what} ${key.keyId} (${key.displayPrefix}) '${key.name}' for app ${key.appUid}${key.expiresAt ? `, expires ${key.expiresAt}` : ''}:`);
    out();
    out(`  ${key.apiKey}`);
    out();
    out('Copy it now: it will not be shown again (only its hash is stored).');
  };
  /** An --expires-at value as the admin functions take it (ISO 8601), or a CliError naming the flag. */
  const expiryFlag = (text: string): string => {
    const expiresAt = parseExpiresAt(text, now());
    if (expiresAt === undefined) throw new CliError(`--expires-at must be ${EXPIRES_AT_FORMATS}`);
    return expiresAt;
  };
  const keyLine = (key: ListedKey) =>
    `Key ${key.keyId} (${key.displayPrefix}) '${key.name}': ${key.status ?? 'active'}, expires ${key.expiresAt ?? 'never'}, last used ${key.lastUsedAt ?? 'never'}.`;

  targetOptions(
    keys
      .command('create')
      .description('create an API key; the key is printed once and stored nowhere')
      .requiredOption('--app <appUid>', 'application the key belongs to')
      .requiredOption('--name <name>', 'a name to tell the key apart')
      .option('--expires-at <when>', `when the key stops working: ${EXPIRES_AT_FORMATS}`)
      .option('--new-app', 'the app has no keys yet: create its first key (without it, an unknown --app is refused as a likely typo)'),
  ).action(async (options: TargetOptions & { app: string; name: string; expiresAt?: string; newApp?: boolean }) => {
    const expiresAt = options.expiresAt === undefined ? undefined : expiryFlag(options.expiresAt);
    if (!options.newApp) await requireKnownApp(await connect(options), options.app);
    const input = { appUid: options.app, name: options.name, ...(expiresAt !== undefined ? { expiresAt } : {}), ...(await requested(options)) };
    await withTarget<CreatedKey>(options, 'createKey', input, (key) => newKeyLines(key, 'Created key'));
  });

  targetOptions(
    keys
      .command('list')
      .description("list an application's keys (never the keys themselves)")
      .requiredOption('--app <appUid>', 'application whose keys to list')
      .option('--limit <n>', 'keys per page (1-100); with it, one page is shown')
      .option('--next-token <token>', 'start after the page that returned this nextToken'),
  ).action(async (options: TargetOptions & { app: string; limit?: string; nextToken?: string }) => {
    const input = { appUid: options.app, ...paging(options) };
    await withTarget<{ keys: ListedKey[] } & Page>(options, 'listKeys', input, async (first) => {
      const pages = await remainingPages('listKeys', { appUid: options.app }, first, options.limit !== undefined);
      const all = pages.flatMap((page) => page.keys);
      if (all.length === 0) out(`No keys for app ${options.app}.`);
      else {
        out(
          table([
            ['KEY ID', 'PREFIX', 'NAME', 'STATUS', 'CREATED', 'EXPIRES', 'LAST USED'],
            ...all.map((k) => [k.keyId, k.displayPrefix, k.name, k.status ?? 'active', k.createdAt, k.expiresAt ?? '-', k.lastUsedAt ?? '-']),
          ]),
        );
      }
      const nextToken = pages.at(-1)!.nextToken;
      if (nextToken) out(`More keys: add --next-token ${nextToken}`);
    });
  });

  targetOptions(
    keys
      .command('delete')
      .description('delete an API key: every later request with it fails; sessions it created stay valid (see `sessions revoke`)')
      .requiredOption('--app <appUid>', 'application the key belongs to')
      .requiredOption('--key <keyId>', 'id of the key (from `keys list`), not the key itself'),
  ).action(async (options: TargetOptions & { app: string; key: string }) => {
    const input = { appUid: options.app, keyId: options.key, ...(await requested(options)) };
    await withTarget<{ keyId: string; deleted: boolean }>(options, 'deleteKey', input, (result) => {
      out(`Deleted key ${result.keyId} from app ${options.app}.`);
    });
  });

  targetOptions(
    keys
      .command('roll')
      .description('replace a key with a new one (printed once); the old key keeps working for the grace period, sessions are untouched')
      .requiredOption('--app <appUid>', 'application the key belongs to')
      .requiredOption('--key <keyId>', 'id of the key to replace')
      .option('--grace <duration>', 'how long the old key keeps working: 0 (stops now), 90s, 15m, 24h (default), up to 7d')
      .option('--name <name>', "the new key's name (default: the old key's)")
      .option('--expires-at <when>', `when the new key stops working: ${EXPIRES_AT_FORMATS}`),
  ).action(async (options: TargetOptions & { app: string; key: string; grace?: string; name?: string; expiresAt?: string }) => {
    const expiresAt = options.expiresAt === undefined ? undefined : expiryFlag(options.expiresAt);
    const input = {
      appUid: options.app,
      keyId: options.key,
      ...(options.grace !== undefined ? { gracePeriodSeconds: parseGrace(options.grace) } : {}),
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      ...(await requested(options)),
    };
    await withTarget<RolledKey>(options, 'rollKey', input, (key) => {
      newKeyLines(key, 'Rolled to key');
      out(`The old key ${key.rolledFromKeyId} stops working at ${key.previousKeyExpiresAt}.`);
    });
  });

  targetOptions(
    keys
      .command('update')
      .description('rename a key, set or clear its expiry, disable or enable it')
      .requiredOption('--app <appUid>', 'application the key belongs to')
      .requiredOption('--key <keyId>', 'id of the key')
      .option('--name <name>', 'a new name')
      .option('--expires-at <when>', `when the key stops working: ${EXPIRES_AT_FORMATS}; or 'never'`)
      .option('--disable', 'refuse the key from the next request on (until --enable)')
      .option('--enable', 'accept a disabled key again'),
  ).action(async (options: TargetOptions & { app: string; key: string; name?: string; expiresAt?: string; disable?: boolean; enable?: boolean }) => {
    if (options.disable && options.enable) throw new CliError('--disable and --enable cannot be used together');
    const input = {
      appUid: options.app,
      keyId: options.key,
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.expiresAt !== undefined ? { expiresAt: options.expiresAt === 'never' ? null : expiryFlag(options.expiresAt) } : {}),
      ...(options.disable ? { enabled: false } : options.enable ? { enabled: true } : {}),
      ...(await requested(options)),
    };
    await withTarget<ListedKey>(options, 'updateKey', input, (key) => out(keyLine(key)));
  });

  targetOptions(
    keys
      .command('events')
      .description("an application's activity log, newest first: who created, rolled, changed or deleted which key")
      .requiredOption('--app <appUid>', 'application whose log to show')
      .option('--key <keyId>', 'only the events about this key')
      .option('--limit <n>', 'events per page (1-100); with it, one page is shown')
      .option('--next-token <token>', 'start after the page that returned this nextToken'),
  ).action(async (options: TargetOptions & { app: string; key?: string; limit?: string; nextToken?: string }) => {
    const filter = { appUid: options.app, ...(options.key !== undefined ? { keyId: options.key } : {}) };
    await withTarget<{ events: KeyEvent[] } & Page>(options, 'listKeyEvents', { ...filter, ...paging(options) }, async (first) => {
      const pages = await remainingPages('listKeyEvents', filter, first, options.limit !== undefined);
      const all = pages.flatMap((page) => page.events);
      if (all.length === 0) out(`No events for app ${options.app}${options.key ? ` and key ${options.key}` : ''}.`);
      else {
        out(
          table([
            ['AT', 'ACTION', 'KEY ID', 'REQUESTED BY', 'DETAILS'],
            ...all.map((e) => [e.at, e.action, e.keyId ?? '-', e.requestedBy ?? '-', e.details ? JSON.stringify(e.details) : '-']),
          ]),
        );
      }
      const nextToken = pages.at(-1)!.nextToken;
      if (nextToken) out(`More events: add --next-token ${nextToken}`);
    });
  });

  program
    .command('scan')
    .description('find keygate keys and session tokens in files, folders (recursively, not .git or node_modules) or standard input (-, or a pipe)')
    .argument('[paths...]', 'files and folders to scan; - for standard input')
    .option('--prefix <prefix>', 'also look for this custom key or token prefix (repeatable)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--report <baseUrl>', "send the API keys found to this deployment's public revoke route (the stack's ApiUrl, or the local API URL)")
    .option('--json', 'print the findings as JSON')
    .exitOverride()
    .action(async (paths: string[], options: { prefix: string[]; report?: string; json?: boolean }) => {
      const prefixes = scanPrefixes(options.prefix);
      const url = options.report === undefined ? undefined : revokeUrl(options.report);
      const stdin = io.stdin ?? processStdin;
      if (paths.length === 0) {
        if (stdin.isTTY) throw new ScanUsageError('give files or folders to scan, or pipe text to standard input');
        paths = ['-'];
      }
      const result = await scanPaths(paths, { prefixes, readStdin: () => stdin.read() });
      const { findings } = result;
      let reported: { url: string; sent: number; received: number } | undefined;
      let reportFailure: string | undefined;
      const credentials = reportableCredentials(findings);
      if (url && credentials.length > 0) {
        try {
          reported = { url: url.href, ...(await reportKeys(url, credentials, { fetch: io.fetch })) };
        } catch (error) {
          if (!(error instanceof ReportError)) throw error;
          reportFailure = error.message;
        }
      }
      // Findings show where and which (display prefix), never the key: this output lands in CI logs.
      if (options.json) out(JSON.stringify({ findings, filesScanned: result.filesScanned, skipped: result.skipped, ...(reported && { reported }), ...(reportFailure && { reportError: reportFailure }) }, null, 2));
      else for (const finding of findings) out(String(finding));
      for (const { path, reason } of options.json ? [] : result.skipped) io.stderr(`keygate scan: skipped ${path}: ${reason}\n`);
      const files = new Set(findings.map((finding) => finding.path)).size;
      io.stderr(`keygate scan: ${findings.length} key${findings.length === 1 ? '' : 's'} or token${findings.length === 1 ? '' : 's'} found in ${files} file${files === 1 ? '' : 's'} (${result.filesScanned} scanned)\n`);
      if (reported) {
        io.stderr(`keygate scan: reported ${reported.sent} key${reported.sent === 1 ? '' : 's'} to ${reported.url}; it received ${reported.received}. Keys that existed no longer work.\n`);
      }
      if (url && findings.length > credentials.length) io.stderr('keygate scan: session tokens are not reported: they are not keys, and expire on their own.\n');
      if (reportFailure) io.stderr(`keygate scan: the report failed: ${reportFailure}\n`);
      exitCode = findings.length > 0 ? SCAN_EXIT.found : SCAN_EXIT.none;
    });

  const apps = program.command('apps').description('the applications that have keys');

  targetOptions(
    apps
      .command('list')
      .description('list the applications, with their key counts')
      .option('--limit <n>', 'apps per page (1-100); with it, one page is shown')
      .option('--next-token <token>', 'start after the page that returned this nextToken'),
  ).action(async (options: TargetOptions & { limit?: string; nextToken?: string }) => {
    await withTarget<{ apps: App[] } & Page>(options, 'listApps', paging(options), async (first) => {
      const pages = await remainingPages('listApps', {}, first, options.limit !== undefined);
      const all = pages.flatMap((page) => page.apps);
      if (all.length === 0) out('No apps yet: `keys create --app <appUid> --new-app` makes the first.');
      else out(table([['APP', 'KEYS', 'CREATED'], ...all.map((app) => [app.appUid, String(app.keyCount), app.createdAt])]));
      const nextToken = pages.at(-1)!.nextToken;
      if (nextToken) out(`More apps: add --next-token ${nextToken}`);
    });
  });

  targetOptions(apps.command('show').description('one application: its key count and when its first key was made').requiredOption('--app <appUid>', 'the application')).action(
    async (options: TargetOptions & { app: string }) => {
      await withTarget<App>(options, 'getApp', { appUid: options.app }, (app) => {
        out(table([['app', app.appUid], ['keys', String(app.keyCount)], ['created', app.createdAt]]));
      });
    },
  );

  const sessions = program.command('sessions').description('end sessions on purpose (deleting a key never does)');

  targetOptions(
    sessions
      .command('revoke')
      .description("end sessions now: a user's, those a key opened, or one; the next request with them gets 401")
      .requiredOption('--app <appUid>', 'application the sessions belong to')
      .option('--user <userId>', "every session of this user (keygate's userId)")
      .option('--external-id <externalId>', 'every session of the user with this externalId')
      .option('--created-by-key <keyId>', 'every session opened with this key (deleted or not)')
      .option('--session <sessionId>', 'this one session'),
  ).action(async (options: TargetOptions & { app: string; user?: string; externalId?: string; createdByKey?: string; session?: string }) => {
    const { option, field, value } = exactlyOneSelector(options, [
      ['user', '--user', 'userId'],
      ['externalId', '--external-id', 'externalId'],
      ['createdByKey', '--created-by-key', 'createdByKeyId'],
      ['session', '--session', 'sessionId'],
    ]);
    const input = { appUid: options.app, [field]: value };
    const whose = { user: `of user ${value}`, externalId: `of the user with externalId ${value}`, createdByKey: `opened with key ${value}`, session: `(session ${value})` }[option];
    await withTarget<{ revoked: number; incomplete?: boolean }>(options, 'revokeSessions', input, async (first) => {
      let result = first;
      let revoked = first.revoked;
      // A big batch ends over several calls; each picks up what is left.
      while (result.incomplete) {
        result = (await invoke(target!, 'revokeSessions', input)) as typeof first;
        revoked += result.revoked;
      }
      out(`Revoked ${plural(revoked, 'session')} ${whose} in app ${options.app}.`);
    });
  });

  const users = program.command('users').description("erase a user's personal data");

  targetOptions(
    users
      .command('delete')
      .description("erase a user: its record (email, externalId, name, account ids) and every session of theirs")
      .requiredOption('--app <appUid>', 'application the user belongs to')
      .option('--user <userId>', "keygate's userId")
      .option('--external-id <externalId>', "your server's id for the user")
      .option('--email <email>', 'the email the user signed in with'),
  ).action(async (options: TargetOptions & { app: string; user?: string; externalId?: string; email?: string }) => {
    const { field, value } = exactlyOneSelector(options, [
      ['user', '--user', 'userId'],
      ['externalId', '--external-id', 'externalId'],
      ['email', '--email', 'userEmail'],
    ]);
    const input = { appUid: options.app, [field]: value };
    await withTarget<{ userId: string; deleted: boolean; sessionsRevoked: number; incomplete?: boolean }>(options, 'deleteUser', input, async (first) => {
      let result = first;
      let revoked = first.sessionsRevoked;
      while (result.incomplete) {
        result = (await invoke(target!, 'deleteUser', input)) as typeof first;
        revoked += result.sessionsRevoked;
      }
      out(`Deleted user ${result.userId} from app ${options.app}; ${plural(revoked, 'session')} revoked.`);
    });
  });

  targetOptions(
    program
      .command('seal-records')
      .description('once, after upgrading to a keygate that seals records: seal every key and session item written before, as it is now (see the README, Security)')
      .option('--limit <n>', 'items read per call (1-10000); with it, one call is made and its nextToken shown')
      .option('--next-token <token>', 'resume where the call that returned this nextToken stopped'),
  ).action(async (options: TargetOptions & { limit?: string; nextToken?: string }) => {
    const input = paging(options);
    await withTarget<SealedRecords>(options, 'sealRecords', input, async (first) => {
      const total = { keys: { ...first.keys }, sessions: { ...first.sessions } };
      let last = first;
      // A big table takes several calls; each resumes where the one before stopped.
      while (last.nextToken && options.limit === undefined) {
        last = (await invoke(target!, 'sealRecords', { nextToken: last.nextToken })) as SealedRecords;
        for (const kind of ['keys', 'sessions'] as const) {
          for (const count of Object.keys(total[kind]) as (keyof SealCounts)[]) total[kind][count] += last[kind][count];
        }
      }
      const both = (count: keyof SealCounts) => `${plural(total.keys[count], 'key item')} and ${plural(total.sessions[count], 'session')}`;
      out(`Sealed ${both('sealed')}; ${both('alreadySealed')} were sealed already.`);
      if (total.keys.wrongSeal + total.sessions.wrongSeal > 0) {
        out(`${both('wrongSeal')} carry a seal that does not verify: changed by someone without the pepper. Left as they are; the authorizers refuse them: delete those keys and end those sessions.`);
      }
      if (total.keys.skipped + total.sessions.skipped > 0) {
        out(`${both('skipped')} were left unsealed: they changed during the run, or hold fields keygate does not write; run seal-records again, and look into any that stay.`);
      }
      if (last.nextToken) out(`More items: add --next-token ${last.nextToken}`);
    });
  });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    const scanning = argv[0] === 'scan';
    // Commander has already written its own usage errors (and help, and --version) through configureOutput.
    if (error instanceof CommanderError) return scanning && error.exitCode !== 0 ? SCAN_EXIT.error : error.exitCode;
    io.stderr(`keygate: ${error instanceof CliError || error instanceof ScanUsageError ? error.message : firstLine(error)}\n`);
    return scanning ? SCAN_EXIT.error : 1;
  } finally {
    target?.client.destroy();
  }
}

/**
 * Refuses to start an app by accident: the app must be registered, or (an
 * app from before the registry) have keys. `--new-app` skips this.
 */
async function requireKnownApp(target: Target, appUid: string): Promise<void> {
  try {
    await invoke(target, 'getApp', { appUid });
    return;
  } catch (error) {
    if (!(error instanceof AdminFunctionError && error.errorType === 'AppNotFound')) throw error;
  }
  const { keys } = (await invoke(target, 'listKeys', { appUid, limit: 1 })) as { keys: unknown[] };
  if (keys.length === 0) throw new CliError(`app ${appUid} has no keys yet: check --app for a typo, or pass --new-app to create its first key`);
}
