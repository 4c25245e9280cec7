import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

/**
 * Stand-ins for AWS JSON-protocol services (Secrets Manager has no local
 * server): real HTTP on 127.0.0.1 that checks every request's SigV4
 * signature the way AWS does, records what it was asked, and answers what
 * the test says: a result, a service error, a dropped connection, or nothing.
 */

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

export interface SignedRequest {
  readonly method: string;
  /** Path and query as sent. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/**
 * Why the request's SigV4 signature is not what AWS would compute with
 * `secretAccessKey`, or undefined when it is. Written from the SigV4 spec,
 * independently of the signer under test, and checked against AWS's own
 * documented example (test/unit/aws-http-config.test.ts).
 */
export function sigV4Problem(request: SignedRequest, secretAccessKey: string, expected: { service?: string; region?: string } = {}): string | undefined {
  const authorization = String(request.headers.authorization ?? '');
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(authorization);
  if (!match) return `no SigV4 authorization header: '${authorization.slice(0, 40)}'`;
  const [, , date, region, service, signedHeaderList, signature] = match as unknown as string[];
  if (expected.service && service !== expected.service) return `signed for service ${service}, not ${expected.service}`;
  if (expected.region && region !== expected.region) return `signed for region ${region}, not ${expected.region}`;
  const amzDate = String(request.headers['x-amz-date'] ?? '');
  if (!amzDate.startsWith(date!)) return `x-amz-date ${amzDate} is not of the credential date ${date}`;
  const signedHeaders = signedHeaderList!.split(';');
  for (const required of ['host', 'x-amz-date']) if (!signedHeaders.includes(required)) return `${required} is not signed`;
  for (const name of Object.keys(request.headers)) {
    if ((name.startsWith('x-amz-') || name === 'content-type') && !signedHeaders.includes(name)) return `${name} is sent but not signed`;
  }
  const [path = '/', query = ''] = request.url.split('?');
  const canonicalQuery = query
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => pair.split('=').map((part) => encodeURIComponent(decodeURIComponent(part))).join('='))
    .sort()
    .join('&');
  const canonicalHeaders = signedHeaders.map((name) => `${name}:${String(request.headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const payloadHash = sha256Hex(request.body);
  const declaredHash = request.headers['x-amz-content-sha256'];
  if (declaredHash !== undefined && declaredHash !== payloadHash) return 'x-amz-content-sha256 is not the hash of the body';
  const canonicalRequest = [request.method, path, canonicalQuery, canonicalHeaders, signedHeaderList, payloadHash].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date!), region!), service!), 'aws4_request');
  const computed = createHmac('sha256', key).update(stringToSign).digest('hex');
  return computed === signature ? undefined : 'the signature does not match the request';
}

export interface StandInCall {
  /** The operation, from X-Amz-Target. */
  readonly operation: string;
  readonly target: string;
  readonly input: unknown;
  readonly headers: IncomingHttpHeaders;
  /** The caller's port: the same port on two calls means one kept-alive connection. */
  readonly remotePort: number;
  readonly signatureProblem: string | undefined;
}

export type StandInAnswer =
  | { readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string>; readonly delayMs?: number }
  /** Drop the connection without an answer. */
  | 'reset'
  /** Never answer (the caller's request timeout must end it). */
  | 'hang';

/** A service error as AWS JSON protocols send it. */
export function errorAnswer(status: number, type: string, message = 'injected by the test stand-in'): StandInAnswer {
  return { status, body: { __type: `com.amazonaws.standin#${type}`, message }, headers: { 'x-amzn-requestid': `standin-${Date.now()}` } };
}

export class AwsJsonStandIn {
  readonly calls: StandInCall[] = [];
  /** What to answer to each call; `index` counts calls since start or reset. */
  answer: (call: StandInCall, index: number) => StandInAnswer = () => ({ status: 200, body: {} });
  private server: Server | undefined;
  private port = 0;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly secretAccessKey = 'local', private readonly expected: { service?: string; region?: string } = {}) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return `http://127.0.0.1:${this.port}`;
  }

  reset(answer: (call: StandInCall, index: number) => StandInAnswer): void {
    this.calls.length = 0;
    this.answer = answer;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Loopback only, and only for callers that named this server.
    if (req.headers.host !== `127.0.0.1:${this.port}`) {
      res.writeHead(421).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const target = String(req.headers['x-amz-target'] ?? '');
    let input: unknown;
    try {
      input = JSON.parse(body);
    } catch {
      input = body;
    }
    const call: StandInCall = {
      operation: target.split('.').pop() ?? '',
      target,
      input,
      headers: req.headers,
      remotePort: req.socket.remotePort ?? 0,
      signatureProblem: sigV4Problem({ method: req.method ?? '', url: req.url ?? '/', headers: req.headers, body }, this.secretAccessKey, this.expected),
    };
    this.calls.push(call);
    const answer = call.signatureProblem
      ? errorAnswer(403, 'InvalidSignatureException', call.signatureProblem)
      : this.answer(call, this.calls.length - 1);
    if (answer === 'reset') {
      req.socket.destroy();
      return;
    }
    if (answer === 'hang') return;
    if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    const payload = answer.body === undefined ? '' : JSON.stringify(answer.body);
    res.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(payload), ...answer.headers });
    res.end(payload);
  }
}

/** Secrets Manager's answer to a GetSecretValue of `secretId` holding `value`, and its error for any other id. */
export function secretValueAnswer(secretId: string, value: { SecretString?: string; SecretBinary?: Uint8Array }): (call: StandInCall) => StandInAnswer {
  return (call) => {
    const input = call.input as { SecretId?: unknown };
    if (call.target !== 'secretsmanager.GetSecretValue') return errorAnswer(400, 'UnknownOperationException', `unknown operation ${call.target}`);
    if (input.SecretId !== secretId) return errorAnswer(400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    const body: Record<string, unknown> = { ARN: secretId, Name: 'keygate-pepper', VersionId: 'v1', VersionStages: ['AWSCURRENT'], CreatedDate: 1.7e9 };
    if (value.SecretString !== undefined) body.SecretString = value.SecretString;
    if (value.SecretBinary !== undefined) body.SecretBinary = Buffer.from(value.SecretBinary).toString('base64');
    return { status: 200, body };
  };
}

/**
 * A port on 127.0.0.1 where new connections never complete: a listener in a
 * child process whose event loop is blocked, its accept queue filled by two
 * held connections. A connect there waits until the caller's connect timeout.
 */
export async function unconnectablePort(): Promise<{ readonly port: number; stop(): void }> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '-e',
      "const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{process.stdout.write(s.address().port+'\\n');setTimeout(()=>Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0),20)})",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = Number(await new Promise<string>((resolve) => child.stdout!.once('data', (data: Buffer) => resolve(String(data).trim()))));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const held: Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const socket = connect(port, '127.0.0.1');
    held.push(socket);
    await new Promise((resolve) => socket.once('connect', resolve));
  }
  return {
    port,
    stop() {
      for (const socket of held) socket.destroy();
      child.kill('SIGKILL');
    },
  };
}
