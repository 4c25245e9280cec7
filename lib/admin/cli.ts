import { Command, CommanderError } from 'commander';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { homePaths, keygateHome, readLambdaApiSecret, readLocalStackInfo } from '../local/home';
import { localLambdaApiCredentials } from '../local/lambda-api';

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
}

/** CloudFormation outputs of the keygate stack that name the admin functions. */
export const STACK_OUTPUTS = {
  createKey: 'CreateKeyFunctionName',
  listKeys: 'ListKeysFunctionName',
  deleteKey: 'DeleteKeyFunctionName',
} as const;

type AdminFunction = keyof typeof STACK_OUTPUTS;

interface Target {
  readonly client: LambdaClient;
  readonly functions: Record<AdminFunction, string>;
  /** Said when the target cannot be reached. */
  readonly unreachable: string;
  readonly local: boolean;
}

interface TargetOptions {
  readonly stack?: string;
  readonly region?: string;
  readonly profile?: string;
}

/** A failure to report as one line; `exitCode` 1 unless said otherwise. */
export class CliError extends Error {}

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
    const config = { ...(options.region ? { region: options.region } : {}), ...(options.profile ? { profile: options.profile } : {}) };
    const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
    const cloudFormation = new CloudFormationClient(config);
    let outputs: Record<string, string>;
    try {
      const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: options.stack }));
      outputs = Object.fromEntries((Stacks?.[0]?.Outputs ?? []).map((output) => [output.OutputKey ?? '', output.OutputValue ?? '']));
    } catch (error) {
      throw new CliError(`could not read the outputs of stack ${options.stack}: ${firstLine(error)}`);
    } finally {
      cloudFormation.destroy();
    }
    const functions = {} as Record<AdminFunction, string>;
    for (const [key, output] of Object.entries(STACK_OUTPUTS) as [AdminFunction, string][]) {
      const name = outputs[output];
      if (!name) throw new CliError(`stack ${options.stack} has no output ${output}; is it a keygate stack?`);
      functions[key] = name;
    }
    // One attempt: a retried create-key after a timeout would make a second live key whose plaintext nobody sees.
    return { client: new LambdaClient({ ...config, maxAttempts: 1 }), functions, unreachable: `could not reach AWS Lambda for stack ${options.stack}`, local: false };
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
    unreachable: NO_LOCAL_STACK,
    local: true,
  };
}

async function invoke(target: Target, fn: AdminFunction, input: unknown): Promise<unknown> {
  let response;
  try {
    response = await target.client.send(new InvokeCommand({ FunctionName: target.functions[fn], Payload: Buffer.from(JSON.stringify(input)) }));
  } catch (error) {
    const code = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
    if (target.local && (code === 'ECONNREFUSED' || code === 'ECONNRESET' || /ECONNREFUSED/.test(String(error)))) throw new CliError(NO_LOCAL_STACK);
    if ((error as Error).name === 'ResourceNotFoundException') throw new CliError(`function ${target.functions[fn]} not found: ${firstLine(error)}`);
    if (!target.local && /ENOTFOUND|ECONNREFUSED|ETIMEDOUT/.test(String(code ?? error))) throw new CliError(`${target.unreachable}: ${firstLine(error)}`);
    throw new CliError(firstLine(error));
  }
  const text = response.Payload ? Buffer.from(response.Payload).toString('utf8') : 'null';
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    throw new CliError(`${target.functions[fn]} returned a payload that is not JSON`);
  }
  if (response.FunctionError) {
    const { errorType, errorMessage } = (payload ?? {}) as { errorType?: string; errorMessage?: string };
    throw new AdminFunctionError(errorType ?? response.FunctionError, errorMessage ?? `${target.functions[fn]} failed (${response.FunctionError})`);
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

interface ListedKey {
  keyId: string;
  name: string;
  displayPrefix: string;
  createdAt: string;
  expiresAt?: string;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
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
  const withTarget = async <T>(options: TargetOptions & { json?: boolean }, fn: AdminFunction, input: unknown, human: (output: T) => Promise<void> | void) => {
    if (options.stack === '') throw new CliError('--stack needs a stack name');
    target = await resolveTarget({ ...options, stack: options.stack ?? (io.env.KEYGATE_STACK || undefined) }, io);
    const output = (await invoke(target, fn, input)) as T;
    if (options.json) out(JSON.stringify(output, null, 2));
    else await human(output);
  };

  const program = new Command('keygate')
    .description('keygate admin CLI: manage API keys on the local stack (`npm start`) or a deployed stack (--stack)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError(false);
  const keys = program.command('keys').description('create, list and delete API keys').exitOverride();

  targetOptions(
    keys
      .command('create')
      .description('create an API key; the key is printed once and stored nowhere')
      .requiredOption('--app <appUid>', 'application the key belongs to')
      .requiredOption('--name <name>', 'a name to tell the key apart')
      .option('--expires-at <date>', 'ISO 8601 date-time after which the key stops working'),
  ).action(async (options: TargetOptions & { app: string; name: string; expiresAt?: string; json?: boolean }) => {
    const input = { appUid: options.app, name: options.name, ...(options.expiresAt !== undefined ? { expiresAt: options.expiresAt } : {}) };
    await withTarget<CreatedKey>(options, 'createKey', input, (key) => {
      out(`Created key ${key.keyId} (${key.displayPrefix}) '${key.name}' for app ${key.appUid}${key.expiresAt ? `, expires ${key.expiresAt}` : ''}:`);
      out();
      out(`  ${key.apiKey}`);
      out();
      out('Copy it now: it will not be shown again (only its hash is stored).');
    });
  });

  targetOptions(
    keys
      .command('list')
      .description("list an application's keys (never the keys themselves)")
      .requiredOption('--app <appUid>', 'application whose keys to list')
      .option('--limit <n>', 'keys per page (1-100); with it, one page is shown')
      .option('--next-token <token>', 'start after the page that returned this nextToken'),
  ).action(async (options: TargetOptions & { app: string; limit?: string; nextToken?: string; json?: boolean }) => {
    // The admin function validates both: a bad --limit gets its ValidationError naming `limit`.
    const paging = {
      ...(options.limit !== undefined ? { limit: Number(options.limit) } : {}),
      ...(options.nextToken !== undefined ? { nextToken: options.nextToken } : {}),
    };
    await withTarget<{ keys: ListedKey[]; nextToken?: string }>(options, 'listKeys', { appUid: options.app, ...paging }, async (first) => {
      const all = [...first.keys];
      // Human output shows every page unless --limit asks for one; --json is one call's output, nextToken included.
      let nextToken = first.nextToken;
      while (nextToken && options.limit === undefined) {
        const page = (await invoke(target!, 'listKeys', { appUid: options.app, nextToken })) as { keys: ListedKey[]; nextToken?: string };
        all.push(...page.keys);
        nextToken = page.nextToken;
      }
      if (all.length === 0) out(`No keys for app ${options.app}.`);
      else out(table([['KEY ID', 'PREFIX', 'NAME', 'CREATED', 'EXPIRES'], ...all.map((k) => [k.keyId, k.displayPrefix, k.name, k.createdAt, k.expiresAt ?? '-'])]));
      if (nextToken) out(`More keys: add --next-token ${nextToken}`);
    });
  });

  targetOptions(
    keys
      .command('delete')
      .description('delete an API key: every later request with it fails; sessions it created stay valid')
      .requiredOption('--app <appUid>', 'application the key belongs to')
      .requiredOption('--key <keyId>', 'id of the key (from `keys list`), not the key itself'),
  ).action(async (options: TargetOptions & { app: string; key: string; json?: boolean }) => {
    await withTarget<{ keyId: string; deleted: boolean }>(options, 'deleteKey', { appUid: options.app, keyId: options.key }, (result) => {
      out(`Deleted key ${result.keyId} from app ${options.app}.`);
    });
  });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    // Commander has already written its own usage errors (and help) to stderr/stdout.
    if (error instanceof CommanderError) return error.exitCode;
    io.stderr(`keygate: ${error instanceof CliError ? error.message : firstLine(error)}\n`);
    return 1;
  } finally {
    target?.client.destroy();
  }
}
