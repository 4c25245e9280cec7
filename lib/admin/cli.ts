import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { containsCredential } from '../../functions/domain/credential-format';
import { PACKAGE_ROOT } from '../construct/function-bundles';
import { MAX_IMPORT_KEYS } from '../shared/functions';
import { DEFAULT_CONSOLE_PORT, startConsole } from './console/server';
import { AdminClientError, AdminFunctionError, connectAdmin, firstLine, isKnownApp, type AdminClient, type AdminFunction, type AdminTargetOptions } from './admin-client';
import { EXPIRES_AT_FORMATS, parseExpiresAt } from './durations';
import { reportableCredentials, reportKeys, revokeUrl, scanPaths, scanPrefixes, ScanUsageError, ReportError } from './scan';

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
  /** Standard input, for `keygate scan` (default: the process's). */
  readonly stdin?: { readonly isTTY: boolean; read(): Promise<string> };
  /** The HTTP client of `keygate scan --report` (default: global fetch). */
  readonly fetch?: typeof fetch;
  /** The keygate package the CLI runs from. @default the package holding this file */
  readonly packageRoot?: string;
  /** The clock `--expires-at 90d` counts from. @default the system clock */
  readonly now?: () => Date;
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => resolve());
  });
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

/** A failure to report as one line; exit code 1. */
export class CliError extends Error {}

/** Exit codes of `keygate scan`, as grep has them: 1 means found and nothing else. */
export const SCAN_EXIT = { none: 0, found: 1, error: 2 } as const;

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
  plan: '--plan',
};

function inFlagTerms(message: string): string {
  return message.replace(/^[A-Za-z]+\b/, (field) => FLAG_OF_FIELD[field] ?? field);
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
  plan?: string;
  gatewayKeyId?: string;
}

interface Paged {
  nextToken?: string;
}

interface SealCounts {
  sealed: number;
  alreadySealed: number;
  wrongSeal: number;
  skipped: number;
}

interface SealedRecords extends Paged {
  keys: SealCounts;
  sessions: SealCounts;
  /** Absent from a stack deployed before app plans were sealed. */
  apps?: SealCounts;
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

/** An error as the CLI user should read it: a ValidationError names the flag they typed, not the payload field. */
function cliMessage(error: Error): string {
  return error instanceof AdminFunctionError && error.errorType === 'ValidationError' ? inFlagTerms(error.message) : error.message;
}

interface ImportedKey {
  keyId: string;
  name: string;
  displayPrefix: string;
  createdAt: string;
  expiresAt?: string;
  importedFrom: 'key' | 'keyHash';
}

/** Keys per import-keys call: as many as the function takes (one transaction). */
export const IMPORT_BATCH_SIZE = MAX_IMPORT_KEYS;

/** The entries of a JSON Lines import file with their line numbers; blank lines are skipped. Never echoes a line: it holds a key. */
function readImportFile(file: string): { line: number; entry: Record<string, unknown> }[] {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? firstLine(error)}`);
  }
  const entries: { line: number; entry: Record<string, unknown> }[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    if (raw.trim() === '') return;
    let entry: unknown;
    try {
      entry = JSON.parse(raw);
    } catch {
      entry = undefined;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new CliError(`${file} line ${index + 1} is not a JSON object like {"key": "...", "name": "..."}`);
    }
    entries.push({ line: index + 1, entry: entry as Record<string, unknown> });
  });
  if (entries.length === 0) throw new CliError(`${file} holds no keys`);
  return entries;
}

/** An import-keys message with `keys[i]` (a position in one call) told as the file's line. */
function withLines(message: string, lines: readonly number[]): string {
  const line = (index: string) => `line ${lines[Number(index)] ?? '?'}`;
  return message
    .replace(/^keys\[(\d+)\]\.\w+: /, (_, index: string) => `${line(index)}: `)
    .replace(/keys\[(\d+)\]\.(\w+)/g, (_, index: string, field: string) => `${line(index)}: ${field}`)
    .replace(/keys\[(\d+)\]/g, (_, index: string) => line(index));
}

export async function run(argv: readonly string[], io: CliIo = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), env: process.env }): Promise<number> {
  const out = (line = '') => io.stdout(`${line}\n`);
  const now = io.now ?? (() => new Date());
  const packageRoot = io.packageRoot ?? PACKAGE_ROOT;
  const targetOptions = (command: Command) =>
    command
      .option('--stack <name>', 'a deployed keygate stack (CloudFormation stack name) instead of the local one; default: $KEYGATE_STACK')
      .option('--region <region>', 'AWS region of the deployed stack (default: from the AWS config)')
      .option('--profile <profile>', 'AWS profile for the deployed stack');
  const jsonOption = (command: Command) => targetOptions(command).option('--json', "print exactly the admin function's JSON output");

  let admin: AdminClient | undefined;
  let exitCode = 0;
  const connect = async (options: AdminTargetOptions): Promise<AdminClient> => {
    if (options.stack === '') throw new CliError('--stack needs a stack name');
    const stack = options.stack ?? (io.env.KEYGATE_STACK || undefined);
    return (admin ??= await connectAdmin({ ...options, ...(stack === undefined ? {} : { stack }) }, io.env, packageRoot));
  };
  const withTarget = async <T>(options: AdminTargetOptions & { json?: boolean }, fn: AdminFunction, input: unknown, human: (output: T) => Promise<void> | void) => {
    const output = await (await connect(options)).invoke<T>(fn, input);
    if (options.json) out(JSON.stringify(output, null, 2));
    else await human(output);
  };

  /** --limit and --next-token as the admin functions take them; they validate both, so a bad --limit gets a ValidationError in terms of the flag. */
  const pagingInput = (options: { limit?: string; nextToken?: string }) => ({
    ...(options.limit !== undefined ? { limit: Number(options.limit) } : {}),
    ...(options.nextToken !== undefined ? { nextToken: options.nextToken } : {}),
  });

  /**
   * A paged list command: --json prints one call's output (nextToken included);
   * the human output shows every page unless --limit asks for one.
   */
  const listPages = async <T>(
    options: AdminTargetOptions & { limit?: string; nextToken?: string; json?: boolean },
    fn: AdminFunction,
    field: string,
    input: Record<string, unknown>,
    show: (items: T[]) => void,
  ) => {
    await withTarget<Paged & Record<string, T[]>>(options, fn, { ...input, ...pagingInput(options) }, async (first) => {
      const all = [...first[field]!];
      let nextToken = first.nextToken;
      while (nextToken && options.limit === undefined) {
        const page = await admin!.invoke<Paged & Record<string, T[]>>(fn, { ...input, nextToken });
        all.push(...page[field]!);
        nextToken = page.nextToken;
      }
      show(all);
      if (nextToken) out(`More ${field}: add --next-token ${nextToken}`);
    });
  };

  const program = new Command('keygate')
    .description('keygate admin CLI: manage API keys, apps, sessions and users on the local stack (`npm start`) or a deployed stack (--stack), in the terminal or the browser (console), and find leaked keys (scan)')
    .version(packageVersion(packageRoot), '-V, --version', 'print the keygate version')
    .exitOverride()
    // One error prefix for everything the CLI reports, commander's usage errors included.
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: (text, write) => write(`keygate: ${text.replace(/^error: /, '')}`) })
    .showHelpAfterError(false);
  const keys = program.command('keys').description('create, list, roll, change, delete and import API keys, and read their activity log');

  /** Inputs of the commands that change keys carry who asked (`requestedBy`), for the activity log. */
  const requested = async (options: AdminTargetOptions) => ({ requestedBy: await (await connect(options)).requester() });
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

  jsonOption(
    keys
      .command('create')
      .description('create an API key; the key is printed once and stored nowhere')
      .requiredOption('--app <appUid>', 'application the key belongs to')
      .requiredOption('--name <name>', 'a name to tell the key apart')
      .option('--expires-at <when>', `when the key stops working: ${EXPIRES_AT_FORMATS}`)
      .option('--new-app', 'the app has no keys yet: create its first key (without it, an unknown --app is refused as a likely typo)'),
  ).action(async (options: AdminTargetOptions & { app: string; name: string; expiresAt?: string; newApp?: boolean; json?: boolean }) => {
    const expiresAt = options.expiresAt === undefined ? undefined : expiryFlag(options.expiresAt);
    if (!options.newApp && !(await isKnownApp(await connect(options), options.app))) {
      throw new CliError(`app ${options.app} has no keys yet: check --app for a typo, or pass --new-app to create its first key`);
    }
    const input = { appUid: options.app, name: options.name, ...(expiresAt !== undefined ? { expiresAt } : {}), ...(await requested(options)) };
    await withTarget<CreatedKey>(options, 'createKey', input, (key) => newKeyLines(key, 'Created key'));
  });

  jsonOption(
    keys
      .command('list')
      .description("list an application's keys (never the keys themselves)")
      .requiredOption('--app <appUid>', 'application whose keys to list')
      .option('--limit <n>', 'keys per page (1-100); with it, one page is shown')
      .option('--next-token <token>', 'start after the page that returned this nextToken'),
  ).action(async (options: AdminTargetOptions & { app: string; limit?: string; nextToken?: string; json?: boolean }) => {
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

  jsonOption(
    keys
      .command('delete')
      .description('delete an API key: every later request with it fails; sessions it created stay valid (see `sessions revoke`)')
      .requiredOption('--app <appUid>', 'application the key belongs to')
      .requiredOption('--key <keyId>', 'id of the key (from `keys list`), not the key itself'),
  ).action(async (options: AdminTargetOptions & { app: string; key: string; json?: boolean }) => {
    const input = { appUid: options.app, keyId: options.key, ...(await requested(options)) };
    await withTarget<{ keyId: string; deleted: boolean }>(options, 'deleteKey', input, (result) => {
      out(`Deleted key ${result.keyId} from app ${options.app}.`);
    });
  });

  jsonOption(
    keys
      .command('roll')
      .description('replace a key with a new one (printed once); the old key keeps working for the grace period, sessions are untouched')
      .requiredOption('--app <appUid>', 'application the key belongs to')
      .requiredOption('--key <keyId>', 'id of the key to replace')
      .option('--grace <duration>', 'how long the old key keeps working: 0 (stops now), 90s, 15m, 24h (default), up to 7d')
      .option('--name <name>', "the new key's name (default: the old key's)")
      .option('--expires-at <when>', `when the new key stops working: ${EXPIRES_AT_FORMATS}`),
  ).action(async (options: AdminTargetOptions & { app: string; key: string; grace?: string; name?: string; expiresAt?: string; json?: boolean }) => {
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

  jsonOption(
    keys
      .command('update')
      .description('rename a key, set or clear its expiry, disable or enable it')
      .requiredOption('--app <appUid>', 'application the key belongs to')
      .requiredOption('--key <keyId>', 'id of the key')
      .option('--name <name>', 'a new name')
      .option('--expires-at <when>', `when the key stops working: ${EXPIRES_AT_FORMATS}; or 'never'`)
      .option('--disable', 'refuse the key from the next request on (until --enable)')
      .option('--enable', 'accept a disabled key again'),
  ).action(async (options: AdminTargetOptions & { app: string; key: string; name?: string; expiresAt?: string; disable?: boolean; enable?: boolean; json?: boolean }) => {
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

  jsonOption(
    keys
      .command('events')
      .description("an application's activity log, newest first: who created, rolled, changed or deleted which key")
      .requiredOption('--app <appUid>', 'application whose log to show')
      .option('--key <keyId>', 'only the events about this key')
      .option('--limit <n>', 'events per page (1-100); with it, one page is shown')
      .option('--next-token <token>', 'start after the page that returned this nextToken'),
  ).action(async (options: AdminTargetOptions & { app: string; key?: string; limit?: string; nextToken?: string; json?: boolean }) => {
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
  jsonOption(
    keys
      .command('import')
      .description(
        'import existing keys from a JSON Lines file, one {"key": "<plaintext>" | "keyHash": "<SHA-256 hex>", "name": "...", "expiresAt"?: "<ISO>"} per line; ' +
          'keys are hashed with the pepper and stored nowhere',
      )
      .requiredOption('--app <appUid>', 'application the keys belong to')
      .requiredOption('--file <path>', "JSON Lines file ('-' for standard input)")
      .option('--skip-existing', 'skip keys that are already stored (re-running an import) instead of stopping at the first'),
  ).action(async (options: AdminTargetOptions & { app: string; file: string; skipExisting?: boolean; json?: boolean }) => {
    const entries = readImportFile(options.file);
    const connected = await connect(options);
    const { requestedBy } = await requested(options);
    const imported: ImportedKey[] = [];
    const skippedLines: number[] = [];
    for (let start = 0; start < entries.length; start += IMPORT_BATCH_SIZE) {
      // One call per batch: all of a batch is stored or none of it.
      let batch = entries.slice(start, start + IMPORT_BATCH_SIZE);
      while (batch.length > 0) {
        try {
          const output = await connected.invoke<{ keys: ImportedKey[] }>('importKeys', { appUid: options.app, keys: batch.map(({ entry }) => entry), requestedBy });
          imported.push(...output.keys);
          break;
        } catch (error) {
          if (!(error instanceof AdminFunctionError)) throw error;
          const lines = batch.map(({ line }) => line);
          const index = /^keys\[(\d+)\]/.exec(error.message)?.[1];
          if (error.errorType === 'KeyAlreadyExists' && options.skipExisting && index !== undefined) {
            skippedLines.push(lines[Number(index)]!);
            batch = batch.filter((_, position) => position !== Number(index));
            continue;
          }
          const hint = error.errorType === 'KeyAlreadyExists' ? '; --skip-existing skips keys already stored' : '';
          const done = imported.length > 0 ? `; ${imported.length} keys before line ${lines[0]} were imported` : '';
          throw new CliError(`${options.file} ${withLines(error.message, lines)}${hint}${done}`);
        }
      }
    }
    if (options.json) {
      out(JSON.stringify({ appUid: options.app, keys: imported, ...(skippedLines.length > 0 ? { skippedLines } : {}) }, null, 2));
      return;
    }
    out(`Imported ${imported.length} keys into app ${options.app}${skippedLines.length > 0 ? `; skipped ${skippedLines.length} already stored (lines ${skippedLines.join(', ')})` : ''}.`);
    if (imported.length > 0) {
      out(table([['KEY ID', 'PREFIX', 'NAME', 'FROM', 'EXPIRES'], ...imported.map((k) => [k.keyId, k.displayPrefix, k.name, k.importedFrom, k.expiresAt ?? '-'])]));
    }
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

  jsonOption(
    apps
      .command('list')
      .description('list the applications, with their key counts')
      .option('--limit <n>', 'apps per page (1-100); with it, one page is shown')
      .option('--next-token <token>', 'start after the page that returned this nextToken'),
  ).action(async (options: AdminTargetOptions & { limit?: string; nextToken?: string; json?: boolean }) => {
    await listPages<App>(options, 'listApps', 'apps', {}, (all) => {
      if (all.length === 0) return out('No apps yet: `keys create --app <appUid> --new-app` makes the first.');
      out(table([['APP', 'PLAN', 'KEYS', 'CREATED'], ...all.map((app) => [app.appUid, app.plan ?? '-', String(app.keyCount), app.createdAt])]));
    });
  });

  jsonOption(
    apps.command('show').description('one application: its plan, key count and when it was first seen').requiredOption('--app <appUid>', 'the application'),
  ).action(async (options: AdminTargetOptions & { app: string; json?: boolean }) => {
    await withTarget<App>(options, 'getApp', { appUid: options.app }, (app) => {
      out(
        table([
          ['app', app.appUid],
          ['plan', app.plan ?? '(none)'],
          ['keys', String(app.keyCount)],
          ['created', app.createdAt],
          ...(app.gatewayKeyId ? [['gateway key', `${app.gatewayKeyId} (API Gateway API key id)`]] : []),
        ]),
      );
    });
  });

  jsonOption(
    apps
      .command('set-plan')
      .description('put an application on a plan: API Gateway then throttles and counts its requests by that plan')
      .requiredOption('--app <appUid>', 'the application')
      .option('--plan <plan>', 'the plan, e.g. free, standard, premium')
      .option('--no-plan', 'take the application off its plan (onto the default plan, if there is one)'),
  ).action(async (options: AdminTargetOptions & { app: string; plan?: string | false; json?: boolean }) => {
    if (typeof options.plan !== 'string' && options.plan !== false) throw new CliError('apps set-plan needs --plan <plan> or --no-plan');
    const input = { appUid: options.app, plan: options.plan === false ? null : options.plan, ...(await requested(options)) };
    await withTarget<App>(options, 'setAppPlan', input, (app) => {
      if (app.plan) out(`App ${app.appUid} is on plan ${app.plan} (gateway key ${app.gatewayKeyId}).`);
      else out(`App ${app.appUid} is on no plan now; its gateway key is deleted, so with plans on its keys get 403 until it has a plan again.`);
    });
  });

  /**
   * A batch that may end over several calls (`incomplete`): calls again until
   * done, each picking up what is left; `--json` prints the first call's output.
   */
  const untilComplete = async <T extends { incomplete?: boolean }>(options: AdminTargetOptions & { json?: boolean }, fn: AdminFunction, input: unknown, count: (output: T) => number, human: (last: T, total: number) => void) => {
    await withTarget<T>(options, fn, input, async (first) => {
      let result = first;
      let total = count(first);
      while (result.incomplete) {
        result = await admin!.invoke<T>(fn, input);
        total += count(result);
      }
      human(result, total);
    });
  };

  const sessions = program.command('sessions').description('end sessions on purpose (deleting a key never does)');

  jsonOption(
    sessions
      .command('revoke')
      .description("end sessions now: a user's, those a key opened, or one; the next request with them gets 401")
      .requiredOption('--app <appUid>', 'application the sessions belong to')
      .option('--user <userId>', "every session of this user (keygate's userId)")
      .option('--external-id <externalId>', 'every session of the user with this externalId')
      .option('--created-by-key <keyId>', 'every session opened with this key (deleted or not)')
      .option('--session <sessionId>', 'this one session'),
  ).action(async (options: AdminTargetOptions & { app: string; user?: string; externalId?: string; createdByKey?: string; session?: string; json?: boolean }) => {
    const { option, field, value } = exactlyOneSelector(options, [
      ['user', '--user', 'userId'],
      ['externalId', '--external-id', 'externalId'],
      ['createdByKey', '--created-by-key', 'createdByKeyId'],
      ['session', '--session', 'sessionId'],
    ]);
    const input = { appUid: options.app, [field]: value, ...(await requested(options)) };
    const whose = { user: `of user ${value}`, externalId: `of the user with externalId ${value}`, createdByKey: `opened with key ${value}`, session: `(session ${value})` }[option];
    await untilComplete<{ revoked: number; incomplete?: boolean }>(options, 'revokeSessions', input, (result) => result.revoked, (_, revoked) => {
      out(`Revoked ${plural(revoked, 'session')} ${whose} in app ${options.app}.`);
    });
  });

  const users = program.command('users').description("erase a user's personal data");

  jsonOption(
    users
      .command('delete')
      .description('erase a user: its record (email, externalId, name, account ids) and every session of theirs')
      .requiredOption('--app <appUid>', 'application the user belongs to')
      .option('--user <userId>', "keygate's userId")
      .option('--external-id <externalId>', "your server's id for the user")
      .option('--email <email>', 'the email the user signed in with'),
  ).action(async (options: AdminTargetOptions & { app: string; user?: string; externalId?: string; email?: string; json?: boolean }) => {
    const { field, value } = exactlyOneSelector(options, [
      ['user', '--user', 'userId'],
      ['externalId', '--external-id', 'externalId'],
      ['email', '--email', 'userEmail'],
    ]);
    const input = { appUid: options.app, [field]: value, ...(await requested(options)) };
    await untilComplete<{ userId: string; deleted: boolean; sessionsRevoked: number; incomplete?: boolean }>(options, 'deleteUser', input, (result) => result.sessionsRevoked, (last, revoked) => {
      out(`Deleted user ${last.userId} from app ${options.app}; ${plural(revoked, 'session')} revoked.`);
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
    // The app id goes into the printed link: a key pasted there would be echoed.
    if (options.app !== undefined && containsCredential(options.app)) throw new CliError('--app must not contain an API key or session token');
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

  jsonOption(
    program
      .command('seal-records')
      .description('once, after upgrading to a keygate that seals records: seal every key, session and app plan item written before, as it is now (see the README, Security)')
      .option('--limit <n>', 'items read per call (1-10000); with it, one call is made and its nextToken shown')
      .option('--next-token <token>', 'resume where the call that returned this nextToken stopped'),
  ).action(async (options: AdminTargetOptions & { limit?: string; nextToken?: string; json?: boolean }) => {
    const input = pagingInput(options);
    await withTarget<SealedRecords>(options, 'sealRecords', input, async (first) => {
      const kinds = ['keys', 'sessions', 'apps'] as const;
      // A stack deployed before app plans were sealed answers without `apps`.
      const none: SealCounts = { sealed: 0, alreadySealed: 0, wrongSeal: 0, skipped: 0 };
      const total = { keys: { ...first.keys }, sessions: { ...first.sessions }, apps: { ...(first.apps ?? none) } };
      let last = first;
      // A big table takes several calls; each resumes where the one before stopped.
      while (last.nextToken && options.limit === undefined) {
        last = await admin!.invoke<SealedRecords>('sealRecords', { nextToken: last.nextToken });
        for (const kind of kinds) {
          for (const count of Object.keys(total[kind]) as (keyof SealCounts)[]) total[kind][count] += (last[kind] ?? none)[count];
        }
      }
      const all = (count: keyof SealCounts) => `${plural(total.keys[count], 'key item')}, ${plural(total.sessions[count], 'session')} and ${plural(total.apps[count], 'app plan')}`;
      const any = (count: keyof SealCounts) => kinds.some((kind) => total[kind][count] > 0);
      out(`Sealed ${all('sealed')}; ${all('alreadySealed')} were sealed already.`);
      if (any('wrongSeal')) {
        out(
          `${all('wrongSeal')} carry a seal that does not verify: changed by someone without the pepper. Left as they are; the authorizers refuse those keys and sessions, and the admin functions those apps' plans: delete those keys, end those sessions, and see the README (Security) for the plans.`,
        );
      }
      if (any('skipped')) {
        out(`${all('skipped')} were left unsealed: they changed during the run, or hold fields keygate does not write; run seal-records again, and look into any that stay.`);
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
    io.stderr(`keygate: ${error instanceof CliError || error instanceof AdminClientError || error instanceof ScanUsageError ? cliMessage(error) : firstLine(error)}\n`);
    return scanning ? SCAN_EXIT.error : 1;
  } finally {
    admin?.destroy();
  }
}
