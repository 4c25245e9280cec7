import type { IncomingHttpHeaders } from 'node:http';
// `require`, not `import`: an ES import of node:http builds its namespace, whose WebSocket and
// EventSource getters load undici (20-40 ms of every cold start, measured on Node 24).
import http = require('node:http');
import https = require('node:https');

/**
 * One HTTP exchange, on node:http(s) with keep-alive agents: what the SDK's
 * NodeHttpHandler does, with its two bounded waits. Not `fetch`: measured
 * here, Node's fetch (undici) adds about 0.4 ms to every warm request, loads
 * undici on the first call of a cold start, and without the undici package
 * has neither a per-request connect timeout nor keep-alive past 4 s idle.
 */
export interface HttpTimeouts {
  /** Time allowed to open a new connection; a pooled one needs none. */
  readonly connectionTimeoutMs: number;
  /** Time the socket may stay idle while waiting for the response. */
  readonly requestTimeoutMs: number;
}

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

// Module scope, like the SDK's handler: sockets outlive the invocation and are reused by the next one.
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 50 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 50 }),
};

/** The SDK's name and wording for both timeouts, so logs and retry classification read the same. */
const timeoutError = (message: string) => Object.assign(new Error(message), { name: 'TimeoutError' });

/**
 * A socket error as an Error of this realm, with its name, message and code:
 * under a test runner node:net's errors come from another realm, where
 * `instanceof Error` (which keygate's error classification uses) is false.
 * The SDK wraps them for the same reason.
 */
function thisRealm(error: Error): Error {
  if (error instanceof Error) return error;
  const { name, message, code } = error as Error & { code?: string };
  return Object.assign(new Error(message, { cause: error }), { name, ...(code !== undefined && { code }) });
}

export function postHttp(url: URL, headers: Record<string, string>, body: string, timeouts: HttpTimeouts): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') {
      reject(Object.assign(new Error(`unsupported endpoint protocol ${url.protocol}`), { name: 'ConfigurationError' }));
      return;
    }
    const request = (secure ? https.request : http.request)({
      agent: agents[secure ? 'https:' : 'http:'],
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || undefined,
      method: 'POST',
      path: `${url.pathname}${url.search}`,
      headers,
    });
    let connectTimer: NodeJS.Timeout | undefined;
    const fail = (error: Error) => {
      clearTimeout(connectTimer);
      request.destroy();
      reject(thisRealm(error));
    };
    request.once('socket', (socket) => {
      if (!socket.connecting) return;
      connectTimer = setTimeout(
        () => fail(timeoutError(`Socket timed out without establishing a connection within ${timeouts.connectionTimeoutMs} ms`)),
        timeouts.connectionTimeoutMs,
      );
      socket.once('connect', () => clearTimeout(connectTimer));
    });
    request.setTimeout(timeouts.requestTimeoutMs, () => fail(timeoutError(`Connection timed out after ${timeouts.requestTimeoutMs} ms`)));
    request.once('error', fail);
    request.once('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('error', fail);
      response.once('end', () => {
        clearTimeout(connectTimer);
        resolve({ statusCode: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    request.end(body);
  });
}
