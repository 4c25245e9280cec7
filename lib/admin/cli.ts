import { Command, CommanderError } from 'commander';
import { DEFAULT_CONSOLE_PORT, startConsole } from './console/server';
import { AdminClientError, connectAdmin, firstLine, type AdminClient, type AdminFunction, type AdminTargetOptions } from './admin-client';

/**
 * The admin CLI (DESIGN §6). Every command invokes the admin Lambda functions
 * through admin-client.ts: the local stack by default, a deployed stack with
 * `--stack`. `console` serves the same calls as a web page (console/server.ts).
 */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Resolves when a long-running command (`console`) should stop. @default SIGINT, SIGTERM or SIGHUP */
  readonly untilStopped?: () => Promise<void>;
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => resolve());
  });
}

/** A failure to report as one line. */
export class CliError extends Error {}

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
      .option('--profile <profile>', 'AWS profile for the deployed stack');
  const jsonOption = (command: Command) => targetOptions(command).option('--json', "print exactly the admin function's JSON output");

  let admin: AdminClient | undefined;
  const connect = async (options: AdminTargetOptions): Promise<AdminClient> => {
    if (options.stack === '') throw new CliError('--stack needs a stack name');
    const stack = options.stack ?? (io.env.KEYGATE_STACK || undefined);
    admin = await connectAdmin({ ...options, ...(stack === undefined ? {} : { stack }) }, io.env);
    return admin;
  };
  const withTarget = async <T>(options: AdminTargetOptions & { json?: boolean }, fn: AdminFunction, input: unknown, human: (output: T) => Promise<void> | void) => {
    const output = await (await connect(options)).invoke<T>(fn, input);
    if (options.json) out(JSON.stringify(output, null, 2));
    else await human(output);
  };

  const program = new Command('keygate')
    .description('keygate admin CLI: manage API keys on the local stack (`npm start`) or a deployed stack (--stack)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError(false);
  const keys = program.command('keys').description('create, list and delete API keys').exitOverride();

  jsonOption(
    keys
      .command('create')
      .description('create an API key; the key is printed once and stored nowhere')
      .requiredOption('--app <appUid>', 'application the key belongs to')
      .requiredOption('--name <name>', 'a name to tell the key apart')
      .option('--expires-at <date>', 'ISO 8601 date-time after which the key stops working'),
  ).action(async (options: AdminTargetOptions & { app: string; name: string; expiresAt?: string; json?: boolean }) => {
    const input = { appUid: options.app, name: options.name, ...(options.expiresAt !== undefined ? { expiresAt: options.expiresAt } : {}) };
    await withTarget<CreatedKey>(options, 'createKey', input, (key) => {
      out(`Created key ${key.keyId} (${key.displayPrefix}) '${key.name}' for app ${key.appUid}${key.expiresAt ? `, expires ${key.expiresAt}` : ''}:`);
      out();
      out(`  ${key.apiKey}`);
      out();
      out('Copy it now: it will not be shown again (only its hash is stored).');
    });
  });

  jsonOption(
    keys
      .command('list')
      .description("list an application's keys (never the keys themselves)")
      .requiredOption('--app <appUid>', 'application whose keys to list')
      .option('--limit <n>', 'keys per page (1-100); with it, one page is shown')
      .option('--next-token <token>', 'start after the page that returned this nextToken'),
  ).action(async (options: AdminTargetOptions & { app: string; limit?: string; nextToken?: string; json?: boolean }) => {
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
        const page = await admin!.invoke<{ keys: ListedKey[]; nextToken?: string }>('listKeys', { appUid: options.app, nextToken });
        all.push(...page.keys);
        nextToken = page.nextToken;
      }
      if (all.length === 0) out(`No keys for app ${options.app}.`);
      else out(table([['KEY ID', 'PREFIX', 'NAME', 'CREATED', 'EXPIRES'], ...all.map((k) => [k.keyId, k.displayPrefix, k.name, k.createdAt, k.expiresAt ?? '-'])]));
      if (nextToken) out(`More keys: add --next-token ${nextToken}`);
    });
  });

  jsonOption(
    keys
      .command('delete')
      .description('delete an API key: every later request with it fails; sessions it created stay valid')
      .requiredOption('--app <appUid>', 'application the key belongs to')
      .requiredOption('--key <keyId>', 'id of the key (from `keys list`), not the key itself'),
  ).action(async (options: AdminTargetOptions & { app: string; key: string; json?: boolean }) => {
    await withTarget<{ keyId: string; deleted: boolean }>(options, 'deleteKey', { appUid: options.app, keyId: options.key }, (result) => {
      out(`Deleted key ${result.keyId} from app ${options.app}.`);
    });
  });

  targetOptions(
    program
      .command('console')
      .description('serve the API key management page to your browser, on 127.0.0.1 only; prints a one-time link')
      .option('--port <port>', `port on 127.0.0.1 (0 picks a free one)`, String(DEFAULT_CONSOLE_PORT))
      .option('--app <appUid>', "open this application's page first"),
  ).action(async (options: AdminTargetOptions & { port: string; app?: string }) => {
    const port = Number(options.port);
    if (!/^\d+$/.test(options.port) || port > 65535) throw new CliError(`--port must be a port number (0 picks a free one), got '${options.port}'`);
    const client = await connect(options);
    const server = await startConsole({
      admin: client,
      port,
      ...(options.app === undefined ? {} : { startPath: `/apps/${encodeURIComponent(options.app)}/keys` }),
      log: (line) => io.stderr(`[console] ${line}\n`),
    });
    out(`keygate console: ${server.url}`);
    io.stderr(`Managing keys of ${client.target}. The link works once, in one browser; Ctrl-C stops the console.\n`);
    await (io.untilStopped ?? untilSignal)();
    await server.close();
  });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    // Commander has already written its own usage errors (and help) to stderr/stdout.
    if (error instanceof CommanderError) return error.exitCode;
    io.stderr(`keygate: ${error instanceof CliError || error instanceof AdminClientError ? error.message : firstLine(error)}\n`);
    return 1;
  } finally {
    admin?.destroy();
  }
}
