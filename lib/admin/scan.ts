import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { DISPLAY_SECRET_CHARS, findCredentials } from '../../functions/domain/credential-format';
import { credentialPrefixProblem, DEFAULT_KEY_PREFIX, DEFAULT_SESSION_TOKEN_PREFIX } from '../shared/environment';
import { REVOKE_ROUTE, routeResourcePath } from '../shared/routes';
import { isLoopbackHost } from '../local/loopback';

/**
 * `keygate scan`: finds keygate keys and session tokens in text, files and
 * folders by prefix, length, alphabet and checksum (the credential format's
 * own check, so a near miss is not reported), and reports found keys to a
 * deployment's public revoke route. What it prints never holds a whole key.
 */

/** Folders never walked into: version-control internals and installed dependencies. */
export const SKIPPED_FOLDERS: ReadonlySet<string> = new Set(['.git', 'node_modules']);
/** Larger files are skipped with a note: keys live in source, config and logs, not in disk images. */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;
export const STDIN_NAME = '<stdin>';

export type CredentialKind = 'api key' | 'session token' | 'custom prefix';

/**
 * One credential found. The credential itself is a private field: printing
 * the finding, `JSON.stringify` and `util.inspect` show where it is and its
 * display prefix, never the secret.
 */
export class Finding {
  readonly #credential: string;

  constructor(
    readonly path: string,
    /** 1-based. */
    readonly line: number,
    /** 1-based, in characters from the start of the line. */
    readonly column: number,
    readonly prefix: string,
    credential: string,
  ) {
    this.#credential = credential;
  }

  get kind(): CredentialKind {
    if (this.prefix === DEFAULT_KEY_PREFIX) return 'api key';
    if (this.prefix === DEFAULT_SESSION_TOKEN_PREFIX) return 'session token';
    return 'custom prefix';
  }

  /** `kg_3fQ9xLmA`: what admins see in `keys list`, enough to tell which key leaked. */
  get displayPrefix(): string {
    return this.#credential.slice(0, this.prefix.length + 1 + DISPLAY_SECRET_CHARS);
  }

  /** The whole credential: only for sending to the revoke route. */
  revealCredential(): string {
    return this.#credential;
  }

  toJSON(): { path: string; line: number; column: number; kind: CredentialKind; displayPrefix: string } {
    return { path: this.path, line: this.line, column: this.column, kind: this.kind, displayPrefix: this.displayPrefix };
  }

  /** `path:line:column: kg_3fQ9xLmA (api key)`. */
  toString(): string {
    return `${this.path}:${this.line}:${this.column}: ${this.displayPrefix} (${this.kind})`;
  }
}

/** The prefixes a scan looks for: keygate's defaults plus custom ones. Throws on an invalid prefix. */
export function scanPrefixes(custom: readonly string[] = []): string[] {
  for (const prefix of custom) {
    const problem = credentialPrefixProblem(prefix);
    if (problem) throw new ScanUsageError(`--prefix: ${problem}`);
  }
  return [...new Set([DEFAULT_KEY_PREFIX, DEFAULT_SESSION_TOKEN_PREFIX, ...custom])];
}

/** Every credential of `prefixes` in `text`, with its line and column. Pure. */
export function scanText(text: string, source: string, prefixes: readonly string[]): Finding[] {
  const findings: Finding[] = [];
  let line = 1;
  let lineStart = 0;
  let nextNewline = text.indexOf('\n');
  for (const match of findCredentials(text, prefixes)) {
    // Matches come in order: each newline is counted once.
    while (nextNewline !== -1 && nextNewline < match.index) {
      line++;
      lineStart = nextNewline + 1;
      nextNewline = text.indexOf('\n', lineStart);
    }
    findings.push(new Finding(source, line, match.index - lineStart + 1, match.prefix, match.value));
  }
  return findings;
}

/** A usage problem: a bad option or a path that does not exist (exit 2). */
export class ScanUsageError extends Error {}

export interface ScanResult {
  readonly findings: Finding[];
  readonly filesScanned: number;
  /** Files and folders not scanned, with why (too large, unreadable, a symbolic link). */
  readonly skipped: { readonly path: string; readonly reason: string }[];
}

export interface ScanOptions {
  readonly prefixes: readonly string[];
  /** Reads standard input, for the path `-`. */
  readonly readStdin: () => Promise<string>;
}

/**
 * Scans files, folders (recursively, in name order, not into SKIPPED_FOLDERS,
 * not following symbolic links) and `-` for standard input. A path given that
 * does not exist is a ScanUsageError; a file that cannot be read inside a
 * folder is skipped and listed.
 */
export async function scanPaths(inputs: readonly string[], options: ScanOptions): Promise<ScanResult> {
  const findings: Finding[] = [];
  const skipped: { path: string; reason: string }[] = [];
  let filesScanned = 0;

  const scanFile = (file: string, size: number) => {
    if (size > MAX_FILE_BYTES) {
      skipped.push({ path: file, reason: `larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB` });
      return;
    }
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      skipped.push({ path: file, reason: (error as NodeJS.ErrnoException).code ?? 'unreadable' });
      return;
    }
    filesScanned++;
    findings.push(...scanText(text, file, options.prefixes));
  };

  const walk = (folder: string) => {
    let entries;
    try {
      entries = readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } catch (error) {
      skipped.push({ path: folder, reason: (error as NodeJS.ErrnoException).code ?? 'unreadable' });
      return;
    }
    for (const entry of entries) {
      const child = path.join(folder, entry.name);
      if (SKIPPED_FOLDERS.has(entry.name)) continue;
      if (entry.isDirectory()) {
        walk(child);
      } else if (entry.isFile()) {
        scanFile(child, lstatSync(child).size);
      } else if (entry.isSymbolicLink()) {
        // Links can loop or lead out of the tree; their targets are scanned where they live.
        skipped.push({ path: child, reason: 'symbolic link' });
      }
    }
  };

  for (const input of inputs) {
    if (input === '-') {
      filesScanned++;
      findings.push(...scanText(await options.readStdin(), STDIN_NAME, options.prefixes));
      continue;
    }
    let stats;
    try {
      stats = statSync(input);
    } catch {
      throw new ScanUsageError(`no such file or folder: ${input}`);
    }
    if (stats.isDirectory()) walk(input);
    else if (stats.isFile()) scanFile(input, stats.size);
    else skipped.push({ path: input, reason: 'not a regular file (use - for standard input)' });
  }
  return { findings, filesScanned, skipped };
}

/** Keys a report may send: a session token is not a key, and the revoke route would only count it. */
export function reportableCredentials(findings: readonly Finding[]): string[] {
  return [...new Set(findings.filter((finding) => finding.kind !== 'session token').map((finding) => finding.revealCredential()))];
}

/** The revoke route's URL under a deployment's base URL (the stack's `ApiUrl`, or the local API URL). */
export function revokeUrl(baseUrl: string): URL {
  let base: URL;
  try {
    base = new URL(baseUrl);
  } catch {
    throw new ScanUsageError(`--report: not a URL: ${baseUrl}`);
  }
  const loopback = isLoopbackHost(base.host);
  // Keys in clear text over the network would be a second leak.
  if (base.protocol !== 'https:' && !(base.protocol === 'http:' && loopback)) {
    throw new ScanUsageError('--report: the URL must be https (http only for 127.0.0.1 or localhost)');
  }
  if (base.search || base.hash) throw new ScanUsageError('--report: give the API base URL, without ? or #');
  return new URL(routeResourcePath(REVOKE_ROUTE).slice(1), base.href.endsWith('/') ? base.href : `${base.href}/`);
}

export interface ReportOptions {
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Tries per batch when the route throttles (429) or is unavailable (503). @default 6 */
  readonly attempts?: number;
}

export class ReportError extends Error {}

/** Entries the revoke route takes per request. */
export const REPORT_BATCH = 100;

/**
 * Sends `credentials` to the revoke route in batches of 100. The route is
 * throttled on purpose (default 1 request/s, burst 5): a 429 or 503 is
 * retried with growing waits. Redirects are refused, so the keys go nowhere
 * but the URL given. Returns the total `received` the route confirmed.
 */
export async function reportKeys(url: URL, credentials: readonly string[], options: ReportOptions = {}): Promise<{ sent: number; received: number }> {
  const send = options.fetch ?? fetch;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const attempts = options.attempts ?? 6;
  let received = 0;
  for (let start = 0; start < credentials.length; start += REPORT_BATCH) {
    const keys = credentials.slice(start, start + REPORT_BATCH);
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await send(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keys }), redirect: 'error' });
      } catch (error) {
        throw new ReportError(`could not reach ${url.href}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`);
      }
      const text = await response.text();
      if (response.status === 202) {
        const count = receivedCount(text);
        if (count === undefined) throw new ReportError(`${url.href} answered 202 without a received count`);
        received += count;
        break;
      }
      if ((response.status === 429 || response.status === 503) && attempt < attempts) {
        await sleep(Math.min(1000 * 2 ** (attempt - 1), 16_000));
        continue;
      }
      // The route's own answers never hold a key; a foreign server's could hold anything, so only the status is shown.
      throw new ReportError(`${url.href} answered ${response.status}; is it a keygate deployment's base URL?`);
    }
  }
  return { sent: credentials.length, received };
}

function receivedCount(text: string): number | undefined {
  try {
    const { received } = JSON.parse(text) as { received?: unknown };
    return typeof received === 'number' ? received : undefined;
  } catch {
    return undefined;
  }
}
