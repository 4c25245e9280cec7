import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * What keeps a loopback-only server to this machine's own programs. Listening
 * on 127.0.0.1 keeps other hosts out, but not web pages: a page on any site
 * can send a request to 127.0.0.1, and with DNS rebinding read the answer.
 * A rebound request carries the page's own host name in `Host`, and a
 * browser's cross-site request carries `Origin`.
 */
export const LOOPBACK_HOST = '127.0.0.1';

/** `127.0.0.1`, `localhost` or `[::1]`, with or without a port. */
const LOOPBACK_HOST_HEADER = /^(?:127\.0\.0\.1|localhost|\[::1\])(?::\d{1,5})?$/i;

/** Whether a `Host` header names this machine's loopback. */
export function isLoopbackHost(host: string | undefined): boolean {
  return host !== undefined && LOOPBACK_HOST_HEADER.test(host);
}

/** Why the request must be refused (a foreign `Host`, or any `Origin`), or undefined when it may proceed. */
export function foreignRequestProblem(req: IncomingMessage, options: { readonly refuseOrigin: boolean }): string | undefined {
  if (!isLoopbackHost(req.headers.host)) return 'the Host header must name 127.0.0.1, localhost or [::1]';
  if (options.refuseOrigin && req.headers.origin !== undefined) return 'requests from web pages (with an Origin header) are refused';
  return undefined;
}

/** Whether a presented secret is the expected one. Compares digests, so the time taken says nothing about the secret, its length included. */
export function sameSecret(presented: string | undefined, secret: string): boolean {
  if (presented === undefined) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(secret));
}

/** A request's body, or undefined once it passes `maxBytes` (reading stops there): every local server caps what it buffers. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
