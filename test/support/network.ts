import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

/**
 * What a port is reachable on, seen from outside the server: the addresses
 * of this machine other than loopback, whether a TCP connection to one of
 * them succeeds, and which local addresses the kernel says listen on a port.
 */

/** This machine's IPv4 and global IPv6 addresses other than loopback (link-local IPv6 needs a scope, so it is left out). */
export function nonLoopbackAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((address) => address !== undefined && !address.internal && !(address.family === 'IPv6' && address.address.startsWith('fe80:')))
    .map((address) => address!.address);
}

/** 'connected', or the error code of a connection attempt to host:port ('ETIMEDOUT' after `timeoutMs`). */
export function tryConnect(host: string, port: number, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (outcome: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done('ETIMEDOUT'), timeoutMs);
    socket.once('connect', () => done('connected'));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
  });
}

/** An address of /proc/net/tcp{,6}: hex, each 32-bit word in host (little-endian) byte order. */
function procAddress(hex: string): string {
  const words = hex.match(/.{8}/g)!.map((word) => word.match(/../g)!.reverse().join(''));
  const bytes = words.join('').match(/../g)!.map((byte) => parseInt(byte, 16));
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.every((byte) => byte === 0)) return '::';
  if (bytes.slice(0, 15).every((byte) => byte === 0) && bytes[15] === 1) return '::1';
  if (bytes.slice(0, 10).every((byte) => byte === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return `::ffff:${bytes.slice(12).join('.')}`;
  return words.map((word) => word.match(/.{4}/g)!.join(':')).join(':');
}

/** The local addresses the kernel lists as LISTENing on TCP `port` (Linux /proc/net/tcp and tcp6). */
export function listeningAddresses(port: number): string[] {
  const found: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.trim().split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      const [address, portHex] = local!.split(':');
      if (state === '0A' && parseInt(portHex!, 16) === port) found.push(procAddress(address!));
    }
  }
  return found;
}

export const LOOPBACK_ADDRESSES = ['127.0.0.1', '::ffff:127.0.0.1', '::1'];

/**
 * Asserts that the server at `endpoint` (http://127.0.0.1:<port>) answers on
 * loopback (`answers`), that a connection to each other address of this
 * machine is refused, and that the kernel lists only loopback addresses as
 * listening on its port.
 */
export async function expectLoopbackOnly(endpoint: string, answers: (endpoint: string) => Promise<boolean>): Promise<void> {
  const port = Number(new URL(endpoint).port);
  expect(await answers(endpoint)).toBe(true);
  for (const address of nonLoopbackAddresses()) expect([address, await tryConnect(address, port)]).toEqual([address, 'ECONNREFUSED']);
  const listening = listeningAddresses(port);
  expect(listening.length).toBeGreaterThan(0);
  for (const address of listening) expect(LOOPBACK_ADDRESSES).toContain(address);
}

/** DynamoDB answers a ListTables (any signature will do: DynamoDB Local checks none). */
export async function answersDynamoDb(endpoint: string): Promise<boolean> {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
  try {
    await client.send(new ListTablesCommand({}));
    return true;
  } finally {
    client.destroy();
  }
}

/** Any HTTP answer at all. */
export async function answersHttp(endpoint: string): Promise<boolean> {
  await fetch(endpoint);
  return true;
}
