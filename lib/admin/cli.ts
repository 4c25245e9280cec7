import { userInfo } from 'node:os';
import { Command, CommanderError } from 'commander';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { homePaths, keygateHome, readLambdaApiSecret, readLocalStackInfo } from '../local/home';
import { localLambdaApiCredentials } from '../local/lambda-api';
import { ADMIN_FUNCTIONS, adminFunctionOutput, type AdminFunctionId } from '../shared/functions';
import { reportableCredentials, reportKeys, revokeUrl, scanPaths, scanPrefixes, ScanUsageError, ReportError } from './scan';

/**
 * The admin CLI (DESIGN §6). Both modes invoke the admin Lambda functions
 * through the Lambda Invoke API: the local stack's emulation of it (found
 * through `.keygate/local.json`), or the deployed functions named by the
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

/** CloudFormation outputs of the keygate stack that name the admin functions. */
export const STACK_OUTPUTS = Object.fromEntries(ADMIN_FUNCTIONS.map((id) => [id, adminFunctionOutput(id)])) as Record<AdminFunctionId, string>;

type AdminFunction = AdminFunctionId;

interface Target {
  readonly client: LambdaClient;
  /** Function names; a stack or local stack older than a function lacks it, which is said when it is called. */
  readonly functions: Partial<Record<AdminFunction, string>>;
  /** Why a function is missing from `functions`. */
  readonly missing: (fn: AdminFunction) => string;
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
}

/** A failure to report as one line; exit code 1. */
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

const NO_LOCAL_STACK = 'no local keygate stack is running: start one with `npm start` (or pass --stack <name> for a deployed stack)';

async function resolveTarget(options: TargetOptions, io: CliIo): Promise<Target> {
  if (options.stack) {
    const stack = options.stack;
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
    if (!outputs[STACK_OUTPUTS.createKey]) throw new CliError(`stack ${stack} has no output ${STACK_OUTPUTS.createKey}; is it a keygate stack?`);
    const functions: Partial<Record<AdminFunction, string>> = {};
    for (const id of ADMIN_FUNCTIONS) if (outputs[STACK_OUTPUTS[id]]) functions[id] = outputs[STACK_OUTPUTS[id]];
    return {
      // One attempt: a retried create-key after a timeout would make a second live key whose plaintext nobody sees.
      client: new LambdaClient({ ...config, maxAttempts: 1 }),
      functions,
      missing: (fn) => `stack ${stack} has no output ${STACK_OUTPUTS[fn]}: it was deployed before this command existed; deploy the current keygate`,
      unreachable: `could not reach AWS Lambda for stack ${stack}`,
      local: false,
      requester: () => callerArn(config),
    };
  }

  const home = keygateHome(io.env);
  const info = readLocalStackInfo(home);
  if (!info) throw new CliError(NO_LOCAL_STACK);
  let secret: string | undefined;
  try {
    secret = readLambdaApiSecret(home);
  } catch (error) {
    throw new CliError(`could not read the local stack's Lambda API secret (${homePaths(home).lambdaApiSecret}): ${firstLine(error)}`);
  }
  if (!secret) throw new CliError(`the local stack has no Lambda API secret (${homePaths(home).lambdaApiSecret}); restart it with \`npm start\``);
  return {
    client: new LambdaClient({
      endpoint: info.lambdaEndpoint,
      region: info.region,
      // The per-start secret that admits the CLI to the local Lambda API.
      credentials: localLambdaApiCredentials(secret),
      maxAttempts: 1,
    }),
    functions: info.functions,
    missing: () => 'the running local stack predates this command: restart `npm start`',
    unreachable: NO_LOCAL_STACK,
    local: true,
    requester: async () => `local:${userInfo().username}`,
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

async function invoke(target: Target, fn: AdminFunction, input: unknown): Promise<unknown> {
  const functionName = target.functions[fn];
  if (!functionName) throw new CliError(target.missing(fn));
  let response;
  try {
    response = await target.client.send(new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(input)) }));
  } catch (error) {
    const code = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
    if (target.local && (code === 'ECONNREFUSED' || code === 'ECONNRESET' || /ECONNREFUSED/.test(String(error)))) throw new CliError(NO_LOCAL_STACK);
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
    throw new AdminFunctionError(errorType ?? response.FunctionError, errorMessage ?? `${functionName} failed (${response.FunctionError})`);
  }
  return payload;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message || error.name : String(error);
  return message.split('\n')[0]!;
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

interface Paged {
  nextToken?: string;
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

export async function run(argv: readonly string[], io: CliIo = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), env: process.env }): Promise<number> {
  const out = (line = '') => io.stdout(`${line}\n`);
  const targetOptions = (command: Command) =>
    command
      .option('--stack <name>', 'a deployed keygate stack (CloudFormation stack name) instead of the local one; default: $KEYGATE_STACK')
      .option('--region <region>', 'AWS region of the deployed stack (default: from the AWS config)')
      .option('--profile <profile>', 'AWS profile for the deployed stack')
      .option('--json', "print exactly the admin function's JSON output");

  let target: Target | undefined;
  let exitCode = 0;
  const connect = async (options: TargetOptions): Promise<Target> => {
    if (options.stack === '') throw new CliError('--stack needs a stack name');
    return (target ??= await resolveTarget({ ...options, stack: options.stack ?? (io.env.KEYGATE_STACK || undefined) }, io));
  };
  const withTarget = async <T>(options: TargetOptions & { json?: boolean }, fn: AdminFunction, input: unknown, human: (output: T) => Promise<void> | void) => {
    const output = (await invoke(await connect(options), fn, input)) as T;
    if (options.json) out(JSON.stringify(output, null, 2));
    else await human(output);
  };

  /**
   * A paged list command: --json prints one call's output (nextToken included);
   * the human output shows every page unless --limit asks for one.
   */
  const listPages = async <T>(
    options: TargetOptions & { limit?: string; nextToken?: string; json?: boolean },
    fn: AdminFunction,
    field: string,
    input: Record<string, unknown>,
    show: (items: T[]) => void,
  ) => {
    // The admin function validates both: a bad --limit gets its ValidationError naming `limit`.
    const paging = {
      ...(options.limit !== undefined ? { limit: Number(options.limit) } : {}),
      ...(options.nextToken !== undefined ? { nextToken: options.nextToken } : {}),
    };
    await withTarget<Paged & Record<string, T[]>>(options, fn, { ...input, ...paging }, async (first) => {
      const all = [...first[field]!];
      let nextToken = first.nextToken;
      while (nextToken && options.limit === undefined) {
        const page = (await invoke(target!, fn, { ...input, nextToken })) as Paged & Record<string, T[]>;
        all.push(...page[field]!);
        nextToken = page.nextToken;
      }
      show(all);
      if (nextToken) out(`More ${field}: add --next-token ${nextToken}`);
    });
  };

  const program = new Command('keygate')
    .description('keygate admin CLI: manage API keys on the local stack (`npm start`) or a deployed stack (--stack), and find leaked keys (scan)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError(false);
  const keys = program.command('keys').description('create, list and delete API keys').exitOverride();

  /** Inputs of the commands that change keys carry who asked (`requestedBy`), for the activity log. */
  const requested = async (options: TargetOptions) => ({ requestedBy: await (await connect(options)).requester() });
  const newKeyLines = (key: CreatedKey, what: string) => {
    out(`${what} ${key.keyId} (${key.displayPrefix}) '${key.name}' for app ${key.appUid}${key.expiresAt ? `, expires ${key.expiresAt}` : ''}:`);
    out();
    out(`  ${key.apiKey}`);
    out();
    out('Copy it now: it will not be shown again (only its hash is stored).');
  };
  const keyLine = (key: ListedKey) =>
    `Key ${key.keyId} (${key.displayPrefix}) '${key.name}': ${key.status ?? 'active'}, expires ${key.expiresAt ?? 'never'}, last used ${key.lastUsedAt ?? 'never'}.`;

  targetOptions(
    keys
      .command('create')
      .description('create an API key; the key is printed once and stored nowhere')
      .requiredOption('--app <appUid>', 'application the key belongs to')
      .requiredOption('--name <name>', 'a name to tell the key apart')
      .option('--expires-at <date>', 'ISO 8601 date-time after which the key stops working'),
  ).action(async (options: TargetOptions & { app: string; name: string; expiresAt?: string; json?: boolean }) => {
    const input = { appUid: options.app, name: options.name, ...(options.expiresAt !== undefined ? { expiresAt: options.expiresAt } : {}), ...(await requested(options)) };
    await withTarget<CreatedKey>(options, 'createKey', input, (key) => newKeyLines(key, 'Created key'));
  });

  targetOptions(
    keys
      .command('list')
      .description("list an application's keys (never the keys themselves)")
      .requiredOption('--app <appUid>', 'application whose keys to list')
      .option('--limit <n>', 'keys per page (1-100); with it, one page is shown')
      .option('--next-token <token>', 'start after the page that returned this nextToken'),
  ).action(async (options: TargetOptions & { app: string; limit?: string; nextToken?: string; json?: boolean }) => {
    await listPages<ListedKey>(options, 'listKeys', 'keys', { appUid: options.app }, (all) => {
      if (all.length === 0) return out(`No keys for app ${options.app}.`);
      out(
        table([
          ['KEY ID', 'PREFIX', 'NAME', 'STATUS', 'CREATED', 'EXPIRES', 'LAST USED'],
          ...all.map((k) => [k.keyId, k.displayPrefix, k.name, k.status ?? 'active', k.createdAt, k.expiresAt ?? '-', k.lastUsedAt ?? '-']),
        ]),
      );
    });
  });

  targetOptions(
    keys
      .command('delete')
      .description('delete an API key: every later request with it fails; sessions it created stay valid')
      .requiredOption('--app <appUid>', 'application the key belongs to')
      .requiredOption('--key <keyId>', 'id of the key (from `keys list`), not the key itself'),
  ).action(async (options: TargetOptions & { app: string; key: string; json?: boolean }) => {
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
      .option('--expires-at <date>', 'ISO 8601 date-time after which the new key stops working'),
  ).action(async (options: TargetOptions & { app: string; key: string; grace?: string; name?: string; expiresAt?: string; json?: boolean }) => {
    const input = {
      appUid: options.app,
      keyId: options.key,
      ...(options.grace !== undefined ? { gracePeriodSeconds: parseGrace(options.grace) } : {}),
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.expiresAt !== undefined ? { expiresAt: options.expiresAt } : {}),
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
      .option('--expires-at <date>', "ISO 8601 date-time after which the key stops working, or 'never'")
      .option('--disable', 'refuse the key from the next request on (until --enable)')
      .option('--enable', 'accept a disabled key again'),
  ).action(async (options: TargetOptions & { app: string; key: string; name?: string; expiresAt?: string; disable?: boolean; enable?: boolean; json?: boolean }) => {
    if (options.disable && options.enable) throw new CliError('--disable and --enable cannot be used together');
    const input = {
      appUid: options.app,
      keyId: options.key,
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.expiresAt !== undefined ? { expiresAt: options.expiresAt === 'never' ? null : options.expiresAt } : {}),
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
  ).action(async (options: TargetOptions & { app: string; key?: string; limit?: string; nextToken?: string; json?: boolean }) => {
    const input = { appUid: options.app, ...(options.key !== undefined ? { keyId: options.key } : {}) };
    await listPages<KeyEvent>(options, 'listKeyEvents', 'events', input, (all) => {
      if (all.length === 0) return out(`No events for app ${options.app}${options.key ? ` and key ${options.key}` : ''}.`);
      out(
        table([
          ['AT', 'ACTION', 'KEY ID', 'REQUESTED BY', 'DETAILS'],
          ...all.map((e) => [e.at, e.action, e.keyId ?? '-', e.requestedBy ?? '-', e.details ? JSON.stringify(e.details) : '-']),
        ]),
      );
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

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    const scanning = argv[0] === 'scan';
    // Commander has already written its own usage errors (and help) to stderr/stdout.
    if (error instanceof CommanderError) return scanning && error.exitCode !== 0 ? SCAN_EXIT.error : error.exitCode;
    io.stderr(`keygate: ${error instanceof CliError || error instanceof ScanUsageError ? error.message : firstLine(error)}\n`);
    return scanning ? SCAN_EXIT.error : 1;
  } finally {
    target?.client.destroy();
  }
}
