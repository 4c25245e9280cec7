import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { crc32 } from 'node:zlib';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { eventually } from '../support/eventually';
import { scanAll } from '../support/dynamodb';

/**
 * Helpers shared by the reliability suite: building and mutating credential
 * values, capturing what the functions log, and finding key material in text.
 */

export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** CRC32 checksum in fixed-width base62, computed here independently of functions/core/token-format.ts. */
export function checksum62(body: string): string {
  let value = crc32(body);
  let out = '';
  for (let i = 0; i < 6; i++) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/** The 43-character secret part of `<prefix>_<secret><checksum>`. */
export function secretOf(token: string): string {
  const body = token.slice(token.indexOf('_') + 1);
  return body.slice(0, 43);
}

/** One character changed at `index` (mod length) to `replacement`; returns the value unchanged only if it was empty. */
export function changeChar(value: string, index: number, replacement: string): string {
  if (value.length === 0) return replacement;
  const at = index % value.length;
  const next = value[at] === replacement ? (replacement === 'A' ? 'B' : 'A') : replacement;
  return value.slice(0, at) + next + value.slice(at + 1);
}

export function insertChar(value: string, index: number, inserted: string): string {
  const at = index % (value.length + 1);
  return value.slice(0, at) + inserted + value.slice(at);
}

export function deleteChar(value: string, index: number): string {
  if (value.length === 0) return value;
  const at = index % value.length;
  return value.slice(0, at) + value.slice(at + 1);
}

/** Everything written to stdout/stderr while `capture` is on (Powertools Logger writes JSON lines to process.stdout). */
export class OutputCapture {
  private chunks: string[] = [];
  private restore: (() => void) | undefined;

  start(): void {
    if (this.restore) return;
    const stdoutWrite = process.stdout.write.bind(process.stdout);
    const stderrWrite = process.stderr.write.bind(process.stderr);
    const grab =
      (): typeof process.stdout.write =>
      (chunk: unknown, ...rest: unknown[]) => {
        this.chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
        const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
        callback?.();
        return true;
      };
    process.stdout.write = grab();
    process.stderr.write = grab();
    this.restore = () => {
      process.stdout.write = stdoutWrite;
      process.stderr.write = stderrWrite;
    };
  }

  stop(): void {
    this.restore?.();
    this.restore = undefined;
  }

  text(): string {
    return this.chunks.join('');
  }

  /** Parsed JSON log lines (non-JSON lines are kept as `{ raw }`). */
  lines(): Record<string, unknown>[] {
    return this.text()
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          return { raw: line };
        }
      });
  }

  clear(): void {
    this.chunks = [];
  }
}

/**
 * Where in `haystack` any of the secrets (whole tokens and their 43-char
 * secret parts) occur. Returns descriptions that never include the secret.
 */
export function findSecrets(haystack: string, tokens: readonly string[]): string[] {
  const found: string[] = [];
  tokens.forEach((token, index) => {
    if (haystack.includes(token)) found.push(`token #${index} (whole)`);
    else if (haystack.includes(secretOf(token))) found.push(`token #${index} (secret part)`);
  });
  return found;
}

/** Runs `tasks` with at most `limit` in flight. */
export async function inBatches<T>(count: number, limit: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      results[index] = await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return results;
}

/** The authorizer records lastUsedAt after answering: wait for it, so it does not land between two snapshots. */
export async function lastUsedRecorded(client: DynamoDBClient, keysTable: string, app: string): Promise<void> {
  await eventually(async () =>
    (await scanAll(client, keysTable)).some((item) => item.appUid === app && String(item.pk).startsWith('hash#') && item.lastUsedAt !== undefined) || undefined,
  );
}

/** The error `promise` rejects with, or undefined when it resolves. */
export function failure(promise: Promise<unknown>): Promise<(Error & { retryable?: boolean }) | undefined> {
  return promise.then(
    () => undefined,
    (error: unknown) => error as Error & { retryable?: boolean },
  );
}

/**
 * Runs `change` while requests keep starting, each remembering whether
 * `change` had already returned when it started; stops after `afterCount`
 * requests started after it (or `maxRequests` in all). The race tests check
 * that no request started after the change returned is let in.
 */
export async function requestsAround<T>(
  change: () => Promise<T>,
  request: () => Promise<number>,
  options: { maxRequests: number; afterCount: number },
): Promise<{ result: T; inFlight: number[]; startedAfter: number[] }> {
  let returned = false;
  const changing = change().then((result) => {
    returned = true;
    return result;
  });
  const requests: Promise<{ startedAfter: boolean; status: number }>[] = [];
  let startedAfter = 0;
  while (requests.length < options.maxRequests && startedAfter < options.afterCount) {
    const after = returned;
    if (after) startedAfter++;
    requests.push(request().then((status) => ({ startedAfter: after, status })));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const result = await changing;
  const done = await Promise.all(requests);
  return { result, inFlight: done.filter((r) => !r.startedAfter).map((r) => r.status), startedAfter: done.filter((r) => r.startedAfter).map((r) => r.status) };
}

/** What the fault proxy does with each DynamoDB request. */
export type ProxyMode =
  | { readonly kind: 'pass' }
  /**
   * Answers as DynamoDB does when throttling; `operations` limits it to some X-Amz-Target operations,
   * `skip` lets the first N matching requests through, `times` faults only the next N after that.
   */
  | { readonly kind: 'throttle'; readonly error: 'ProvisionedThroughputExceededException' | 'ThrottlingException'; readonly operations?: readonly string[]; times?: number; skip?: number }
  /** Answers a TransactWriteItems as cancelled, one reason per item (e.g. `TransactionConflict`: another transaction had the item); `times` as above. */
  | { readonly kind: 'cancel'; readonly reasons: readonly string[]; times?: number }
  /** Answers every matching request with this DynamoDB error and HTTP status, e.g. AccessDeniedException 400 or InternalServerError 500. */
  | { readonly kind: 'refuse'; readonly error: string; readonly status: number; readonly operations?: readonly string[] }
  /** Accepts the connection and drops it without an answer (connection reset). */
  | { readonly kind: 'reset' }
  /** Reads the request and never answers, keeping the connection open: a DynamoDB that hangs. */
  | { readonly kind: 'silent' };

/**
 * A small HTTP proxy in front of DynamoDB Local on 127.0.0.1 that injects
 * faults: real HTTP answers and real dropped connections, seen by the real
 * SDK client of the handler under test.
 */
export class FaultProxy {
  mode: ProxyMode = { kind: 'pass' };
  readonly seen: Record<string, number> = {};
  readonly faulted: Record<string, number> = {};
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly target: string) {}

  async start(): Promise<string> {
    const upstream = new URL(this.target);
    this.server = createServer((req, res) => this.handle(req, res, upstream));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse, upstream: URL): void {
    const operation = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
    this.seen[operation] = (this.seen[operation] ?? 0) + 1;
    const mode = this.mode;
    if (mode.kind === 'reset') {
      this.faulted[operation] = (this.faulted[operation] ?? 0) + 1;
      req.socket.destroy();
      return;
    }
    if (mode.kind === 'silent') {
      this.faulted[operation] = (this.faulted[operation] ?? 0) + 1;
      req.resume();
      return;
    }
    const operations = mode.kind === 'cancel' ? ['TransactWriteItems'] : mode.kind === 'throttle' || mode.kind === 'refuse' ? mode.operations : undefined;
    if ((mode.kind === 'throttle' || mode.kind === 'cancel' || mode.kind === 'refuse') && (!operations || operations.includes(operation))) {
      if (mode.kind === 'throttle' && mode.skip) mode.skip--;
      else if (mode.kind === 'refuse' || mode.times === undefined || mode.times > 0) {
        if (mode.kind !== 'refuse' && mode.times !== undefined) mode.times--;
        this.faulted[operation] = (this.faulted[operation] ?? 0) + 1;
        req.resume();
        const body =
          mode.kind === 'cancel'
            ? {
                __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
                message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${mode.reasons.join(', ')}]`,
                CancellationReasons: mode.reasons.map((Code) => ({ Code })),
              }
            : { __type: `com.amazonaws.dynamodb.v20120810#${mode.error}`, message: 'injected by the test fault proxy' };
        res.writeHead(mode.kind === 'refuse' ? mode.status : 400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': `fault-${Date.now()}` });
        res.end(JSON.stringify(body));
        return;
      }
    }
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (upstreamResponse) => {
        res.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
        upstreamResponse.pipe(res);
      },
    );
    forward.on('error', () => req.socket.destroy());
    req.pipe(forward);
  }
}

export type ColdStartHandlers = {
  apiKeyAuthorizer: typeof import('../../functions/api-key-authorizer/index').handler;
  sessionAuthorizer: typeof import('../../functions/session-authorizer/index').handler;
  createKey: typeof import('../../functions/create-key/index').handler;
  listKeys: typeof import('../../functions/list-keys/index').handler;
  deleteKey: typeof import('../../functions/delete-key/index').handler;
  rollKey: typeof import('../../functions/roll-key/index').handler;
  updateKey: typeof import('../../functions/update-key/index').handler;
  listKeyEvents: typeof import('../../functions/list-key-events/index').handler;
  revokeKeys: typeof import('../../functions/revoke-keys/index').handler;
  sdkUsersAuth: typeof import('../../functions/sdkusers-auth/index').handler;
  revokeSessions: typeof import('../../functions/revoke-sessions/index').handler;
  deleteUser: typeof import('../../functions/delete-user/index').handler;
  /** The init those modules started (the pepper read), as the bundle awaits it before serving. */
  initialized: typeof import('../../functions/lambda/init').initialized;
};

/**
 * A cold start: fresh module instances of the handlers, which build their
 * clients and pepper cache from the environment as it is now, and start
 * reading the pepper (await `initialized()` for the end of that init). Each
 * fault test points the environment at its fault first.
 */
export function coldStartHandlers(): ColdStartHandlers {
  let handlers: ColdStartHandlers | undefined;
  jest.isolateModules(() => {
    handlers = {
      apiKeyAuthorizer: require('../../functions/api-key-authorizer/index').handler,
      sessionAuthorizer: require('../../functions/session-authorizer/index').handler,
      createKey: require('../../functions/create-key/index').handler,
      listKeys: require('../../functions/list-keys/index').handler,
      deleteKey: require('../../functions/delete-key/index').handler,
      rollKey: require('../../functions/roll-key/index').handler,
      updateKey: require('../../functions/update-key/index').handler,
      listKeyEvents: require('../../functions/list-key-events/index').handler,
      revokeKeys: require('../../functions/revoke-keys/index').handler,
      sdkUsersAuth: require('../../functions/sdkusers-auth/index').handler,
      revokeSessions: require('../../functions/revoke-sessions/index').handler,
      deleteUser: require('../../functions/delete-user/index').handler,
      initialized: require('../../functions/lambda/init').initialized,
    };
  });
  return handlers!;
}
