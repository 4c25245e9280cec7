import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { containsCredential } from '../../../functions/domain/credential-format';
import { AdminClientError, AdminFunctionError, isKnownApp, type AdminClient, type AdminFunction } from '../admin-client';
import { readBody, sameSecret } from '../../local/loopback';

/**
 * `keygate console`: the "API key management" page, served on loopback to the
 * operator's own browser. The browser never holds AWS credentials: it calls
 * this server, which invokes the admin functions through `AdminClient` (the
 * CLI's code path).
 *
 * A local page that can mint keys is a target, hence:
 * - loopback only, and a `Host` that is not this address and port is refused
 *   (DNS rebinding);
 * - the printed URL carries a one-time token (256 bits), exchanged for an
 *   HttpOnly, SameSite=Strict cookie; without that cookie every route is 401;
 * - a request whose `Origin` is not this console, or a state-changing one
 *   without `Origin`, is refused (CSRF; SameSite does not separate ports, so
 *   another local server's page is "same site");
 * - a strict CSP (no inline script), no-referrer and no-store everywhere.
 */
export interface ConsoleOptions {
  readonly admin: AdminClient;
  /** Port on 127.0.0.1; 0 picks a free one. @default 3002 */
  readonly port?: number;
  /** Page to open first, e.g. `/apps/demo/keys`. @default '/' */
  readonly startPath?: string;
  /** One line per request (method, path without query, status); never bodies. */
  readonly log?: (line: string) => void;
}

export interface ConsoleServer {
  /** The one-time URL to open (carries the token). */
  readonly url: string;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  close(): Promise<void>;
}

export const DEFAULT_CONSOLE_PORT = 3002;
export const CONSOLE_HOST = '127.0.0.1';
export const SESSION_COOKIE = 'keygate_console';
/** The page's plain files, next to this module: in the sources, and copied into dist/ by the build (lib/build/console-assets.ts). */
export const STATIC_DIR = path.join(__dirname, 'static');

const MAX_BODY_BYTES = 16 * 1024;
const PAGE_SIZE_LIMIT = 100;

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  '/static/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/static/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
  '/static/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

/** HTTP status for an admin function's errorType. */
function statusFor(error: AdminClientError): number {
  if (!(error instanceof AdminFunctionError)) return 502;
  switch (error.errorType) {
    case 'ValidationError':
      return 400;
    case 'KeyNotFound':
    case 'AppNotFound':
      return 404;
    case 'StoreUnavailable':
    case 'PepperUnavailable':
      return 503;
    default:
      return 502;
  }
}

class BadRequest extends Error {}

/** A first key for an app nobody confirmed is new: the page asks first (the CLI's --new-app). */
class UnconfirmedNewApp extends AdminFunctionError {
  constructor(appUid: string) {
    super('AppNotFound', `app ${appUid} has no keys yet: check the app id for a typo, or confirm it is a new app to create its first key`);
  }
}

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = await readBody(req, MAX_BODY_BYTES);
  if (!raw) throw new BadRequest('request body is too large');
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new BadRequest('request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest('request body must be a JSON object');
  return body as Record<string, unknown>;
}

/**
 * True when a URL path holds a well-formed key or session token, as typed or
 * %-encoded: no app id or key id does (the admin functions refuse one), so it
 * is a key pasted into the wrong field, and it must not reach the log, the
 * page or the recent apps.
 */
function pathHoldsCredential(pathname: string): boolean {
  if (containsCredential(pathname)) return true;
  try {
    return containsCredential(decodeURIComponent(pathname));
  } catch {
    return false;
  }
}

/** A request's path for the log: never the query (the one-time token), never a key. */
function loggedPath(url: string | undefined): string {
  const pathname = (url ?? '/').split('?')[0]!;
  return pathHoldsCredential(pathname) ? '<a path holding a key or token>' : pathname;
}

/** An app's key list page, `/apps/<appUid>/keys`. */
const APP_PAGE = /^\/apps\/([^/]+)\/keys$/;

interface ApiRoute {
  readonly method: string;
  /** Path pattern; its groups are the route's parameters, in `params` order. */
  readonly pattern: RegExp;
  readonly params: readonly string[];
  readonly fn: AdminFunction;
  /** Builds the admin function's input from the path parameters, the query and the JSON body (changes only). */
  readonly input: (params: Record<string, string>, query: URLSearchParams, body: Record<string, unknown>) => Record<string, unknown>;
  /** A change: its input carries `requestedBy` and its request needs a JSON body. */
  readonly changes?: boolean;
  readonly status?: number;
  /** Refuses a request before the function is called (throws). */
  readonly check?: (admin: AdminClient, params: Record<string, string>, body: Record<string, unknown>) => Promise<void>;
}

/** `limit` (default 20, at most 100) and `nextToken` from the query; the admin function validates both. */
function paging(query: URLSearchParams): Record<string, unknown> {
  const limit = query.get('limit');
  const nextToken = query.get('nextToken');
  return { limit: limit === null ? 20 : Math.min(Number(limit), PAGE_SIZE_LIMIT), ...(nextToken ? { nextToken } : {}) };
}

/**
 * The console's API: one route per admin function. Bodies go to the function
 * as they are, so it validates them and names a wrong field; the path's app
 * and key win over any in the body.
 */
const API_ROUTES: readonly ApiRoute[] = [
  { method: 'GET', pattern: /^\/api\/apps$/, params: [], fn: 'listApps', input: (_p, q) => paging(q) },
  { method: 'GET', pattern: /^\/api\/apps\/([^/]+)$/, params: ['appUid'], fn: 'getApp', input: (p) => ({ appUid: p.appUid }) },
  { method: 'GET', pattern: /^\/api\/apps\/([^/]+)\/keys$/, params: ['appUid'], fn: 'listKeys', input: (p, q) => ({ appUid: p.appUid, ...paging(q) }) },
  {
    method: 'POST',
    pattern: /^\/api\/apps\/([^/]+)\/keys$/,
    params: ['appUid'],
    fn: 'createKey',
    // `newApp` is the page's confirmation, not create-key's: it stays here.
    input: (p, _q, { newApp: _confirmed, ...b }) => ({ ...b, appUid: p.appUid }),
    check: async (admin, p, b) => {
      if (b.newApp !== true && !(await isKnownApp(admin, p.appUid!))) throw new UnconfirmedNewApp(p.appUid!);
    },
    changes: true,
    status: 201,
  },
  { method: 'DELETE', pattern: /^\/api\/apps\/([^/]+)\/keys\/([^/]+)$/, params: ['appUid', 'keyId'], fn: 'deleteKey', input: (p) => ({ appUid: p.appUid, keyId: p.keyId }), changes: true },
  { method: 'PATCH', pattern: /^\/api\/apps\/([^/]+)\/keys\/([^/]+)$/, params: ['appUid', 'keyId'], fn: 'updateKey', input: (p, _q, b) => ({ ...b, appUid: p.appUid, keyId: p.keyId }), changes: true },
  { method: 'POST', pattern: /^\/api\/apps\/([^/]+)\/keys\/([^/]+)\/roll$/, params: ['appUid', 'keyId'], fn: 'rollKey', input: (p, _q, b) => ({ ...b, appUid: p.appUid, keyId: p.keyId }), changes: true, status: 201 },
  {
    method: 'GET',
    pattern: /^\/api\/apps\/([^/]+)\/events$/,
    params: ['appUid'],
    fn: 'listKeyEvents',
    input: (p, q) => ({ appUid: p.appUid, ...(q.get('keyId') ? { keyId: q.get('keyId') } : {}), ...paging(q) }),
  },
];

export async function startConsole(options: ConsoleOptions): Promise<ConsoleServer> {
  const log = options.log ?? (() => undefined);
  const admin = options.admin;
  // One token, one browser session: the token works once, the cookie is what the browser keeps.
  let oneTimeToken: string | undefined = randomBytes(32).toString('base64url');
  const firstUrlToken = oneTimeToken;
  let sessionSecret: string | undefined;
  const page = readFileSync(path.join(STATIC_DIR, 'index.html'));
  const assets = new Map(Object.entries(ASSETS).map(([route, asset]) => [route, { body: readFileSync(path.join(STATIC_DIR, asset.file)), type: asset.type }]));

  let origin = '';
  let host = '';

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const send = (status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}) => {
      res.statusCode = status;
      for (const [name, value] of Object.entries({ ...SECURITY_HEADERS, 'Content-Type': type, ...extra })) res.setHeader(name, value);
      res.end(body);
      return status;
    };
    const text = (status: number, message: string) => send(status, 'text/plain; charset=utf-8', `keygate console: ${message}\n`);
    const json = (status: number, value: unknown) => send(status, 'application/json; charset=utf-8', JSON.stringify(value));

    // DNS rebinding: a page on evil.example resolving to 127.0.0.1 still sends its own Host.
    if (req.headers.host !== host) return text(421, 'refused: this console answers only to its own address');
    const url = new URL(req.url ?? '/', origin);
    if (pathHoldsCredential(url.pathname)) {
      const message = 'refused: the address holds an API key or session token, which no app id or key id does; open the app by its id';
      return url.pathname.startsWith('/api/') ? json(400, { errorType: 'ValidationError', message }) : text(400, message);
    }
    const method = req.method ?? 'GET';
    const safe = method === 'GET' || method === 'HEAD';
    // CSRF: browsers send Origin on every cross-origin request and on same-origin state-changing ones.
    const requestOrigin = req.headers.origin;
    if (requestOrigin !== undefined ? requestOrigin !== origin : !safe) return text(403, 'refused: the request does not come from this console');

    const signedIn = sessionSecret !== undefined && sameSecret(cookieValue(req, SESSION_COOKIE), sessionSecret);
    const token = url.searchParams.get('token');
    if (token !== null && safe) {
      url.searchParams.delete('token');
      // Drop the token from the address bar and history.
      const location = { Location: `${url.pathname}${url.search}` };
      if (signedIn) return send(303, 'text/plain; charset=utf-8', '', location);
      if (oneTimeToken === undefined || !sameSecret(token, oneTimeToken)) return text(401, 'this link is not valid (it works once); restart `keygate console` for a new one');
      oneTimeToken = undefined;
      sessionSecret = randomBytes(32).toString('base64url');
      // Host-only, gone when the browser closes; HttpOnly: no script on the page can read it.
      return send(303, 'text/plain; charset=utf-8', '', { ...location, 'Set-Cookie': `${SESSION_COOKIE}=${sessionSecret}; HttpOnly; SameSite=Strict; Path=/` });
    }
    if (!signedIn) return text(401, 'open the one-time link `keygate console` printed (restart it for a new one)');

    const pathname = url.pathname;
    if (safe && (pathname === '/' || APP_PAGE.test(pathname))) return send(200, 'text/html; charset=utf-8', page);
    const asset = safe ? assets.get(pathname) : undefined;
    if (asset) return send(200, asset.type, asset.body);
    if (!pathname.startsWith('/api/')) return text(404, 'not found');

    // API: same-origin fetches only (Sec-Fetch-Site, where the browser sends it, says so).
    const fetchSite = req.headers['sec-fetch-site'];
    if (fetchSite !== undefined && fetchSite !== 'same-origin') return text(403, 'refused: the request does not come from this console');
    const refusal = (error: AdminClientError) => {
      const errorType = error instanceof AdminFunctionError ? error.errorType : error.name;
      log(`${method} ${loggedPath(pathname)}: ${errorType}`);
      return json(statusFor(error), { errorType, message: error.message });
    };
    if (pathname === '/api/info' && safe) {
      // Which admin functions the target has: the page offers only what it can do.
      try {
        return json(200, { target: admin.target, functions: await admin.available() });
      } catch (error) {
        if (!(error instanceof AdminClientError)) throw error;
        return json(200, { target: admin.target, functions: [], problem: error.message });
      }
    }
    for (const route of API_ROUTES) {
      const match = route.method === method ? route.pattern.exec(pathname) : null;
      if (!match) continue;
      try {
        const params = Object.fromEntries(route.params.map((name, index) => [name, decodeURIComponent(match[index + 1]!)]));
        const body = route.changes && method !== 'DELETE' ? await jsonBody(req) : {};
        await route.check?.(admin, params, body);
        const input = route.input(params, url.searchParams, body);
        // Who asked, for the activity log: the operator as the CLI would name them (self-declared).
        if (route.changes) input.requestedBy = await admin.requester();
        return json(route.status ?? 200, await admin.invoke(route.fn, input));
      } catch (error) {
        if (error instanceof BadRequest || error instanceof URIError) return json(400, { errorType: 'ValidationError', message: error.message });
        if (error instanceof AdminClientError) return refusal(error);
        throw error;
      }
    }
    return json(404, { errorType: 'NotFound', message: `${method} ${pathname} is not a console API` });
  };

  const server: Server = createServer((req, res) => {
    const started = Date.now();
    handle(req, res).then(
      (status) => log(`${req.method} ${loggedPath(req.url)} ${status} ${Date.now() - started}ms`),
      (error: unknown) => {
        log(`${req.method} ${loggedPath(req.url)}: console error: ${error instanceof Error ? error.message : String(error)}`);
        if (res.headersSent) {
          res.destroy();
          return;
        }
        res.statusCode = 500;
        for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
        res.setHeader('Content-Type', 'application/json; charset=utf-8');
        res.end(JSON.stringify({ errorType: 'ConsoleError', message: 'the console failed; see its terminal' }));
      },
    );
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new Error(`port ${options.port ?? DEFAULT_CONSOLE_PORT} is in use; pass --port <n> (0 picks a free one)`) : error);
    server.once('error', onError);
    server.listen(options.port ?? DEFAULT_CONSOLE_PORT, CONSOLE_HOST, () => {
      server.removeListener('error', onError);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  host = `${CONSOLE_HOST}:${port}`;
  origin = `http://${host}`;
  const startPath = options.startPath ?? '/';

  return {
    url: `${origin}${startPath}?token=${firstUrlToken}`,
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
